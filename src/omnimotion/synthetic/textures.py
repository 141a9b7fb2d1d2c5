"""Procedural textures for synthetic layers, chosen to be easy for optical flow.

A texture is uint8 ``[h, w, 3]`` RGB in a layer's canonical space (pixel centres at integer coordinates, as in
``omnimotion.coords``). It combines smooth noise at several scales (so every neighbourhood has gradient in two
directions) with a few anti-aliased shapes (sharp but sub-pixel-smooth edges) and is contrast-stretched per
channel. Each call draws its own palette, so layers made from different generators look distinct.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["make_texture"]

# Cell sizes in texture pixels of the noise octaves; the finest is 4 px so that bilinear resampling of
# a rendered frame stays close to resampling the texture itself (the ground-truth tests rely on this).
_OCTAVE_CELLS_PX = (32.0, 16.0, 8.0, 4.0)
# Fine octaves weigh almost as much as coarse ones so that small sprites still get detail.
_OCTAVE_WEIGHTS = (1.0, 0.85, 0.7, 0.6)


def make_texture(rng: np.random.Generator, height: int, width: int, num_shapes: int | None = None) -> np.ndarray:
    """A random texture: uint8 ``[height, width, 3]`` RGB.

    ``num_shapes`` anti-aliased discs, bars and triangles are drawn over the noise (default: one per 24x24 px
    of area, at least 3).
    """
    if height < 2 or width < 2:
        raise ValueError(f"texture size {height}x{width} is too small; use at least 2x2 pixels")
    noise = np.stack([_smooth_noise(rng, height, width) for _ in range(3)], axis=-1)  # [h, w, 3] in ~[-1, 1]
    # A random colour mixing gives each texture its own palette instead of three independent grey channels;
    # a shared brightness noise keeps the grey image textured too (flow methods mostly work on grey).
    mixing = rng.normal(0.0, 1.0, size=(3, 3))
    mixing /= np.linalg.norm(mixing, axis=1, keepdims=True)
    base = rng.uniform(60.0, 200.0, size=3)
    brightness = _smooth_noise(rng, height, width)[..., None]
    image = base + 45.0 * noise @ mixing.T + 55.0 * brightness
    if num_shapes is None:
        num_shapes = max(3, (height * width) // (32 * 32))
    image = _draw_shapes(rng, np.clip(image, 0, 255).astype(np.float32), num_shapes)
    return _stretch_contrast(image)


def _smooth_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Sum of upsampled random grids at several scales, float32 ``[height, width]`` scaled to unit max."""
    total = np.zeros((height, width), np.float32)
    for cell, weight in zip(_OCTAVE_CELLS_PX, _OCTAVE_WEIGHTS):
        grid = rng.normal(size=(int(np.ceil(height / cell)) + 2, int(np.ceil(width / cell)) + 2))
        up = cv2.resize(grid.astype(np.float32), None, fx=cell, fy=cell, interpolation=cv2.INTER_CUBIC)
        total += up[:height, :width] * weight
    return total / max(float(np.abs(total).max()), 1e-6)


def _draw_shapes(rng: np.random.Generator, image: np.ndarray, num_shapes: int) -> np.ndarray:
    """Blend anti-aliased discs, bars and triangles of random colour into ``image`` (float32 [h, w, 3])."""
    height, width = image.shape[:2]
    shift = 4  # cv2 fixed-point bits: sub-pixel shape positions
    scale = 1 << shift
    for _ in range(num_shapes):
        overlay = image.copy()
        color = tuple(float(c) for c in rng.uniform(0, 255, size=3))
        centre = rng.uniform([0, 0], [width, height])
        size = rng.uniform(2.0, float(np.clip(0.1 * min(height, width), 3.0, 8.0)))
        kind = rng.integers(3)
        if kind == 0:
            cv2.circle(overlay, tuple(int(v) for v in centre * scale), int(size * scale), color, -1,
                       cv2.LINE_AA, shift)
        else:
            num_vertices = 3 if kind == 1 else 4
            angles = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, num_vertices, endpoint=False)
            radii = size * (rng.uniform(0.5, 1.0, num_vertices) if kind == 1 else np.array([1, 0.25, 1, 0.25]))
            vertices = centre + np.stack([np.cos(angles), np.sin(angles)], axis=-1) * radii[:, None]
            cv2.fillPoly(overlay, [np.round(vertices * scale).astype(np.int32)], color, cv2.LINE_AA, shift)
        alpha = rng.uniform(0.35, 0.7)
        image = cv2.addWeighted(overlay, alpha, image, 1.0 - alpha, 0.0)
    return image


def _stretch_contrast(image: np.ndarray) -> np.ndarray:
    """Map each channel's 1st-99th percentile range to 10-245 and round to uint8."""
    low, high = np.percentile(image.reshape(-1, 3), [1, 99], axis=0)
    stretched = (image - low) / np.maximum(high - low, 1.0) * 235.0 + 10.0
    return np.clip(np.round(stretched), 0, 255).astype(np.uint8)
