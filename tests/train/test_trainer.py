"""Training end to end on a tiny synthetic clip: it learns, resumes exactly, and fails clearly."""


import numpy as np
import pytest
import torch

from omnimotion.config import OmniMotionConfig
from omnimotion.io.checkpoint import OFFICIAL_KEYS, CorruptCheckpointError, latest_checkpoint, load_checkpoint
from omnimotion.io.datadir import DataDirError
from omnimotion.model import ModelConfig
from omnimotion.train.options import TrainConfig
from omnimotion.train.trainer import NonFiniteLossError, Trainer, fit

from prepared_dirs import endpoint_errors


def tiny_run(data_dir, tmp_path, **train) -> OmniMotionConfig:
    model = ModelConfig(num_samples_ray=8, use_affine=False, nvp_hidden=64, canonical_hidden=64,
                        time_hidden=64, code_dim=32)
    options = dict(num_pairs=4, num_pts=32, start_interval=1, interval_growth_steps=50, use_count_map=True,
                   lr_deform=3e-3, lr_color=3e-3, lr_feature=3e-3, schedule_scale=0.02, save_dir=str(tmp_path / "out"),
                   progress=False, tensorboard=False, i_print=10, device="cpu", no_reload=False)
    options.update(train)
    return OmniMotionConfig(data_dir=str(data_dir), model=model, train=TrainConfig(**options))


def test_training_lowers_flow_loss_and_beats_zero_motion(synthetic_dir, tmp_path):
    data, clip = synthetic_dir
    trainer = Trainer(data.root, tiny_run(data.root, tmp_path, no_reload=True))
    losses = [trainer.train_step()["flow"] for _ in range(200)]
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:20])
    model_epe, zero_epe = endpoint_errors(trainer.model, clip, [(0, 1), (0, 3), (0, 7), (4, 2), (7, 1)])
    assert zero_epe > 1.0  # the clip really moves
    assert model_epe < 0.6 * zero_epe, (model_epe, zero_epe)


def test_resume_matches_an_uninterrupted_run_exactly(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    # mining refresh every 2 steps so that resume also covers the error maps and the sampler state
    common = dict(use_error_map=True, i_cache=2, error_map_stride=8, i_weight=2, motion_share=0.25,
                  num_pairs=2, num_pts=16)
    whole = Trainer(data.root, tiny_run(data.root, tmp_path / "a", num_iters=4, **common))
    whole.fit()
    first = fit(data.root, tiny_run(data.root, tmp_path / "b", num_iters=2, **common))
    assert first.name == "model_000002.pth"
    resumed = Trainer(data.root, tiny_run(data.root, tmp_path / "b", num_iters=4, **common))
    assert resumed.resume_if_possible(require=True) == first
    assert resumed.step == 2
    resumed.fit()
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert resumed.scheduler.state_dict() == whole.scheduler.state_dict()


def test_checkpoint_layout_has_official_keys(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    path = fit(data.root, tiny_run(data.root, tmp_path, num_iters=1, i_weight=1))
    assert path == tmp_path / "out" / "default" / "model_000001.pth"
    state = load_checkpoint(path)
    assert set(OFFICIAL_KEYS) <= set(state)
    assert state["num_imgs"] == 8 and state["step"] == 1
    assert state["config"]["train"]["num_pts"] == 32 and state["config"]["model"]["nvp_hidden"] == 64
    model_keys = set(Trainer(data.root, tiny_run(data.root, tmp_path)).model.state_dict())
    saved_keys = {f"{name}.{key}" for name in ("feature_mlp", "deform_mlp", "color_mlp") for key in state[name]}
    assert saved_keys == model_keys  # the three official entries hold the whole model
    assert (path.parent / "args.txt").read_text().count("num_pts = 32") == 1


def test_corrupt_checkpoint_is_reported(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    run = tiny_run(data.root, tmp_path, num_iters=2)
    out = tmp_path / "out" / "default"
    out.mkdir(parents=True)
    (out / "model_000001.pth").write_bytes(b"not a checkpoint")
    assert latest_checkpoint(out).name == "model_000001.pth"
    with pytest.raises(CorruptCheckpointError, match="model_000001.pth"):
        fit(data.root, run)


def test_resume_without_checkpoint_and_missing_data_are_clear_errors(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    with pytest.raises(FileNotFoundError, match="no model_"):
        fit(data.root, tiny_run(data.root, tmp_path), resume=True)
    broken = tmp_path / "broken"
    import shutil
    shutil.copytree(data.root, broken, ignore=shutil.ignore_patterns("out"))
    (broken / "raft_exhaustive" / "00002.png_00005.png.npy").unlink()
    with pytest.raises(DataDirError, match=r"00002\.png_00005\.png\.npy.*omnimotion prepare"):
        Trainer(broken, tiny_run(broken, tmp_path))


def test_nan_loss_names_the_step(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    trainer = Trainer(data.root, tiny_run(data.root, tmp_path))
    trainer.train_step()
    with torch.no_grad():
        next(trainer.model.color_mlp.parameters()).fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="at step 1"):
        trainer.train_step()


def test_num_imgs_below_the_frame_count_is_said_and_the_presets_use_every_frame(synthetic_dir, tmp_path, caplog):
    from omnimotion.config import parse_config

    data, _ = synthetic_dir
    with caplog.at_level("WARNING"):
        assert Trainer(data.root, tiny_run(data.root, tmp_path, num_imgs=3)).num_frames == 3
    assert f"training on the first 3 of the {data.num_frames} frames" in caplog.text and "num_imgs = 0" in caplog.text
    caplog.clear()
    assert Trainer(data.root, tiny_run(data.root, tmp_path, num_imgs=0)).num_frames == data.num_frames
    assert not caplog.records
    assert parse_config([], preset="surface").train.num_imgs == parse_config([], preset="fast").train.num_imgs == 0
