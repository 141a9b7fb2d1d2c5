"""Checkpoint files: official naming, atomic save, clear errors for damaged files."""

import pytest
import torch

from omnimotion.io.checkpoint import (OFFICIAL_KEYS, CorruptCheckpointError, checkpoint_path, checkpoint_step,
                                      latest_checkpoint, load_checkpoint, save_checkpoint)


def _state(value=1.0):
    state = {key: {"w": torch.tensor([value])} for key in OFFICIAL_KEYS}
    state["num_imgs"] = 5
    return state


def test_naming_and_latest_by_step(tmp_path):
    assert checkpoint_path(tmp_path, 1234).name == "model_001234.pth"
    assert checkpoint_step(tmp_path / "model_020000.pth") == 20000
    with pytest.raises(ValueError, match="model_<step>.pth"):
        checkpoint_step("weights.pth")
    assert latest_checkpoint(tmp_path / "nothing") is None
    for step in (9, 1000000, 20000):  # 7 digits sorts before 6 by name; the step decides
        save_checkpoint(checkpoint_path(tmp_path, step), _state(step))
    (tmp_path / "notes.pth").write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "model_1000000.pth"


def test_save_load_round_trip_and_required_keys(tmp_path):
    path = save_checkpoint(checkpoint_path(tmp_path, 3), _state(2.5))
    assert load_checkpoint(path)["color_mlp"]["w"].item() == 2.5
    assert [p.name for p in tmp_path.iterdir()] == ["model_000003.pth"]  # no temporary file left
    with pytest.raises(ValueError, match="num_imgs"):
        save_checkpoint(tmp_path / "x.pth", {k: {} for k in OFFICIAL_KEYS if k != "num_imgs"})
    torch.save({"deform_mlp": {}}, tmp_path / "partial.pth")
    with pytest.raises(CorruptCheckpointError, match=r"partial\.pth lacks \['feature_mlp', 'color_mlp'\]"):
        load_checkpoint(tmp_path / "partial.pth")


def test_damaged_or_missing_file_is_reported(tmp_path):
    path = save_checkpoint(checkpoint_path(tmp_path, 1), _state())
    path.write_bytes(path.read_bytes()[:100])  # truncated, e.g. a copy interrupted half-way
    with pytest.raises(CorruptCheckpointError, match="model_000001.pth is unreadable"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="omnimotion train"):
        load_checkpoint(tmp_path / "model_000002.pth")
