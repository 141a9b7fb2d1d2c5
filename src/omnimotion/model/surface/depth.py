"""Per-frame depth maps: a learnable low-resolution grid per frame, and user depth maps to initialise it.

Conventions
    Depth is in the local-volume units of ``omnimotion.coords``: ``z`` in ``[min_depth, max_depth]``
    (default ``[0, 2]``), smaller = nearer the camera. Points are ``(x, y)`` pixels of the frame
    (``[n, 2]``), frames are integer indices ``[n]``.
Grid
    Frame t's depth is a ``[gh, gw]`` grid of cells spread over the image with the pixel-centre convention
    (cell centres at the image corners, ``align_corners=True``), upsampled bilinearly. Each cell stores a
    logit: ``depth = min_depth + (max_depth - min_depth) * sigmoid(logit)``, so depth stays in range and
    all-zero logits give the flat mid-range initialisation. The sigmoid is applied per cell, before the
    bilinear interpolation, so ``depth_at`` and ``render`` agree exactly.
User depth maps
    Read by ``omnimotion.io.depth_maps`` (any positive scale, larger = farther unless ``is_disparity``);
    ``normalize_depth_maps`` maps them affinely, with one scale for the whole clip, into the inner part of
    the depth range.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from omnimotion.coords import normalize_coords
from omnimotion.model.surface.grids import bilinear_corners

__all__ = ["FrameDepth", "normalize_depth_maps", "depth_grid_shape"]


def depth_grid_shape(image_hw: tuple[int, int], grid_size: int) -> tuple[int, int]:
    """``(gh, gw)``: ``grid_size`` cells along the longer image side, the other side in proportion
    (at least 2 cells each, never more cells than pixels)."""
    height, width = image_hw
    scale = grid_size / max(height, width)
    return (max(2, min(height, round(height * scale))), max(2, min(width, round(width * scale))))


class FrameDepth(nn.Module):
    """Learnable per-frame depth: ``depth_at(points [n, 2] px, frame [n]) -> [n]``, ``render(t) -> [H, W]``."""

    def __init__(self, num_frames: int, image_hw: tuple[int, int], grid_hw: tuple[int, int],
                 depth_range: tuple[float, float] = (0.0, 2.0)):
        super().__init__()
        self.num_frames = num_frames
        self.image_hw = (int(image_hw[0]), int(image_hw[1]))
        self.grid_hw = (int(grid_hw[0]), int(grid_hw[1]))
        self.min_depth, self.max_depth = float(depth_range[0]), float(depth_range[1])
        if not self.max_depth > self.min_depth:
            raise ValueError(f"depth range {depth_range} is empty; max_depth must exceed min_depth")
        self.logits = nn.Parameter(torch.zeros(num_frames, *self.grid_hw))

    def cells(self) -> Tensor:
        """Depth of every grid cell, ``[T, gh, gw]``."""
        return self.min_depth + (self.max_depth - self.min_depth) * torch.sigmoid(self.logits)

    def depth_at(self, points: Tensor, frame: Tensor) -> Tensor:
        """Depth of frame ``frame [n]`` at pixels ``points [n, 2]`` (border-clamped outside), ``[n]``."""
        gh, gw = self.grid_hw
        coords = normalize_coords(points, *self.image_hw)
        index, weight = bilinear_corners(coords, gh, gw)
        index = index + (frame.long() * (gh * gw))[:, None]
        return (self.cells().reshape(-1)[index] * weight).sum(1)

    def render(self, frame: int) -> Tensor:
        """Frame ``frame``'s depth map at full resolution, ``[H, W]``."""
        cells = self.cells()[frame][None, None]
        return F.interpolate(cells, size=self.image_hw, mode="bilinear", align_corners=True)[0, 0]

    @torch.no_grad()
    def set_from_maps(self, depth_maps: np.ndarray) -> None:
        """Initialise from depth maps ``[T, H, W]`` already in depth units (see ``normalize_depth_maps``);
        each is area-resampled to the grid and clipped just inside the range."""
        expected = (self.num_frames, *self.image_hw)
        if depth_maps.shape != expected:
            raise ValueError(f"depth maps have shape {depth_maps.shape}, expected {expected}")
        gh, gw = self.grid_hw
        small = np.stack([cv2.resize(d.astype(np.float32), (gw, gh), interpolation=cv2.INTER_AREA)
                          for d in depth_maps])
        span = self.max_depth - self.min_depth
        frac = np.clip((small - self.min_depth) / span, 1e-4, 1 - 1e-4)
        self.logits.copy_(torch.from_numpy(np.log(frac / (1 - frac))).to(self.logits))


def normalize_depth_maps(depth_maps: np.ndarray, depth_range: Sequence[float] = (0.0, 2.0), *,
                         margin: float = 0.1, is_disparity: bool = False,
                         percentiles: tuple[float, float] = (1.0, 99.0)) -> np.ndarray:
    """Map user depth maps ``[T, H, W]`` (any scale) into ``[lo + m, hi - m]``, ``m = margin * (hi - lo)``.

    One affine map for the whole clip (from robust percentiles over all frames), so relative depth between
    frames is kept; values beyond the percentiles are clipped. ``is_disparity``: larger values are nearer
    (e.g. MiDaS output), so the order is flipped. A constant input maps to the middle of the range.
    """
    lo, hi = float(depth_range[0]), float(depth_range[1])
    values = -depth_maps if is_disparity else depth_maps
    low, high = np.percentile(values, percentiles)
    inner_lo, inner_hi = lo + margin * (hi - lo), hi - margin * (hi - lo)
    if high - low <= 1e-12:
        return np.full(depth_maps.shape, 0.5 * (lo + hi), np.float32)
    frac = np.clip((values - low) / (high - low), 0.0, 1.0)
    return (inner_lo + frac * (inner_hi - inner_lo)).astype(np.float32)
