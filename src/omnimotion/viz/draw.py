"""Pure drawing of tracks on frames: numpy in, numpy out (OpenCV anti-aliased drawing, matplotlib colours).

Images are uint8 ``[H, W, 3]`` RGB, videos uint8 ``[T, H, W, 3]``. Tracks follow ``omnimotion.coords``:
``tracks [N, T, 2]`` (x, y) pixels with integer pixel centres, ``occluded [N, T]`` True = occluded, and the
frames drawn on must have the size the tracks refer to. Colours are uint8 ``[N, 3]`` RGB, one per point.

Style: a visible point is a filled disc; an occluded one a hollow, faded circle; a trail is the polyline of
the last ``trail_length`` positions, fading with age and fainter where either end is occluded. ``legend_band``
draws the key to these under a picture.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["index_colors", "position_colors", "draw_tracks", "draw_tracks_video", "draw_summary",
           "side_by_side", "colorize_depth", "rgb_to_uint8", "legend_band", "LEGEND_MIN_WIDTH"]

_SHIFT = 4                  # OpenCV fixed-point bits: positions drawn to 1/16 px
_FADED_ALPHA = 0.45         # opacity of occluded points and trails
_TRAIL_LEVELS = 4           # a trail fades with age in this many steps (one drawing layer each)
LEGEND_MIN_WIDTH = 320
"""Pictures narrower than this get no legend: its text would not be legible."""


def index_colors(num_points: int, cmap: str = "gist_rainbow") -> np.ndarray:
    """uint8 ``[N, 3]``: the colormap sampled evenly by point index (the official viz colours by index)."""
    import matplotlib

    values = np.linspace(0.0, 1.0, max(num_points, 1))[:num_points]
    return (matplotlib.colormaps[cmap](values)[:, :3] * 255).round().astype(np.uint8)


def position_colors(xy: np.ndarray, image_hw: tuple[int, int], cmap: str = "gist_rainbow") -> np.ndarray:
    """uint8 ``[N, 3]``: colour by where each point starts (``xy [N, 2]`` px), the paper's rainbow grid.

    The hue runs down the rows (y) with a small shift across (x), so neighbours share similar colours and a
    grid reads as rainbow bands that bend with the motion.
    """
    import matplotlib

    h, w = image_hw
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    values = 0.85 * xy[:, 1] / max(h - 1, 1) + 0.15 * xy[:, 0] / max(w - 1, 1)
    return (matplotlib.colormaps[cmap](np.clip(values, 0, 1))[:, :3] * 255).round().astype(np.uint8)


def draw_tracks(frame: np.ndarray, tracks: np.ndarray, occluded: np.ndarray, t: int, colors: np.ndarray,
                trail_length: int = 10, radius: int = 3, linewidth: int = 1, fade: bool = True) -> np.ndarray:
    """Frame ``t`` of the video with every point at ``t`` and its trail over frames ``t - trail_length .. t``.

    ``frame [H, W, 3]`` uint8; ``tracks [N, T, 2]``, ``occluded [N, T]``, ``colors [N, 3]``. With ``fade``, older
    trail segments are drawn fainter (in ``_TRAIL_LEVELS`` steps). Returns a new image.
    """
    first = max(0, t - max(int(trail_length), 0))
    trail = _fixed_point(tracks[:, first:t + 1]).tolist()  # OpenCV wants Python ints
    hidden = occluded[:, first:t + 1]
    layers: dict[float, np.ndarray] = {}  # opacity -> what is drawn at that opacity
    for i, color in enumerate(colors.tolist()):
        for s in range(len(trail[i]) - 1):
            age = len(trail[i]) - 2 - s  # 0: the newest segment
            opacity = _trail_opacity(age, t - first, fade) * (_FADED_ALPHA if hidden[i, s] or hidden[i, s + 1]
                                                              else 1.0)
            canvas = layers.setdefault(opacity, frame.copy())
            cv2.line(canvas, trail[i][s], trail[i][s + 1], color, linewidth, cv2.LINE_AA, _SHIFT)
    for i, color in enumerate(colors.tolist()):
        centre = trail[i][-1]
        if occluded[i, t]:
            cv2.circle(layers.setdefault(_FADED_ALPHA, frame.copy()), centre, radius << _SHIFT, color, 1,
                       cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(layers.setdefault(1.0, frame.copy()), centre, radius << _SHIFT, color, -1, cv2.LINE_AA,
                       _SHIFT)
    return _composite(frame, layers)


def _trail_opacity(age: int, length: int, fade: bool) -> float:
    """1 for the newest segment, down to ``1 / _TRAIL_LEVELS`` for the oldest of ``length``."""
    if not fade or length <= 1:
        return 1.0
    return 1.0 - (age * _TRAIL_LEVELS // length) / _TRAIL_LEVELS


def legend_band(width: int, trail_length: int | None, note: str = "") -> np.ndarray:
    """A dark band uint8 ``[h, width, 3]`` that explains the drawing: colour = where the point was queried
    (a rainbow swatch), filled = visible, hollow = occluded, the trail's length (None: no trail), and ``note``."""
    scale = float(np.clip(width / 1400, 0.35, 0.9))
    height = int(round(44 * scale)) + 6
    band = np.full((height, width, 3), 30, np.uint8)
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 1.6))
    y, x, r = height // 2, int(10 * scale) + 4, max(3, int(9 * scale))
    swatch = position_colors(np.stack([np.linspace(0, 1, 40), np.linspace(0, 1, 40)], 1), (2, 2))
    for k, color in enumerate(swatch.tolist()):
        cv2.rectangle(band, (x + k, y - r), (x + k, y + r), color, -1)
    x = _label(band, x + 46, y, "colour = query position", font, scale, thick)
    cv2.circle(band, (x + r, y), r, (255, 255, 255), -1, cv2.LINE_AA)
    x = _label(band, x + 2 * r + 6, y, "visible", font, scale, thick)
    cv2.circle(band, (x + r, y), r, (255, 255, 255), max(1, thick), cv2.LINE_AA)
    x = _label(band, x + 2 * r + 6, y, "occluded", font, scale, thick)
    if trail_length:
        for k in range(_TRAIL_LEVELS):
            shade = int(255 * (k + 1) / _TRAIL_LEVELS)
            cv2.line(band, (x + 10 * k, y), (x + 10 * k + 10, y), (shade, shade, shade), thick + 1, cv2.LINE_AA)
        x = _label(band, x + 10 * _TRAIL_LEVELS + 6, y, f"trail: last {trail_length} frames", font, scale, thick)
    if note:
        _label(band, x, y, note, font, scale, thick)
    return band


def _label(band: np.ndarray, x: int, y: int, text: str, font: int, scale: float, thick: int) -> int:
    """Write ``text`` left-aligned at ``x``, centred on row ``y``; return where the next item starts."""
    (w, h), _ = cv2.getTextSize(text, font, scale, thick)
    cv2.putText(band, text, (x, y + h // 2), font, scale, (235, 235, 235), thick, cv2.LINE_AA)
    return x + w + int(28 * scale) + 6


def draw_tracks_video(frames: np.ndarray, tracks: np.ndarray, occluded: np.ndarray, colors: np.ndarray,
                      trail_length: int = 10, radius: int = 3, linewidth: int = 1) -> np.ndarray:
    """Every frame of ``frames [T, H, W, 3]`` with :func:`draw_tracks` -> uint8 ``[T, H, W, 3]``."""
    _check_video(frames, tracks)
    return np.stack([draw_tracks(frame, tracks, occluded, t, colors, trail_length, radius, linewidth)
                     for t, frame in enumerate(frames)])


def draw_summary(frame: np.ndarray, tracks: np.ndarray, occluded: np.ndarray, start: np.ndarray,
                 colors: np.ndarray, radius: int = 3, linewidth: int = 1, dim: float = 0.6) -> np.ndarray:
    """One still: ``frame`` dimmed, every whole trajectory, and the start points ``start [N, 2]`` px as discs.

    Trails are solid where visible and faded where occluded; start points get a dark outline so they stand
    out from the trails.
    """
    base = (frame.astype(np.float32) * dim).round().astype(np.uint8)
    image = draw_tracks(base, tracks, occluded, tracks.shape[1] - 1, colors, tracks.shape[1], 0, linewidth,
                        fade=False)
    centres = _fixed_point(np.asarray(start, np.float32).reshape(-1, 2)).tolist()
    for centre, color in zip(centres, colors.tolist()):
        cv2.circle(image, centre, (radius + 1) << _SHIFT, (0, 0, 0), -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(image, centre, radius << _SHIFT, color, -1, cv2.LINE_AA, _SHIFT)
    return image


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Concatenate two images ``[H, W, 3]`` or videos ``[T, H, W, 3]`` of the same height along the width."""
    if left.shape[:-2] != right.shape[:-2]:
        raise ValueError(f"side by side needs the same frame count and height, got {left.shape} and {right.shape}")
    return np.concatenate([left, right], axis=-2)


def colorize_depth(depth: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """Pseudo-depth ``[T, H, W]`` (or ``[H, W]``) -> uint8 RGB through ``cmap``, min-max normalised over all of
    it, as the official viz (near = blue with jet). A constant depth maps to the colormap's bottom."""
    import matplotlib

    depth = np.nan_to_num(np.asarray(depth, np.float64))
    low, span = depth.min(), depth.max() - depth.min()
    normalised = (depth - low) / span if span > 0 else np.zeros_like(depth)
    return (matplotlib.colormaps[cmap](normalised)[..., :3] * 255).round().astype(np.uint8)


def rgb_to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in ``[0, 1]`` (any leading shape) -> uint8, clipped."""
    return (np.clip(np.nan_to_num(np.asarray(rgb, np.float64)), 0.0, 1.0) * 255).round().astype(np.uint8)


def _fixed_point(points: np.ndarray) -> np.ndarray:
    """Pixels -> int32 OpenCV fixed point (centres at integers match OpenCV's own convention)."""
    return np.round(np.nan_to_num(points, nan=-1e4) * (1 << _SHIFT)).clip(-2**28, 2**28).astype(np.int32)


def _composite(frame: np.ndarray, layers: dict[float, np.ndarray]) -> np.ndarray:
    """Blend what was drawn on each layer over ``frame`` at the layer's opacity, the most opaque on top."""
    out = frame.copy()
    for opacity, canvas in sorted(layers.items()):
        drawn = np.any(canvas != frame, axis=-1)
        out[drawn] = (out[drawn] * (1 - opacity) + canvas[drawn] * opacity).round().astype(np.uint8)
    return out


def _check_video(frames: np.ndarray, tracks: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    if frames.shape[0] != tracks.shape[1]:
        raise ValueError(f"the video has {frames.shape[0]} frames but the tracks cover {tracks.shape[1]}; "
                         "draw the tracks on the video they were computed for")
