"""Random synthetic scenes with known motion and occlusion, and query sampling on them.

``make_clip`` builds a textured background and ``num_sprites`` textured sprites (ellipses and star-shaped
polygons) whose motion is known exactly, and renders them (see ``omnimotion.synthetic.clip`` for the layer
model and conventions). Sprites are nearer the camera the higher their index; their paths all pass near the
image centre around mid-clip, so they occlude each other and the background. ``sample_queries`` returns
queries ``[N, 3]`` = (t, x, y) pixels as in ``omnimotion.coords``.
"""

from __future__ import annotations

import numpy as np

from omnimotion.synthetic.clip import Ellipse, Layer, Polygon, SyntheticClip, render_clip
from omnimotion.synthetic.textures import make_texture

__all__ = ["make_clip", "sample_queries", "MOTIONS", "QUERY_MODES"]

MOTIONS = ("translate", "mixed")
QUERY_MODES = ("strided", "first")
_TEXTURE_MARGIN_PX = 4
# TAP-Vid's strided protocol queries every 5th frame.
_QUERY_STRIDE = 5


def make_clip(num_frames: int = 24, height: int = 64, width: int = 64, num_sprites: int = 2,
              motion: str = "mixed", seed: int = 0) -> SyntheticClip:
    """A random layered clip, deterministic in ``seed``.

    ``motion="translate"``: background and sprites move at constant sub-pixel velocities, nothing else.
    ``motion="mixed"``: the background follows a slow global affine (translation, slight zoom and rotation);
    sprites translate, rotate and scale, and sprite 1 leaves the frame part-way through the clip.
    ``num_sprites=0`` gives a background-only clip (pure camera motion).
    """
    if motion not in MOTIONS:
        raise ValueError(f"motion={motion!r} is not one of {MOTIONS}")
    if num_frames < 1 or height < 8 or width < 8 or num_sprites < 0:
        raise ValueError(f"need num_frames >= 1, height and width >= 8, num_sprites >= 0; got {num_frames}, "
                         f"{height}, {width}, {num_sprites}")
    rng = np.random.default_rng(seed)
    layers = [_background_layer(rng, num_frames, height, width, motion)]
    base_direction = rng.uniform(0, 2 * np.pi)
    span = max(num_frames - 1, 1)
    # Sprites 1 and 2 pass (nearly) the same point at the same time, closer than the sum of their inner radii,
    # so they always overlap; early enough that sprite 1 can then leave the frame.
    shared_time = float(np.round(rng.uniform(0.3, 0.45) * span))  # a frame index
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    for k in range(1, num_sprites + 1):
        # Spread the directions so that paths cross instead of running side by side.
        direction = base_direction + np.pi * (k - 1) / num_sprites + rng.uniform(-0.3, 0.3)
        crossing = centre + rng.uniform(-0.03, 0.03, 2) * min(height, width)
        t_cross = shared_time if k <= 2 else rng.uniform(0.35, 0.65) * span
        layers.append(_sprite_layer(rng, num_frames, height, width, motion, direction, crossing, t_cross,
                                    exits=motion == "mixed" and k == 1))
    return render_clip(layers, height, width)


def _similarity(centre: np.ndarray, scale: np.ndarray, angle: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Transforms ``[T, 2, 3]`` taking canonical ``anchor`` to ``centre[t]``, scaled and rotated about it."""
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # [T, 2, 2]
    offset = centre - linear @ anchor
    return np.concatenate([linear, offset[:, :, None]], axis=-1)


def _background_layer(rng: np.random.Generator, num_frames: int, height: int, width: int,
                      motion: str) -> Layer:
    t = np.arange(num_frames, dtype=np.float64)
    frac = t / max(num_frames - 1, 1)
    speed = rng.uniform(0.3, 1.0) * max(1.0, min(height, width) / 128)
    heading = rng.uniform(0, 2 * np.pi)
    centre = np.array([(width - 1) / 2, (height - 1) / 2]) + np.outer(t, [np.cos(heading), np.sin(heading)]) * speed
    if motion == "mixed":
        scale = np.exp(rng.choice([-1, 1]) * rng.uniform(0.04, 0.1) * frac)
        angle = np.deg2rad(rng.choice([-1, 1]) * rng.uniform(2.0, 5.0)) * frac
    else:
        scale, angle = np.ones(num_frames), np.zeros(num_frames)
    # Canonical extent needed to fill every frame: image corners pulled back through each transform.
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], np.float64)
    linear_inv = _similarity(np.zeros((num_frames, 2)), 1 / scale, -angle, np.zeros(2))[:, :, :2]
    pulled = np.einsum("tij,tcj->tci", linear_inv, corners[None] - centre[:, None])
    half = np.ceil(np.abs(pulled).max(axis=(0, 1))) + _TEXTURE_MARGIN_PX  # (x, y)
    texture = make_texture(rng, int(2 * half[1]) + 1, int(2 * half[0]) + 1)
    return Layer(texture=texture, transforms=_similarity(centre, scale, angle, half))


def _sprite_layer(rng: np.random.Generator, num_frames: int, height: int, width: int, motion: str,
                  direction: float, crossing: np.ndarray, t_cross: float, exits: bool) -> Layer:
    """A sprite passing ``crossing`` at frame ``t_cross``; if ``exits``, it is fully out of frame by 85% of
    the clip."""
    t = np.arange(num_frames, dtype=np.float64)
    span = max(num_frames - 1, 1)
    radius = rng.uniform(0.13, 0.2) * min(height, width)
    half = int(np.ceil(radius)) + _TEXTURE_MARGIN_PX
    anchor = np.array([half, half], np.float64)
    shape = _random_shape(rng, anchor, radius)
    heading = np.array([np.cos(direction), np.sin(direction)])
    if motion == "mixed":
        amplitude = rng.uniform(0.05, 0.15)
        scale = np.exp(amplitude * np.sin(2 * np.pi * t / max(num_frames, 2) + rng.uniform(0, 2 * np.pi)))
        angle = rng.uniform(0, 2 * np.pi) + np.deg2rad(rng.choice([-1, 1]) * rng.uniform(1.0, 3.0)) * t
    else:
        amplitude, scale, angle = 0.0, np.ones(num_frames), np.zeros(num_frames)
    if exits:
        distance = _distance_to_border(crossing, heading, height, width) + radius * np.exp(amplitude) + 1.0
        speed = distance / max(0.85 * span - t_cross, 1e-6)
    else:
        speed = rng.uniform(0.3, 0.6) * min(height, width) / span
    centre = crossing + np.outer(t - t_cross, heading) * speed
    texture = make_texture(rng, 2 * half + 1, 2 * half + 1)
    return Layer(texture=texture, transforms=_similarity(centre, scale, angle, anchor), shape=shape)


def _random_shape(rng: np.random.Generator, anchor: np.ndarray, radius: float) -> Ellipse | Polygon:
    """An ellipse or a star-shaped polygon centred on ``anchor``, inside a disc of ``radius``."""
    if rng.random() < 0.5:
        return Ellipse(centre=(float(anchor[0]), float(anchor[1])),
                       semi_axes=(radius, radius * rng.uniform(0.6, 1.0)), angle=rng.uniform(0, np.pi))
    num_vertices = int(rng.integers(6, 10))
    # Jittered even angles keep every gap below 90 degrees, so the polygon's inner radius is >= 0.49 radius.
    angles = (np.arange(num_vertices) + rng.uniform(-0.25, 0.25, num_vertices)) * 2 * np.pi / num_vertices
    radii = radius * rng.uniform(0.7, 1.0, num_vertices)
    return Polygon(vertices=anchor + np.stack([np.cos(angles), np.sin(angles)], -1) * radii[:, None])


def _distance_to_border(start: np.ndarray, heading: np.ndarray, height: int, width: int) -> float:
    """How far ``start`` (inside the frame) travels along unit ``heading`` before leaving the frame."""
    limits = []
    for axis, size in ((0, width), (1, height)):
        step = heading[axis]
        if abs(step) > 1e-9:
            limits.append(((size - 1 if step > 0 else 0) - start[axis]) / step)
    return float(min(limits))


def sample_queries(clip: SyntheticClip, num_points: int, seed: int = 0, mode: str = "strided") -> np.ndarray:
    """Random query points float32 ``[N, 3]`` = (t, x, y) pixels, each on a surface visible at frame t.

    Points are spread evenly over the layers visible in their frame (so sprites are not drowned out by the
    background) and jittered to sub-pixel positions. ``mode="strided"``: t is a multiple of 5 (TAP-Vid
    strided protocol); ``mode="first"``: each query is moved along its track to the first frame where it is
    visible (TAP-Vid first protocol).
    """
    if mode not in QUERY_MODES:
        raise ValueError(f"mode={mode!r} is not one of {QUERY_MODES}")
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1; got {num_points}")
    rng = np.random.default_rng(seed)
    frames = np.arange(0, clip.num_frames, _QUERY_STRIDE if mode == "strided" else 1)
    queries = np.zeros((num_points, 3))
    for n in range(num_points):
        t = int(rng.choice(frames))
        ids = clip.layer_ids[t]
        layers = np.unique(ids)
        ys, xs = np.nonzero(ids == layers[n % len(layers)])
        pick = rng.integers(len(xs))
        point = np.array([xs[pick], ys[pick]]) + rng.uniform(-0.3, 0.3, 2)
        queries[n] = (t, *np.clip(point, 0, [clip.width - 1, clip.height - 1]))
    if mode == "first":
        tracks, occluded = clip.track(queries)
        first = np.argmax(~occluded, axis=1)  # the query frame itself is visible, so one always exists
        queries = np.concatenate([first[:, None], tracks[np.arange(num_points), first]], axis=1)
    return queries.astype(np.float32)
