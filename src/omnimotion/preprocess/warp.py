"""Bilinear sampling of maps at float pixel positions: the one sampler of filtering and chaining.

Conventions (``omnimotion.coords``): points are ``(x, y)`` pixels of the sampled map, pixel centres at
integers. Sampling equals ``torch.nn.functional.grid_sample(..., mode="bilinear", padding_mode="zeros",
align_corners=True)`` of the official code: neighbours outside the map count as zero, so a point half a
pixel outside the image gets half the border value and a point a pixel or more outside gets 0.
It runs on ``cv2.remap`` (faster than a numpy gather; benchmarks/NOTES.md), whose fixed-point tables round positions
to 1/32 px: sampled values differ from exact bilinear by at most the map's change over 1/64 px, far below
the 3 px cycle threshold.

Shapes: ``image [H, W]`` or ``[H, W, C]``; ``points [..., 2]``; result ``[...]`` or ``[..., C]``, float32.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["sample_bilinear", "scale_points_to_grid", "round_trip"]

_MAP_COLS = 1024


def sample_bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sample ``image`` ``[H, W(, C)]`` at pixel ``points`` ``[..., 2]`` (x, y); zero padding, float32."""
    image = np.asarray(image, dtype=np.float32)
    squeeze = image.ndim == 2
    if squeeze:
        image = image[..., None]
    shape = points.shape[:-1]
    count = int(np.prod(shape))
    # cv2.remap needs maps under 32767 rows and columns: lay the points out in rows of _MAP_COLS.
    rows = max(-(-count // _MAP_COLS), 1)
    map_x = np.zeros(rows * _MAP_COLS, np.float32)
    map_y = np.zeros(rows * _MAP_COLS, np.float32)
    map_x[:count] = points[..., 0].reshape(-1)
    map_y[:count] = points[..., 1].reshape(-1)
    map_x, map_y = map_x.reshape(rows, _MAP_COLS), map_y.reshape(rows, _MAP_COLS)
    parts = []
    for first in range(0, image.shape[-1], 4):  # remap handles at most 4 channels at once
        channels = np.ascontiguousarray(image[..., first:first + 4])
        sampled = cv2.remap(channels, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=0)
        parts.append(sampled.reshape(rows * _MAP_COLS, -1)[:count])
    out = np.concatenate(parts, axis=-1).reshape(shape + (image.shape[-1],))
    return out[..., 0] if squeeze else out


def scale_points_to_grid(points: np.ndarray, image_hw: tuple[int, int],
                         grid_hw: tuple[int, int]) -> np.ndarray:
    """Image pixels ``[..., 2]`` -> pixels of a coarser map spanning the same image (corners aligned).

    This is how the official filter samples DINO token maps: both are normalised to ``[-1, 1]`` with
    ``align_corners=True``, so image pixel ``W-1`` maps to map pixel ``w-1``.
    """
    (height, width), (grid_h, grid_w) = image_hw, grid_hw
    scale = np.asarray([(grid_w - 1) / max(width - 1, 1), (grid_h - 1) / max(height - 1, 1)], np.float32)
    return np.asarray(points, np.float32) * scale


def round_trip(forward: np.ndarray, backward: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where ``forward [H, W, 2]`` takes ``points [n, 2]`` (float32 ``[n, 2]``, possibly outside the image), and
    how far from them ``backward`` brings that back (``[n]`` px; the way back starts from the nearest point
    inside the image)."""
    height, width = forward.shape[:2]
    there = (points + sample_bilinear(forward, points)).astype(np.float32)
    inside = np.clip(there, 0, [width - 1, height - 1]).astype(np.float32)
    return there, np.linalg.norm(inside + sample_bilinear(backward, inside) - points, axis=-1)
