"""Pure drawing of tracks on frames: numpy in, numpy out (OpenCV anti-aliased drawing, matplotlib colours).

Images are uint8 ``[H, W, 3]`` RGB, videos uint8 ``[T, H, W, 3]``. Tracks follow ``omnimotion.coords``:
``tracks [N, T, 2]`` (x, y) pixels with integer pixel centres, ``occluded [N, T]`` True = occluded, and the
frames drawn on must have the size the tracks refer to. Colours are uint8 ``[N, 3]`` RGB, one per point.

Style: a visible point is a filled disc; an occluded one a hollow, faded circle; a trail is the polyline of
the last ``trail_length`` positions, faded where either end is occluded.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["index_colors", "position_colors", "draw_tracks", "draw_tracks_video", "draw_summary",
           "side_by_side", "colorize_depth", "rgb_to_uint8"]

_SHIFT = 4                  # OpenCV fixed-point bits: positions drawn to 1/16 px
_FADED_ALPHA = 0.45         # opacity of occluded points and trails


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
                trail_length: int = 10, radius: int = 3, linewidth: int = 1) -> np.ndarray:
    """Frame ``t`` of the video with every point at ``t`` and its trail over frames ``t - trail_length .. t``.

    ``frame [H, W, 3]`` uint8; ``tracks [N, T, 2]``, ``occluded [N, T]``, ``colors [N, 3]``. Returns a new image.
    """
    first = max(0, t - max(int(trail_length), 0))
    trail = _fixed_point(tracks[:, first:t + 1]).tolist()  # OpenCV wants Python ints
    hidden = occluded[:, first:t + 1]
    faded, solid = frame.copy(), frame.copy()
    for i, color in enumerate(colors.tolist()):
        for s in range(len(trail[i]) - 1):  # segments: faded when either end is hidden
            target = faded if hidden[i, s] or hidden[i, s + 1] else solid
            cv2.line(target, trail[i][s], trail[i][s + 1], color, linewidth, cv2.LINE_AA, _SHIFT)
    for i, color in enumerate(colors.tolist()):
        centre = trail[i][-1]
        if occluded[i, t]:
            cv2.circle(faded, centre, radius << _SHIFT, color, 1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(solid, centre, radius << _SHIFT, color, -1, cv2.LINE_AA, _SHIFT)
    return _composite(frame, faded, solid)


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
    image = draw_tracks(base, tracks, occluded, tracks.shape[1] - 1, colors, tracks.shape[1], 0, linewidth)
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


def _composite(frame: np.ndarray, faded: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """Blend what was drawn on ``faded`` at ``_FADED_ALPHA``, then put what was drawn on ``solid`` on top."""
    out = frame.copy()
    touched = np.any(faded != frame, axis=-1)
    out[touched] = (frame[touched] * (1 - _FADED_ALPHA) + faded[touched] * _FADED_ALPHA).round().astype(np.uint8)
    drawn = np.any(solid != frame, axis=-1)
    out[drawn] = solid[drawn]
    return out


def _check_video(frames: np.ndarray, tracks: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    if frames.shape[0] != tracks.shape[1]:
        raise ValueError(f"the video has {frames.shape[0]} frames but the tracks cover {tracks.shape[1]}; "
                         "draw the tracks on the video they were computed for")
