"""Ground truth of omnimotion.synthetic.clip: rendering convention, exact flow, occlusion, tracks."""

import numpy as np
import pytest

from omnimotion.coords import pixel_grid
from omnimotion.synthetic import Ellipse, Layer, Polygon, SyntheticClip, render_clip

H, W, T = 24, 32, 6
BG_VELOCITY = np.array([0.37, -0.21])  # px/frame, sub-pixel on purpose
SPRITE_VELOCITY = np.array([1.25, 0.5])
SPRITE_RADIUS = 5.0
BG_OFFSET = np.array([-8.0, -8.0])  # image point of canonical (0, 0) at frame 0
SPRITE_START = np.array([6.0, 11.0])  # image position of the sprite centre at frame 0


def _translation(start: np.ndarray, velocity: np.ndarray) -> np.ndarray:
    transforms = np.zeros((T, 2, 3))
    transforms[:, :, :2] = np.eye(2)
    transforms[:, :, 2] = start + np.outer(np.arange(T), velocity)
    return transforms


def _ramp_texture(height: int, width: int) -> np.ndarray:
    """R = 4u + 20, G = 4v + 20, B = 100 at canonical pixel (u, v): the colour tells the texture point."""
    v, u = np.mgrid[0:height, 0:width]
    return np.stack([4 * u + 20, 4 * v + 20, np.full_like(u, 100)], axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def two_layer_clip() -> SyntheticClip:
    """Ramp background translating by BG_VELOCITY, disc sprite of radius 5 translating by SPRITE_VELOCITY."""
    sprite_texture = np.full((13, 13, 3), (250, 0, 0), np.uint8)
    disc = Ellipse(centre=(6.0, 6.0), semi_axes=(SPRITE_RADIUS, SPRITE_RADIUS))
    layers = [Layer(_ramp_texture(50, 50), _translation(BG_OFFSET, BG_VELOCITY)),
              Layer(sprite_texture, _translation(SPRITE_START - 6.0, SPRITE_VELOCITY), disc)]
    return render_clip(layers, H, W)


def _sprite_centre(t: int) -> np.ndarray:
    return SPRITE_START + t * SPRITE_VELOCITY


def test_render_shows_texture_point_at_inverse_transform(two_layer_clip):
    # Background pixel (x, y) of frame t shows canonical u = (x, y) - BG_OFFSET - t * BG_VELOCITY, so
    # R = 4 u_x + 20. Rounding to uint8 costs <= 0.5 and warpAffine's 1/32 px grid <= 4/64; a half-pixel
    # convention slip would cost 2 grey levels.
    grid = pixel_grid(H, W).astype(np.float64)
    for t in range(T):
        canonical = grid - BG_OFFSET - t * BG_VELOCITY
        expected = 4 * canonical + 20
        on_bg = two_layer_clip.layer_ids[t] == 0
        error = np.abs(two_layer_clip.video[t, ..., :2].astype(float) - expected)[on_bg]
        assert error.max() < 0.75


def test_render_matches_inverse_transform_under_rotation_and_scale():
    # A(t) rotates by 4t degrees and scales by 1.05^t about canonical (25, 25), placed at image (15.5, 11.5);
    # the ramp texture's colour must read back A(t)^{-1} p at every pixel (same 0.75 bound as above).
    angle, scale = np.deg2rad(4.0 * np.arange(T)), 1.05 ** np.arange(T)
    linear = scale[:, None, None] * np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1),
                                              np.stack([np.sin(angle), np.cos(angle)], -1)], -2)
    offset = np.array([15.5, 11.5]) - linear @ np.array([25.0, 25.0])
    transforms = np.concatenate([linear, offset[:, :, None]], axis=-1)
    clip = render_clip([Layer(_ramp_texture(50, 50), transforms)], H, W)
    grid = pixel_grid(H, W).astype(np.float64)
    for t in range(T):
        canonical = (grid - offset[t]) @ np.linalg.inv(linear[t]).T
        assert np.abs(clip.video[t, ..., :2] - (4 * canonical + 20)).max() < 0.75


def test_layer_ids_mark_the_disc(two_layer_clip):
    grid = pixel_grid(H, W).astype(np.float64)
    for t in range(T):
        in_disc = np.linalg.norm(grid - _sprite_centre(t), axis=-1) <= SPRITE_RADIUS
        np.testing.assert_array_equal(two_layer_clip.layer_ids[t] == 1, in_disc)
        assert (two_layer_clip.video[t][in_disc] == (250, 0, 0)).all()


def test_pure_translation_flow_is_velocity_times_gap(two_layer_clip):
    for i, j in [(0, 1), (0, 5), (4, 1)]:
        flow, _ = two_layer_clip.flow(i, j)
        ids = two_layer_clip.layer_ids[i]
        np.testing.assert_allclose(flow[ids == 0], np.broadcast_to(BG_VELOCITY * (j - i), flow[ids == 0].shape),
                                   atol=1e-5)
        np.testing.assert_allclose(flow[ids == 1],
                                   np.broadcast_to(SPRITE_VELOCITY * (j - i), flow[ids == 1].shape), atol=1e-5)


def test_occlusion_of_background_by_disc_known_answer(two_layer_clip):
    # A background pixel p of frame i lands at p + g * BG_VELOCITY in frame j (g = j - i); it is occluded
    # exactly when that point is within 5 px of the disc centre at j, or outside [0, 31] x [0, 23].
    grid = pixel_grid(H, W).astype(np.float64)
    for i, j in [(0, 5), (5, 0), (2, 3)]:
        _, occluded = two_layer_clip.flow(i, j)
        landed = grid + (j - i) * BG_VELOCITY
        outside = (landed[..., 0] < 0) | (landed[..., 0] > W - 1) | (landed[..., 1] < 0) | (landed[..., 1] > H - 1)
        covered = np.linalg.norm(landed - _sprite_centre(j), axis=-1) <= SPRITE_RADIUS
        on_bg = two_layer_clip.layer_ids[i] == 0
        np.testing.assert_array_equal(occluded[on_bg], (outside | covered)[on_bg])
        assert covered[on_bg].any()  # the case is not vacuous


def test_track_follows_surface_and_reports_occlusion(two_layer_clip):
    # Query 1 sits on the disc centre at frame 2. Query 2 is background at frame 0, 8.4 px from the disc
    # centre (6, 11), and lands sqrt(10) px from the disc centre at frame 4, under the disc.
    queries = np.array([[2, *_sprite_centre(2)], [0, *(_sprite_centre(4) + (3, 1) - 4 * BG_VELOCITY)]])
    tracks, occluded = two_layer_clip.track(queries)
    expected_sprite = _sprite_centre(np.arange(T)[:, None])
    np.testing.assert_allclose(tracks[0], expected_sprite, atol=1e-5)
    np.testing.assert_allclose(tracks[1], queries[1, 1:] + np.arange(T)[:, None] * BG_VELOCITY, atol=1e-5)
    assert not occluded[0].any()  # the disc is nearest; its centre goes (6, 11) -> (12.25, 13.5), in frame
    assert occluded[1, 4] and not occluded[1, 0]  # background point under the disc at frame 4


def test_polygon_contains_even_odd_known_points():
    # L-shaped hexagon: the square [0, 4]^2 without its top-right quarter [2, 4] x [0, 2] (y points down).
    shape = Polygon(np.array([[0, 0], [2, 0], [2, 2], [4, 2], [4, 4], [0, 4]], float))
    points = np.array([[1, 1], [3, 3], [3, 1], [5, 1], [1, 3.9], [-0.1, 2]])
    np.testing.assert_array_equal(shape.contains(points), [True, True, False, False, True, False])


def test_ellipse_contains_rotated_axes():
    # Semi-axes 4 (along 90 degrees, i.e. +y) and 1 (along x) around (10, 10).
    shape = Ellipse(centre=(10.0, 10.0), semi_axes=(4.0, 1.0), angle=np.pi / 2)
    points = np.array([[10, 13.9], [10, 14.1], [10.9, 10], [11.1, 10]])
    np.testing.assert_array_equal(shape.contains(points), [True, False, True, False])


def test_render_clip_rejects_bad_layers():
    texture = np.zeros((8, 8, 3), np.uint8)
    disc = Ellipse((4.0, 4.0), (2.0, 2.0))
    with pytest.raises(ValueError, match="layer 0 is the background"):
        render_clip([Layer(texture, _translation(np.zeros(2), np.zeros(2)), disc)], 8, 8)
    with pytest.raises(ValueError, match="layer 1 transforms have shape"):
        render_clip([Layer(texture, _translation(np.zeros(2), np.zeros(2))),
                     Layer(texture, np.zeros((T + 1, 2, 3)), disc)], 8, 8)


def test_flow_and_track_reject_bad_arguments(two_layer_clip):
    with pytest.raises(ValueError, match="frame index 6"):
        two_layer_clip.flow(0, T)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        two_layer_clip.track(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="query frames must be integers"):
        two_layer_clip.track(np.array([[0.5, 1.0, 1.0]]))
