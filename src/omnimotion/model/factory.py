"""Model factory: which model a configuration builds (``method``: ``omnimotion`` | ``surface``).

The faithful ``OmniMotionModel`` is built from a ``ModelConfig``, the fast single-surface ``SurfaceModel``
(docs/method.md#single-surface-variant) from a ``SurfaceModelConfig``; both offer the tracker's interface
(``correspondences``, ``occlusion_score``, ``render_depth``). ``image_hw`` is (H, W) of the fitted frames in pixels.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from omnimotion.model.config import ModelConfig
from omnimotion.model.omnimotion import OmniMotionModel
from omnimotion.model.surface import SurfaceModel, SurfaceModelConfig

__all__ = ["METHODS", "build_model", "method_config", "model_config_from_dict"]

METHODS = ("omnimotion", "surface")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; set method to one of {list(METHODS)}")


def method_config(method: str, model_cfg: ModelConfig, surface_cfg: SurfaceModelConfig | None
                  ) -> ModelConfig | SurfaceModelConfig:
    """The model configuration ``method`` uses (the surface one falls back to its defaults)."""
    _check_method(method)
    if method == "surface":
        return surface_cfg if surface_cfg is not None else SurfaceModelConfig()
    return model_cfg


def build_model(cfg: ModelConfig | SurfaceModelConfig, num_frames: int, image_hw: tuple[int, int]) -> nn.Module:
    """A fresh model for ``cfg``: ``SurfaceModel`` for a ``SurfaceModelConfig``, else ``OmniMotionModel``."""
    if isinstance(cfg, SurfaceModelConfig):
        return SurfaceModel(cfg, num_frames, image_hw)
    if isinstance(cfg, ModelConfig):
        return OmniMotionModel(cfg, num_frames, image_hw)
    raise TypeError(f"build_model needs a ModelConfig or SurfaceModelConfig, got {type(cfg).__name__}")


def model_config_from_dict(method: str, values: dict[str, Any]) -> ModelConfig | SurfaceModelConfig:
    """The model configuration of ``method`` from a stored dict (unknown keys ignored, lists -> tuples)."""
    _check_method(method)
    cls = SurfaceModelConfig if method == "surface" else ModelConfig
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names})
