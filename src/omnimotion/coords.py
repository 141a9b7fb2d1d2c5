"""The single home of coordinate conventions.

Pixels
    A point is ``(x, y)`` in pixels of the frame it lives in, **x first**. Pixel centres are at integer
    coordinates: the top-left pixel's centre is ``(0, 0)``, the bottom-right one's is ``(W-1, H-1)``
    (the ``align_corners=True`` convention of the official code). The frame's *extent* reaches half a pixel
    further, to the pixel edges: ``[-0.5, W-0.5] x [-0.5, H-0.5]``; a query anywhere in it is valid (TAP-Vid's
    raster coordinates 0 and W are these edges).
Normalised
    ``x_n = x / (W-1) * 2 - 1`` and the same for y, so pixel centres span ``[-1, 1]``.
Local volume of every frame
    ``[-1, 1]^2 x [min_depth, max_depth]`` (default depth range ``[0, 2]``), orthographic camera.
Flow
    ``flow[y, x] = (dx, dy)`` in pixels: pixel ``(x, y)`` of frame i lands at ``(x+dx, y+dy)`` in frame j.
Queries and tracks
    queries ``[N, 3]`` = ``(t, x, y)`` with t a frame index; tracks ``[N, T, 2]`` (point-major, as TAP-Vid);
    ``occluded [N, T]`` with True = occluded. TAP-Vid's ``(t, y, x)`` order and its 256x256 raster
    convention (pixel centres at ``i + 0.5``) are converted only in ``omnimotion.eval``.
Resizing
    When a frame is resized from ``(H, W)`` to ``(H', W')`` (as ``cv2.resize`` does, pixel areas scaled), a
    point moves as ``x' = (x + 0.5) * W'/W - 0.5`` (same for y): pixel *edges* scale, centres stay centres.

Functions here accept numpy arrays or torch tensors alike (only arithmetic is used).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

ArrayT = TypeVar("ArrayT")

__all__ = ["normalize_coords", "denormalize_coords", "pixel_grid", "inside_image", "inside_extent",
           "resize_points"]


def normalize_coords(points: ArrayT, height: int, width: int) -> ArrayT:
    """Pixels ``[..., 2]`` (x, y) -> normalised ``[-1, 1]`` (x, y)."""
    scale = _xy_scale(points, width - 1, height - 1)
    return points / scale * 2 - 1


def denormalize_coords(points: ArrayT, height: int, width: int) -> ArrayT:
    """Normalised ``[..., 2]`` (x, y) in ``[-1, 1]`` -> pixels (x, y)."""
    scale = _xy_scale(points, width - 1, height - 1)
    return (points + 1) / 2 * scale


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Every pixel centre of an ``H x W`` frame: float32 ``[H, W, 2]`` holding (x, y)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs, ys], axis=-1)


def inside_image(points: ArrayT, height: int, width: int) -> ArrayT:
    """Bool ``[...]``: the pixel point ``[..., 2]`` lies within ``[0, W-1] x [0, H-1]``."""
    x, y = points[..., 0], points[..., 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def inside_extent(points: ArrayT, height: int, width: int) -> ArrayT:
    """Bool ``[...]``: the pixel point ``[..., 2]`` lies within the frame's extent ``[-0.5, W-0.5] x [-0.5, H-0.5]``
    (pixel edges included; :func:`inside_image` is the narrower range of pixel centres)."""
    x, y = points[..., 0], points[..., 1]
    return (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)


def resize_points(points: ArrayT, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> ArrayT:
    """Pixels ``[..., 2]`` (x, y) of an ``from_hw`` frame -> pixels of the same frame resized to ``to_hw``."""
    scale = _xy_scale(points, to_hw[1] / from_hw[1], to_hw[0] / from_hw[0])
    return (points + 0.5) * scale - 0.5


def _xy_scale(points, sx: float, sy: float):
    """(sx, sy) as an array or tensor matching ``points`` so that it broadcasts over ``[..., 2]``."""
    if isinstance(points, np.ndarray):
        return np.asarray([sx, sy], dtype=points.dtype)
    import torch  # only when given a tensor; keeps this module importable without torch

    return torch.tensor([sx, sy], dtype=points.dtype, device=points.device)
