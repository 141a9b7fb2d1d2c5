"""RAFT backend: clear errors without torchvision or weights; both key layouts and both variants; real loading
with random weights and with the authors' RAFT-small file where torchvision is present."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from omnimotion.cli.main import main
from omnimotion.flow import FlowBackendError, get_backend
from omnimotion.flow.raft import RaftFlow, is_small_raft, torchvision_state_dict

MODELS = Path("/work/shared/models")
HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None
needs_torchvision = pytest.mark.skipif(not HAS_TORCHVISION, reason="torchvision is not installed (the raft extra)")
needs_raft_small = pytest.mark.skipif(not (MODELS / "raft-small.pth").exists(),
                                      reason=f"the authors' RAFT-small weights are not in {MODELS}")


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


def _pretend_torchvision(monkeypatch, present: bool):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "torchvision":
            return real_find_spec("torch") if present else None
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_missing_weights_says_how_to_get_them(empty_torch_home, monkeypatch):
    _pretend_torchvision(monkeypatch, present=True)  # checked first
    with pytest.raises(FlowBackendError) as info:
        get_backend("raft")
    message = str(info.value)
    assert "no RAFT weights found" in message and str(empty_torch_home / "hub" / "checkpoints") in message
    assert 'pip install "omnimotion[raft]"' in message and "--raft_weights" in message
    assert "Raft_Large_Weights" in message


def test_missing_weights_file_is_named(tmp_path, monkeypatch):
    _pretend_torchvision(monkeypatch, present=True)  # checked first
    with pytest.raises(FlowBackendError, match=r"RAFT weights file .*nope\.pth does not exist"):
        get_backend("raft", weights=tmp_path / "nope.pth", small=True)


def test_cached_weights_are_found(empty_torch_home, monkeypatch):
    _pretend_torchvision(monkeypatch, present=True)  # found before anything is built
    checkpoints = empty_torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "raft_small_C_T_V2-01064c6d.pth").write_bytes(b"")
    assert RaftFlow(small=True).weights.name == "raft_small_C_T_V2-01064c6d.pth"
    with pytest.raises(FlowBackendError, match="no RAFT weights found"):
        RaftFlow(small=False)


def test_missing_torchvision_is_explained_before_anything_is_written(tmp_path, monkeypatch, capsys):
    _pretend_torchvision(monkeypatch, present=False)
    weights = tmp_path / "w.pth"
    torch.save({"fnet.conv1.weight": torch.zeros(1)}, weights)
    with pytest.raises(FlowBackendError, match=r'needs torchvision.*pip install "omnimotion\[raft\]"'):
        get_backend("raft", weights=weights)
    frames = tmp_path / "frames"
    frames.mkdir()
    commands = {"prepared": ["prepare", str(frames), "--out"], "ran": ["run", str(frames), "--out"],
                "evaluated": ["eval", "--dataset", "synthetic:1,frames=4,size=32", "--method", "chain", "--out"],
                "batched": ["batch", str(frames), "--out"]}
    for out, command in commands.items():
        assert main([*command, str(tmp_path / out), "--flow", "raft", "--raft_weights", str(weights),
                     "--raft_variant", "small"]) == 1
        err = capsys.readouterr().err
        assert "needs torchvision" in err and "omnimotion[raft]" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / out).exists()


def test_authors_keys_are_renamed_to_torchvision_keys():
    value = torch.zeros(1)
    large = {f"module.{key}": value for key in (
        "fnet.conv1.weight", "fnet.conv2.bias", "fnet.layer2.0.conv1.weight", "fnet.layer2.0.norm3.weight",
        "fnet.layer2.0.downsample.1.weight", "cnet.norm1.running_mean", "cnet.layer1.1.norm2.bias",
        "update_block.encoder.convc2.weight", "update_block.encoder.conv.bias", "update_block.gru.convq2.bias",
        "update_block.flow_head.conv1.weight", "update_block.mask.0.weight", "update_block.mask.2.bias")}
    assert list(torchvision_state_dict(large)) == [
        "feature_encoder.convnormrelu.0.weight", "feature_encoder.conv.bias",
        "feature_encoder.layer2.0.convnormrelu1.0.weight",  # norm3 is left out: the same tensor as downsample.1
        "feature_encoder.layer2.0.downsample.1.weight", "context_encoder.convnormrelu.1.running_mean",
        "context_encoder.layer1.1.convnormrelu2.1.bias", "update_block.motion_encoder.convcorr2.0.weight",
        "update_block.motion_encoder.conv.0.bias", "update_block.recurrent_block.convgru2.convq.bias",
        "update_block.flow_head.conv1.weight", "mask_predictor.convrelu.0.weight", "mask_predictor.conv.bias"]
    small = {"update_block.gru.convz.weight": value, "update_block.encoder.convf2.weight": value,
             "fnet.layer3.1.conv3.bias": value}
    assert list(torchvision_state_dict(small)) == [
        "update_block.recurrent_block.convgru1.convz.weight", "update_block.motion_encoder.convflow2.0.weight",
        "feature_encoder.layer3.1.convnormrelu3.0.bias"]
    assert not is_small_raft(large) and is_small_raft(small)
    ours = {"feature_encoder.conv.bias": value, "mask_predictor.conv.bias": value}
    assert torchvision_state_dict(ours) == ours and not is_small_raft(ours)


@needs_raft_small
def test_the_authors_raft_small_file_renames_to_the_torchvision_copy():
    authors = torch.load(MODELS / "raft-small.pth", map_location="cpu", weights_only=True)
    torchvision_copy = torch.load(MODELS / "raft-small_torchvision-keys.pth", map_location="cpu", weights_only=True)
    renamed = torchvision_state_dict(authors)
    assert list(renamed) == list(torchvision_copy) and len(renamed) == 106
    assert all(torch.equal(renamed[key], torchvision_copy[key]) for key in renamed)
    assert is_small_raft(authors) and is_small_raft(torchvision_copy)


@needs_torchvision
@needs_raft_small
def test_both_layouts_of_raft_small_give_the_same_flow(tmp_path):
    a = np.random.default_rng(0).integers(0, 255, (64, 72, 3), dtype=np.uint8)
    b = np.roll(a, 2, axis=1)
    authors = get_backend("raft", weights=MODELS / "raft-small.pth", iters=4, device="cpu")
    assert authors.small  # read from the file, without --raft_small
    renamed = get_backend("raft", weights=MODELS / "raft-small_torchvision-keys.pth", iters=4, device="cpu")
    np.testing.assert_array_equal(authors(a, b), renamed(a, b))


@needs_torchvision
def test_random_weights_load_and_give_flow_of_the_input_size(tmp_path):
    from torchvision.models import optical_flow

    torch.manual_seed(0)
    weights = tmp_path / "raft_small_random.pth"
    torch.save(optical_flow.raft_small(weights=None).state_dict(), weights)
    backend = get_backend("raft", weights=weights, small=True, iters=2, device="cpu")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (37, 45, 3), dtype=np.uint8)  # not a multiple of 8: exercises padding
    flow = backend(a, a)
    assert flow.shape == (37, 45, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    torch.save({"feature_encoder.conv.bias": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(FlowBackendError, match="not a RAFT small state dict"):
        get_backend("raft", weights=tmp_path / "other.pth")(a, a)
