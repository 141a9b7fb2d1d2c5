"""The registry of the variants' training losses: method name -> ``VariantLosses`` class.

Names match the model variants of ``omnimotion.model.factory``; a new variant registers its losses here
with one ``register_losses`` line.
"""

from __future__ import annotations

import torch

from omnimotion.train.faithful_losses import FaithfulLosses
from omnimotion.train.losses import VariantLosses
from omnimotion.train.options import TrainConfig
from omnimotion.train.surface_losses import SurfaceLosses

__all__ = ["register_losses", "variant_losses"]

_LOSSES: dict[str, type[VariantLosses]] = {}


def register_losses(name: str, losses: type[VariantLosses]) -> None:
    """Train ``method = name`` with ``losses`` (a second registration under a name replaces it)."""
    _LOSSES[name] = losses


def variant_losses(name: str, tcfg: TrainConfig, num_frames: int, image_hw: tuple[int, int],
                   generator: torch.Generator) -> VariantLosses:
    """The losses of method ``name`` for one run (arguments as ``VariantLosses`` takes them)."""
    if name not in _LOSSES:
        raise ValueError(f"method {name!r} has no training losses; register them with "
                         "omnimotion.train.variant_losses.register_losses")
    return _LOSSES[name](tcfg, num_frames, image_hw, generator)


register_losses("omnimotion", FaithfulLosses)
register_losses("surface", SurfaceLosses)
