"""A third model variant, registered here with one line for its model and one for its losses, goes through the
generic paths: training, checkpoints, resuming, loading for tracking, and the capability check of the CLI."""

import argparse
import dataclasses

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from omnimotion.cli.main import UserError
from omnimotion.cli.track import check_pictures
from omnimotion.config import OmniMotionConfig
from omnimotion.io.checkpoint import load_checkpoint
from omnimotion.model import ModelVariant, factory, register_variant
from omnimotion.model.surface import SurfaceCorrespondences
from omnimotion.track.tracker import Tracker, load_model
from omnimotion.train import variant_losses as losses_registry
from omnimotion.train.losses import VariantLosses, flow_loss, inside_image
from omnimotion.train.options import TrainConfig
from omnimotion.train.trainer import Trainer, fit


@dataclasses.dataclass
class ToyConfig:
    depth: float = 1.0
    occlusion_th: float = 0.5


class ToyModel(nn.Module):
    """Every frame is the first one shifted by a learnable offset: a point moves by offset[j] - offset[i]."""

    def __init__(self, cfg: ToyConfig, num_frames: int, image_hw: tuple[int, int]):
        super().__init__()
        self.cfg, self.num_frames, self.image_hw = cfg, num_frames, tuple(image_hw)
        self.height, self.width = self.image_hw
        self.offsets = nn.Parameter(torch.zeros(num_frames, 2))

    def correspondences(self, pts_i: Tensor, frame_i: Tensor, frame_j: Tensor, **_) -> SurfaceCorrespondences:
        points_j = pts_i + self.offsets[frame_j] - self.offsets[frame_i]
        depth = torch.full_like(points_j[:, 0], self.cfg.depth)
        return SurfaceCorrespondences(points_j, depth, depth, depth, points_j)

    def occlusion_score(self, pts_j: Tensor, depth_j: Tensor, frame_j: Tensor) -> Tensor:
        return torch.zeros_like(depth_j)

    def render_depth(self, frame: int) -> Tensor:
        return torch.full(self.image_hw, self.cfg.depth)


class ToyVariant(ModelVariant):
    config_class = ToyConfig
    config_section = "toy"
    model_class = ToyModel

    def build(self, cfg, num_frames, image_hw):
        return ToyModel(cfg, num_frames, image_hw)

    def parameter_groups(self, model):
        return {"offsets": [model.offsets]}

    def state_modules(self, model):
        return {"toy_model": model}


class ToyLosses(VariantLosses):
    def learning_rates(self):
        return {"offsets": 0.1}

    def terms(self, model, batch, step):
        corr = model.correspondences(batch.pts_i, batch.frame_i, batch.frame_j)
        valid = inside_image(corr.points_j, self.image_hw)
        return {"flow": flow_loss(corr.points_j, batch.pts_j, batch.weights, valid)}

    def weights(self, step):
        return {"flow": 1.0}


@pytest.fixture
def toy(monkeypatch):
    """The toy variant registered for one test (the registries are restored afterwards)."""
    monkeypatch.setattr(factory, "_VARIANTS", dict(factory._VARIANTS))
    monkeypatch.setattr(losses_registry, "_LOSSES", dict(losses_registry._LOSSES))
    register_variant("toy", ToyVariant())
    losses_registry.register_losses("toy", ToyLosses)


def toy_run(data_dir, tmp_path, **train) -> OmniMotionConfig:
    options = dict(method="toy", num_pairs=4, num_pts=64, save_dir=str(tmp_path / "out"), progress=False,
                   tensorboard=False, device="cpu", i_weight=1000, use_error_map=True, i_cache=3)
    options.update(train)
    return OmniMotionConfig(data_dir=str(data_dir), train=TrainConfig(**options))


def test_a_registered_toy_variant_trains_checkpoints_resumes_and_tracks(toy, synthetic_dir, tmp_path):
    data, clip = synthetic_dir
    trainer = Trainer(data.root, toy_run(data.root, tmp_path, num_iters=8))
    assert isinstance(trainer.model, ToyModel) and [g["name"] for g in trainer.optimizer.param_groups] == ["offsets"]
    path = trainer.fit()  # with hard-example mining every 3 steps
    assert trainer.model.offsets.abs().sum() > 0  # it trained
    state = load_checkpoint(path)
    assert state["method"] == "toy" and set(state["toy_model"]) == {"offsets"}
    assert not {"deform_mlp", "feature_mlp", "color_mlp", "surface_model"} & set(state)

    resumed = Trainer(data.root, toy_run(data.root, tmp_path, num_iters=8))
    assert resumed.resume_if_possible(require=True) == path and resumed.step == 8
    torch.testing.assert_close(resumed.model.offsets, trainer.model.offsets, rtol=0, atol=0)

    model = load_model(path, device="cpu")
    assert isinstance(model, ToyModel) and not model.training
    tracker = Tracker.from_checkpoint(path, device="cpu", progress=False)
    assert tracker.occlusion_th == 0.5  # the toy settings' threshold
    tracks = tracker(np.array([[0, 10.0, 12.0]], np.float32))
    expected = np.array([10.0, 12.0]) + (model.offsets - model.offsets[0]).detach().numpy()
    np.testing.assert_allclose(tracks.tracks[0], expected, atol=1e-5)


def test_fit_runs_the_toy_variant_to_its_last_step(toy, synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    path = fit(data.root, toy_run(data.root, tmp_path, num_iters=3))
    assert load_checkpoint(path)["step"] == 3


def test_the_cli_names_the_toy_variant_when_colour_is_asked_of_it(toy):
    args = argparse.Namespace(color_video="colour.mp4")
    with pytest.raises(UserError, match="^the toy model has no colour rendering; train with --method omnimotion or "
                                        "drop --color_video$"):
        check_pictures(args, ToyModel(ToyConfig(), 2, (8, 8)))
    check_pictures(argparse.Namespace(color_video=None), ToyModel(ToyConfig(), 2, (8, 8)))
