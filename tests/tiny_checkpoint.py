"""A small untrained model saved where a training run puts its checkpoint, for tests that need a checkpoint but
not a trained model (tracking cost, paths, the viewer). Imported by name, as ``track/track_doubles.py``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from omnimotion.model import ModelConfig, OmniMotionModel

TINY_MODEL = ModelConfig(num_samples_ray=8, nvp_hidden=32, code_dim=16, time_hidden=32, canonical_hidden=32,
                         num_coupling_layers=3, affine_num_layers=2)
CHECKPOINT = Path("out") / "exp" / "model_000010.pth"
"""Where ``save_untrained_checkpoint`` writes, relative to the data directory (step 10)."""


def save_untrained_checkpoint(data_root: Path, num_frames: int, image_hw: tuple[int, int]) -> Path:
    """Save a ``TINY_MODEL`` ``OmniMotionModel`` for ``num_frames`` frames of ``image_hw`` (H, W), initialised
    with seed 0, as ``data_root / CHECKPOINT``; return that path."""
    torch.manual_seed(0)
    model = OmniMotionModel(TINY_MODEL, num_frames, tuple(image_hw))
    state = {name: getattr(model, name).state_dict() for name in ("feature_mlp", "deform_mlp", "color_mlp")}
    state.update(num_imgs=num_frames, image_hw=list(image_hw), step=10,
                 config={"model": dataclasses.asdict(TINY_MODEL)})
    path = Path(data_root) / CHECKPOINT
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return path
