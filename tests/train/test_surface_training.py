"""The fast single-surface method (``method = surface``) through the real trainer, checkpoints and tracker."""

import dataclasses

import numpy as np
import pytest
import torch

from omnimotion.config import OmniMotionConfig, parse_config
from omnimotion.io.checkpoint import OFFICIAL_KEYS, latest_checkpoint, load_checkpoint
from omnimotion.model import ModelConfig, SurfaceModel, SurfaceModelConfig
from omnimotion.track.tracker import Tracker
from omnimotion.train.mining import predicted_flow
from omnimotion.train.options import TrainConfig
from omnimotion.train.surface_losses import depth_grid_smoothness, surface_loss_terms, trajectory_acceleration
from omnimotion.train.trainer import Trainer, fit

from prepared_dirs import endpoint_errors


def surface_run(data_dir, tmp_path, **train) -> OmniMotionConfig:
    options = dict(method="surface", num_pairs=4, num_pts=64, start_interval=1, interval_growth_steps=20,
                   use_count_map=True, grad_clip=1.0, save_dir=str(tmp_path / "out"), progress=False,
                   tensorboard=False, i_print=10, device="cpu")
    options.update(train)
    surface = SurfaceModelConfig(plane_resolutions=(4, 8), feature_channels=8, depth_grid_size=8)
    return OmniMotionConfig(data_dir=str(data_dir), train=TrainConfig(**options), surface=surface)


def test_surface_preset_selects_the_surface_model_and_the_default_stays_faithful(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    default = Trainer(data.root, surface_run(data.root, tmp_path, method="omnimotion", num_iters=1))
    assert not isinstance(default.model, SurfaceModel) and parse_config([]).train.method == "omnimotion"
    cfg = parse_config(["--surface_depth_tolerance", "0.1", "--surface_plane_resolutions", "4", "8"],
                       preset="surface")
    assert cfg.train.method == "surface" and cfg.surface.plane_resolutions == (4, 8)
    assert cfg.surface.depth_tolerance == 0.1 and cfg.model == ModelConfig()
    trainer = Trainer(data.root, surface_run(data.root, tmp_path))
    assert isinstance(trainer.model, SurfaceModel)
    lrs = {g["name"]: g["lr"] for g in trainer.optimizer.param_groups}
    assert lrs == {"heads": 3e-4, "grids": 3e-3, "depth": 1e-3}
    logged = trainer.train_step()
    assert {k: v for k, v in logged.items() if k.startswith("lr_")} == {"lr_heads": 3e-4, "lr_grids": 3e-3,
                                                                         "lr_depth": 1e-3}


def test_surface_training_beats_zero_motion(synthetic_dir, tmp_path):
    data, clip = synthetic_dir
    trainer = Trainer(data.root, surface_run(data.root, tmp_path, no_reload=True))
    losses = [trainer.train_step()["flow"] for _ in range(150)]
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    model_epe, zero_epe = endpoint_errors(trainer.model, clip, [(0, 1), (0, 3), (0, 7), (4, 2), (7, 1)])
    assert zero_epe > 1.0  # the clip really moves
    assert model_epe < 0.4 * zero_epe, (model_epe, zero_epe)


def test_surface_checkpoint_tracks_like_the_trained_model(synthetic_dir, tmp_path):
    data, clip = synthetic_dir
    path = fit(data.root, surface_run(data.root, tmp_path, num_iters=60, i_weight=1000))
    state = load_checkpoint(path)
    assert state["method"] == "surface" and "surface_model" in state
    assert not {"deform_mlp", "feature_mlp", "color_mlp"} & set(state)
    assert set(OFFICIAL_KEYS) - {"deform_mlp", "feature_mlp", "color_mlp"} <= set(state)
    tracker = Tracker.from_checkpoint(path, device="cpu", progress=False)
    assert isinstance(tracker.model, SurfaceModel) and tracker.occlusion_th == 0.5
    queries = np.array([[0, 5.0, 7.0], [3, 20.0, 11.0]], np.float32)
    tracks = tracker(queries)
    assert tracks.tracks.shape == (2, clip.num_frames, 2)
    np.testing.assert_allclose(tracks.tracks[[0, 1], [0, 3]], queries[:, 1:], atol=1e-4)
    # the reloaded model maps exactly as the one in memory after training
    trainer = Trainer(data.root, surface_run(data.root, tmp_path, num_iters=60, i_weight=1000))
    trainer.resume_if_possible(require=True)
    pred = predicted_flow(trainer.model, 0, 5, (clip.height, clip.width), 1, 4096, torch.device("cpu"))
    np.testing.assert_allclose(tracks.tracks[0, 5], queries[0, 1:] + pred[7, 5], atol=1e-4)


def test_surface_resume_matches_an_uninterrupted_run_exactly(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    common = dict(use_error_map=True, i_cache=2, error_map_stride=8, i_weight=2, num_pairs=2, num_pts=16)
    whole = Trainer(data.root, surface_run(data.root, tmp_path / "a", num_iters=4, **common))
    whole.fit()
    first = fit(data.root, surface_run(data.root, tmp_path / "b", num_iters=2, **common))
    resumed = Trainer(data.root, surface_run(data.root, tmp_path / "b", num_iters=4, **common))
    assert resumed.resume_if_possible(require=True) == first and resumed.step == 2
    resumed.fit()
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert not torch.equal(whole.model.depth.logits, torch.zeros_like(whole.model.depth.logits))


def test_method_mismatch_on_resume_is_a_clear_error(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    fit(data.root, surface_run(data.root, tmp_path, num_iters=1))
    faithful = dataclasses.replace(surface_run(data.root, tmp_path, num_iters=2).train, method="omnimotion")
    trainer = Trainer(data.root, OmniMotionConfig(data_dir=str(data.root), train=faithful,
                                                  model=ModelConfig(num_samples_ray=4, nvp_hidden=16,
                                                                    canonical_hidden=16, time_hidden=16,
                                                                    code_dim=8, use_affine=False)))
    with pytest.raises(ValueError, match="holds a 'surface' model but method = omnimotion"):
        trainer.resume_if_possible()
    assert latest_checkpoint(trainer.out_dir).name == "model_000001.pth"


def test_surface_losses_on_a_hand_built_batch(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    trainer = Trainer(data.root, surface_run(data.root, tmp_path))
    model = trainer.model  # flat depth 1.0, identity mapping at initialisation
    pts = torch.tensor([[3.0, 4.0], [10.0, 10.0], [20.0, 5.0]])
    frame_i, frame_j = torch.tensor([0, 0, 0]), torch.tensor([1, 3, 3])
    batch = trainer.sampler.sample(0)._replace(
        frame_i=frame_i, frame_j=frame_j, pts_i=pts, pts_j=pts + torch.tensor([2.0, 0.0]),
        weights=torch.tensor([1.0, 1.0, 0.0]), covisible=torch.tensor([True, False, False]))
    terms = surface_loss_terms(model, batch, (32, 32))
    # identity mapping: errors of 2 px each; the robust L1 drops the maximum, so all-equal errors give 0
    assert terms["flow"].item() == pytest.approx(0.0, abs=1e-5)
    assert terms["depth_consistency"].item() == pytest.approx(0.0, abs=1e-5)  # lands on its own surface
    # point 2: occluded-but-reliable (weight > 0, not covisible, gap 3) and 0 behind -> hinge 2 * tolerance
    assert terms["occlusion_hinge"].item() == pytest.approx(2 * model.cfg.depth_tolerance, abs=1e-5)
    assert terms["depth_smooth"].item() == pytest.approx(0.0, abs=1e-6)
    assert terms["temporal_smooth"].item() == pytest.approx(0.0, abs=1e-5)  # identity: points stand still
    assert "temporal_smooth" not in surface_loss_terms(model, batch, (32, 32), temporal_smooth=False)
    cells = torch.zeros(1, 2, 3)
    cells[0, 0, 1] = 1.0  # a single bump: 2 horizontal + 1 vertical differences of 1 among 4 + 3
    assert depth_grid_smoothness(cells).item() == pytest.approx(3 / 7)


def test_surface_preset_equals_configs_surface_txt():
    from pathlib import Path

    from omnimotion.config import config_to_dict, load_config

    path = Path(__file__).resolve().parents[2] / "configs" / "surface.txt"
    assert config_to_dict(load_config(path)) == config_to_dict(parse_config([], preset="surface"))


def test_trajectory_acceleration_of_a_known_motion(synthetic_dir, tmp_path):
    """x(t) = x0 + c t^2 in normalised units moves c (W - 1) px/frame^2 faster every frame: acceleration
    2 c (W - 1) / 2 px; frames at the clip's ends are measured one frame inward."""
    data, _ = synthetic_dir
    model = Trainer(data.root, surface_run(data.root, tmp_path)).model
    c = 0.01
    model.bijection.inverse = lambda x, frame: x + torch.stack(
        [c * frame.float() ** 2, torch.zeros_like(x[:, 0]), torch.zeros_like(x[:, 0])], dim=1)
    canonical = torch.zeros(3, 3)
    acceleration = trajectory_acceleration(model, canonical, torch.tensor([0, 2, model.num_frames - 1]))
    expected = 2 * c * (model.width - 1) / 2
    assert torch.allclose(acceleration, torch.full((3,), expected), atol=1e-4), acceleration


def test_user_depth_maps_initialise_a_fresh_surface_run_as_depth_init_says(synthetic_dir, tmp_path):
    import shutil

    from omnimotion.io.atomic import save_npy
    from omnimotion.io.datadir import DataDir, DataDirError
    from omnimotion.io.depth_maps import depth_map_path

    source, clip = synthetic_dir
    data = DataDir(shutil.copytree(source.root, tmp_path / "clip"))
    flat = Trainer(data.root, surface_run(data.root, tmp_path))  # auto, no depth/ folder: flat start
    torch.testing.assert_close(flat.model.render_depth(0), torch.ones(clip.height, clip.width))
    with pytest.raises(DataDirError, match="missing depth map"):
        Trainer(data.root, surface_run(data.root, tmp_path, depth_init="on"))
    ramp = np.tile(np.linspace(1.0, 5.0, clip.width, dtype=np.float32), (clip.height, 1))  # farther to the right
    for t in range(clip.num_frames):
        save_npy(depth_map_path(data, t), ramp * (1 + 0.1 * t))
    for choice, is_disparity, sign in (("auto", False, 1), ("on", True, -1)):
        trainer = Trainer(data.root, surface_run(data.root, tmp_path, depth_init=choice,
                                                 depth_is_disparity=is_disparity))
        for t in (0, clip.num_frames - 1):
            depth = trainer.model.render_depth(t)[clip.height // 2].numpy()
            assert sign * (depth[-1] - depth[0]) > 0.5  # the ramp's order, in the depth range
            assert np.all(sign * np.diff(depth) > -1e-4)
    torch.testing.assert_close(Trainer(data.root, surface_run(data.root, tmp_path, depth_init="off"))
                               .model.render_depth(0), torch.ones(clip.height, clip.width))
    with pytest.raises(ValueError, match="depth_init 'maybe' is not one of auto, on, off"):
        surface_run(data.root, tmp_path, depth_init="maybe")


def test_the_trainer_flushes_denormal_floats_to_zero(synthetic_dir, tmp_path):
    """Denormal arithmetic made late faithful CPU steps several times slower (README "Speed")."""
    data, _ = synthetic_dir
    torch.set_flush_denormal(False)
    assert (torch.tensor([1e-40]) * 1.0).item() != 0.0
    Trainer(data.root, surface_run(data.root, tmp_path))
    assert (torch.tensor([1e-40]) * 1.0).item() == 0.0
