"""Bilinear sampling of maps at float pixel positions: the one sampler of filtering and chaining.

Conventions (``omnimotion.coords``): points are ``(x, y)`` pixels of the sampled map, pixel centres at
integers. Sampling equals ``torch.nn.functional.grid_sample(..., mode="bilinear", padding_mode="zeros",
align_corners=True)`` of the official code: neighbours outside the map count as zero, so a point half a
pixel outside the image gets half the border value and a point a pixel or more outside gets 0.

Shapes: ``image [H, W]`` or ``[H, W, C]``; ``points [..., 2]``; result ``[...]`` or ``[..., C]``, float32.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_bilinear", "scale_points_to_grid"]


def sample_bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sample ``image`` ``[H, W(, C)]`` at pixel ``points`` ``[..., 2]`` (x, y); zero padding, float32."""
    image = np.asarray(image)
    squeeze = image.ndim == 2
    if squeeze:
        image = image[..., None]
    height, width, channels = image.shape
    flat = image.reshape(height * width, channels).astype(np.float32, copy=False)
    x = np.asarray(points[..., 0], dtype=np.float32)
    y = np.asarray(points[..., 1], dtype=np.float32)
    x0 = np.floor(x)
    y0 = np.floor(y)
    wx1 = x - x0
    wy1 = y - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    out = np.zeros(x.shape + (channels,), np.float32)
    # Four neighbours; an out-of-map neighbour contributes zero (grid_sample's zero padding).
    for dy, wy in ((0, 1.0 - wy1), (1, wy1)):
        for dx, wx in ((0, 1.0 - wx1), (1, wx1)):
            xi = x0 + dx
            yi = y0 + dy
            valid = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
            index = np.where(valid, yi * width + xi, 0)
            weight = np.where(valid, wx * wy, 0.0).astype(np.float32)
            out += flat[index] * weight[..., None]
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
