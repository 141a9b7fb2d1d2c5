"""Layered synthetic clips with exact ground-truth motion and occlusion.

A clip is a stack of layers, farthest first: layer 0 is the background (covers the whole plane), layers 1..K
are sprites, each nearer than the one before. Layer k owns a texture uint8 ``[h, w, 3]`` in its canonical space,
an optional shape (the part of canonical space it covers) and per-frame affine transforms ``A_k(t)`` float64
``[T, 2, 3]`` mapping canonical points to image pixels.

Conventions follow ``omnimotion.coords``: points are ``(x, y)`` pixels with integer pixel centres, both in the
image and in texture space. Frame t at pixel ``p`` shows the texture of the nearest layer covering ``p`` sampled
(bilinearly) at ``A_k(t)^{-1} p``; OpenCV's ``warpAffine`` uses the same integer-centre convention and
quantises source positions to 1/32 px, the only difference between what is rendered and what the ground truth
claims. A surface point seen at ``p`` on layer k in frame i lies at ``A_k(j) A_k(i)^{-1} p`` in frame j, and is
occluded there when a nearer layer covers that point or it falls outside ``[0, W-1] x [0, H-1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from omnimotion.coords import inside_image, pixel_grid

__all__ = ["Ellipse", "Polygon", "Layer", "SyntheticClip", "render_clip"]


@dataclass(frozen=True)
class Ellipse:
    """Filled ellipse in canonical (texture) pixels; ``angle`` in radians rotates the first semi-axis from +x."""

    centre: tuple[float, float]
    semi_axes: tuple[float, float]
    angle: float = 0.0

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Bool ``[...]`` for canonical points ``[..., 2]`` (x, y)."""
        d = points - np.asarray(self.centre)
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        along = d[..., 0] * cos + d[..., 1] * sin
        across = -d[..., 0] * sin + d[..., 1] * cos
        return (along / self.semi_axes[0]) ** 2 + (across / self.semi_axes[1]) ** 2 <= 1.0

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Canonical (x, y) corners (low, high) of a box holding the ellipse."""
        reach = max(self.semi_axes)
        return np.asarray(self.centre) - reach, np.asarray(self.centre) + reach


@dataclass(frozen=True, eq=False)
class Polygon:
    """Filled simple polygon in canonical (texture) pixels: ``vertices`` float ``[V, 2]`` (x, y), in order."""

    vertices: np.ndarray

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Bool ``[...]`` for canonical points ``[..., 2]`` (x, y), by the even-odd rule."""
        x, y = points[..., 0], points[..., 1]
        inside = np.zeros(x.shape, bool)
        ends = np.roll(self.vertices, -1, axis=0)
        for (x0, y0), (x1, y1) in zip(self.vertices, ends):
            straddles = (y0 > y) != (y1 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            inside ^= straddles & (x < x_cross)
        return inside

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Canonical (x, y) corners (low, high) of a box holding the polygon."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)


@dataclass(eq=False)
class Layer:
    """One depth layer: texture uint8 ``[h, w, 3]``, transforms float64 ``[T, 2, 3]`` (canonical -> image
    pixels), and ``shape`` (``Ellipse``/``Polygon`` in canonical pixels; ``None`` covers everything).

    Beyond its ``h x w`` pixels the texture continues by mirror reflection (OpenCV ``BORDER_REFLECT101``), a
    fixed function of the canonical point, so the ground truth stays exact even where a layer samples outside.
    """

    texture: np.ndarray
    transforms: np.ndarray
    shape: Ellipse | Polygon | None = None

    def covers(self, t: int, points: np.ndarray) -> np.ndarray:
        """Bool ``[...]``: image points ``[..., 2]`` of frame t fall on this layer's shape."""
        if self.shape is None:
            return np.ones(points.shape[:-1], bool)
        # Only points inside the shape's image-space box need the exact test (sprites are small).
        low, high = self.image_box(t)
        x, y = points[..., 0], points[..., 1]
        near = (x >= low[0]) & (x <= high[0]) & (y >= low[1]) & (y <= high[1])
        covered = np.zeros(points.shape[:-1], bool)
        covered[near] = self.shape.contains(_apply(_invert(self.transforms[t]), points[near]))
        return covered

    def image_box(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Image (x, y) corners (low, high) of a box holding the shape in frame t; the whole plane if no shape."""
        if self.shape is None:
            return np.full(2, -np.inf), np.full(2, np.inf)
        low, high = self.shape.bounds()
        corners = np.array([[low[0], low[1]], [high[0], low[1]], [low[0], high[1]], [high[0], high[1]]])
        placed = _apply(self.transforms[t], corners)
        margin = 1e-6  # keeps points on the box edge despite rounding in the transform
        return placed.min(axis=0) - margin, placed.max(axis=0) + margin

    def relative(self, i: int, j: int) -> np.ndarray:
        """2x3 affine taking image points of frame i on this layer to frame j: ``A(j) A(i)^{-1}``."""
        if i == j:  # exactly the identity, so a query never moves (or leaves the frame) by rounding
            return np.eye(3)[:2]
        return (_homogeneous(self.transforms[j]) @ np.linalg.inv(_homogeneous(self.transforms[i])))[:2]


@dataclass(eq=False)
class SyntheticClip:
    """A rendered clip and its exact motion.

    ``video`` uint8 ``[T, H, W, 3]`` RGB; ``layer_ids`` int16 ``[T, H, W]``, index of the layer visible at each
    pixel (0 = background); ``layers`` farthest first. Build one with ``render_clip`` or ``make_clip``.
    """

    video: np.ndarray
    layer_ids: np.ndarray
    layers: list[Layer] = field(repr=False)

    def __repr__(self) -> str:  # the default would print whole arrays (e.g. in pytest failure reports)
        return (f"SyntheticClip(num_frames={self.num_frames}, height={self.height}, width={self.width}, "
                f"layers={len(self.layers)})")

    @property
    def num_frames(self) -> int:
        return int(self.video.shape[0])

    @property
    def height(self) -> int:
        return int(self.video.shape[1])

    @property
    def width(self) -> int:
        return int(self.video.shape[2])

    def visible_layer(self, t: int, points: np.ndarray) -> np.ndarray:
        """int16 ``[...]``: the nearest layer covering each image point ``[..., 2]`` (x, y) of frame t."""
        ids = np.zeros(points.shape[:-1], np.int16)
        for k, layer in enumerate(self.layers[1:], start=1):
            ids[layer.covers(t, points)] = k
        return ids

    def flow(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact flow of every pixel of frame i to frame j.

        Returns float32 ``[H, W, 2]`` (dx, dy) pixels and bool ``[H, W]`` ``occluded_in_j``: the surface point
        seen at (x, y) in frame i is hidden by a nearer layer in frame j or lies outside frame j.
        """
        self._check_frame(i)
        self._check_frame(j)
        grid = pixel_grid(self.height, self.width).astype(np.float64)
        flow = np.zeros_like(grid)
        occluded = np.zeros(grid.shape[:2], bool)
        ids = self.layer_ids[i]
        for k in np.unique(ids):
            on_layer = ids == k
            points = grid[on_layer]
            landed = _apply(self.layers[k].relative(i, j), points)
            flow[on_layer] = landed - points
            occluded[on_layer] = self._occluded(int(k), j, landed)
        return flow.astype(np.float32), occluded

    def track(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground-truth tracks of queries float ``[N, 3]`` = (t, x, y) pixels, t an integer frame index.

        Each query follows the surface visible at it in frame t. Returns float32 ``[N, T, 2]`` (x, y) pixels
        (positions are given even where occluded) and bool ``[N, T]`` occluded (hidden or out of frame).
        """
        queries = self._check_queries(queries)
        frames, points = queries[:, 0].astype(int), queries[:, 1:]
        tracks = np.zeros((len(queries), self.num_frames, 2))
        occluded = np.zeros((len(queries), self.num_frames), bool)
        layer_of = np.zeros(len(queries), int)
        canonical = np.zeros_like(points)  # each query's point in its layer's texture space
        for t in np.unique(frames):
            at_t = frames == t
            layer_of[at_t] = self.visible_layer(int(t), points[at_t])
            for k in np.unique(layer_of[at_t]):
                group = at_t & (layer_of == k)
                canonical[group] = _apply(_invert(self.layers[k].transforms[t]), points[group])
        for k in np.unique(layer_of):
            group = np.flatnonzero(layer_of == k)
            for s in range(self.num_frames):
                landed = _apply(self.layers[k].transforms[s], canonical[group])
                at_query = frames[group] == s
                landed[at_query] = points[group[at_query]]  # exact, so rounding never moves a query
                tracks[group, s] = landed
                occluded[group, s] = self._occluded(int(k), s, landed)
        return tracks.astype(np.float32), occluded

    def _occluded(self, k: int, t: int, points: np.ndarray) -> np.ndarray:
        """Points of layer k, placed in frame t, that a nearer layer covers or that lie outside the frame."""
        hidden = ~inside_image(points, self.height, self.width)
        for layer in self.layers[k + 1:]:
            hidden |= layer.covers(t, points)
        return hidden

    def _check_frame(self, t: int) -> None:
        if not 0 <= t < self.num_frames:
            raise ValueError(f"frame index {t} is outside this clip's frames 0..{self.num_frames - 1}")

    def _check_queries(self, queries: np.ndarray) -> np.ndarray:
        queries = np.asarray(queries, np.float64)
        if queries.ndim != 2 or queries.shape[1] != 3:
            raise ValueError(f"queries must be [N, 3] rows of (t, x, y); got shape {queries.shape}")
        t = queries[:, 0]
        if np.any(t != np.round(t)) or np.any((t < 0) | (t >= self.num_frames)):
            raise ValueError(f"query frames must be integers in 0..{self.num_frames - 1}; got {np.unique(t)}")
        return queries


def render_clip(layers: list[Layer], height: int, width: int) -> SyntheticClip:
    """Render ``layers`` (farthest first; layer 0 must cover everything) into a ``SyntheticClip``."""
    if not layers or layers[0].shape is not None:
        raise ValueError("layer 0 is the background and must have shape=None so that it covers every pixel")
    num_frames = layers[0].transforms.shape[0]
    for k, layer in enumerate(layers):
        if layer.transforms.shape != (num_frames, 2, 3):
            raise ValueError(f"layer {k} transforms have shape {layer.transforms.shape}; "
                             f"expected ({num_frames}, 2, 3) like layer 0")
        if layer.texture.dtype != np.uint8 or layer.texture.ndim != 3 or layer.texture.shape[2] != 3:
            raise ValueError(f"layer {k} texture must be uint8 [h, w, 3]; got {layer.texture.dtype} "
                             f"{layer.texture.shape}")
    clip = SyntheticClip(video=np.zeros((num_frames, height, width, 3), np.uint8),
                         layer_ids=np.zeros((num_frames, height, width), np.int16), layers=layers)
    grid = pixel_grid(height, width).astype(np.float64)
    for t in range(num_frames):
        # As visible_layer(t, grid), but each sprite is only tested and warped inside its pixel window.
        ids, frame = clip.layer_ids[t], clip.video[t]
        frame[:] = _warp_layer(layers[0], t, slice(0, height), slice(0, width))
        windows = [None] + [_pixel_window(layer, t, height, width) for layer in layers[1:]]
        for k, layer in enumerate(layers[1:], start=1):
            if windows[k] is not None:
                rows, cols = windows[k]
                ids[rows, cols][layer.covers(t, grid[rows, cols])] = k
        for k, layer in enumerate(layers[1:], start=1):
            if windows[k] is not None:
                rows, cols = windows[k]
                patch = _warp_layer(layer, t, rows, cols)
                np.copyto(frame[rows, cols], patch, where=(ids[rows, cols] == k)[..., None])
    return clip


def _pixel_window(layer: Layer, t: int, height: int, width: int) -> tuple[slice, slice] | None:
    """(rows, cols) slices of the frame pixels that layer's shape can touch in frame t; None if it is outside."""
    low, high = layer.image_box(t)
    x0, y0 = np.maximum(np.ceil(low).astype(int), 0)
    x1, y1 = np.minimum(np.floor(high).astype(int) + 1, [width, height])
    if x0 >= x1 or y0 >= y1:
        return None
    return slice(int(y0), int(y1)), slice(int(x0), int(x1))


def _warp_layer(layer: Layer, t: int, rows: slice, cols: slice) -> np.ndarray:
    """Layer texture rendered on the frame window ``[rows, cols]``: uint8 ``[rows, cols, 3]``."""
    to_texture = _invert(layer.transforms[t])
    # Window pixel (x', y') is frame pixel (x' + cols.start, y' + rows.start).
    to_texture[:, 2] += to_texture[:, :2] @ (cols.start, rows.start)
    size = (cols.stop - cols.start, rows.stop - rows.start)
    # WARP_INVERSE_MAP: the matrix given maps each output pixel to its texture point, A(t)^{-1} p.
    return cv2.warpAffine(layer.texture, to_texture, size,
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT101)


def _homogeneous(affine: np.ndarray) -> np.ndarray:
    return np.vstack([affine, [0.0, 0.0, 1.0]])


def _invert(affine: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine, as 2x3."""
    return np.linalg.inv(_homogeneous(affine))[:2]


def _apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to points ``[..., 2]`` (x, y)."""
    return points @ affine[:, :2].T + affine[:, 2]
