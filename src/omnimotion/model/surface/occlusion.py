"""Occlusion of a single-surface model by a depth test (pure functions).

A surface point of frame i, mapped through the canonical space into frame j, lands at pixel ``p_j`` with
mapped depth ``depth_j``. Frame j's own surface has depth ``surface_depth_j = D_j(p_j)`` there. Depth is
in local-volume units (smaller = nearer the camera), so the gap ``depth_j - surface_depth_j`` is how far
the point lies *behind* what frame j sees at that pixel.

* ``depth_test_occluded``: occluded iff ``gap > tolerance`` or the point lands outside the image.
* ``depth_test_score``: a score in ``[0, 1]``, ``sigmoid((gap - tolerance) / softness)``, and 1 outside the
  image. ``score > 0.5`` is exactly the hard test; a threshold th demands a gap larger than
  ``tolerance + softness * logit(th)``. The score is differentiable in the gap, for losses.

Shapes: every argument and result is ``[n]``; ``inside`` is bool.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["depth_gap", "depth_test_occluded", "depth_test_score"]


def depth_gap(depth_j: Tensor, surface_depth_j: Tensor) -> Tensor:
    """How far behind frame j's surface the mapped point lies, ``[n]`` (negative = in front)."""
    return depth_j - surface_depth_j


def depth_test_occluded(depth_j: Tensor, surface_depth_j: Tensor, inside: Tensor,
                        tolerance: float) -> Tensor:
    """Bool ``[n]``, True = occluded: more than ``tolerance`` behind the surface, or outside the image."""
    return (depth_gap(depth_j, surface_depth_j) > tolerance) | ~inside


def depth_test_score(depth_j: Tensor, surface_depth_j: Tensor, inside: Tensor, tolerance: float,
                     softness: float) -> Tensor:
    """Occlusion score ``[n]`` in ``[0, 1]`` (higher = more likely occluded); 1 outside the image."""
    if softness <= 0:
        raise ValueError(f"softness must be positive, got {softness}")
    score = torch.sigmoid((depth_gap(depth_j, surface_depth_j) - tolerance) / softness)
    return torch.where(inside, score, torch.ones_like(score))
