"""Random scenes of omnimotion.synthetic.scenes: their ground truth agrees with their pixels."""

import cv2
import numpy as np
import pytest

from omnimotion.coords import pixel_grid
from omnimotion.synthetic import make_clip, sample_queries

PAIRS = [(0, 5), (3, 17), (20, 2), (9, 10)]


@pytest.fixture(scope="module", params=[("mixed", 0), ("mixed", 1), ("translate", 2)], ids=str)
def clip(request):
    motion, seed = request.param
    return make_clip(num_frames=24, height=64, width=64, num_sprites=2, motion=motion, seed=seed)


def _interior(ids: np.ndarray, layer: int, radius: int) -> np.ndarray:
    """Pixels of ``layer`` at least ``radius`` px (chessboard) from any other layer."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.erode((ids == layer).astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)


def _landing_interior(clip, i: int, j: int, flow: np.ndarray, radius: int) -> np.ndarray:
    """Pixels of frame i in the interior of their layer whose landing point is in that layer's interior in j."""
    landed = np.round(pixel_grid(clip.height, clip.width) + flow).astype(int)
    lx = np.clip(landed[..., 0], 0, clip.width - 1)
    ly = np.clip(landed[..., 1], 0, clip.height - 1)
    ids = clip.layer_ids[i]
    keep = np.zeros(ids.shape, bool)
    for k in np.unique(ids):
        keep |= _interior(ids, k, radius) & _interior(clip.layer_ids[j], k, radius)[ly, lx] & (ids == k)
    return keep


def test_warping_frame_j_with_exact_flow_reproduces_frame_i(clip):
    # Double bilinear resampling (render, then remap) blurs the anti-aliased texture edges a little: measured
    # means are 0.4-1.5 grey levels away from layer boundaries and < 2 over all unoccluded pixels.
    grid = pixel_grid(clip.height, clip.width)
    for i, j in PAIRS:
        flow, occluded = clip.flow(i, j)
        landed = grid + flow
        warped = cv2.remap(clip.video[j], landed[..., 0], landed[..., 1], cv2.INTER_LINEAR)
        error = np.abs(warped.astype(float) - clip.video[i]).mean(axis=-1)
        away = ~occluded & _landing_interior(clip, i, j, flow, radius=2)
        assert away.mean() > 0.3
        assert error[away].mean() < 3.0
        assert error[~occluded].mean() < 4.0
        # A wrong flow is caught: shifting it by one pixel makes the error much larger.
        shifted = cv2.remap(clip.video[j], landed[..., 0] + 1, landed[..., 1], cv2.INTER_LINEAR)
        assert np.abs(shifted.astype(float) - clip.video[i]).mean(axis=-1)[away].mean() > 3 * error[away].mean()


def _bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Float64 bilinear sampling of ``image`` [H, W, C] at points [..., 2] (x, y), clamped to the frame.

    cv2.remap quantises its weights to 1/32, too coarse for a 1e-3 px check."""
    x = np.clip(points[..., 0], 0, image.shape[1] - 1)
    y = np.clip(points[..., 1], 0, image.shape[0] - 1)
    x0 = np.minimum(np.floor(x).astype(int), image.shape[1] - 2)
    y0 = np.minimum(np.floor(y).astype(int), image.shape[0] - 2)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def test_flow_cycle_returns_to_start(clip):
    # Within one layer the motion is affine, so bilinear sampling of flow(j, i) is exact (up to float32
    # storage) where all four neighbours of the landing point lie on the same layer (1 px interior).
    grid = pixel_grid(clip.height, clip.width)
    for i, j in PAIRS:
        forward, occluded = clip.flow(i, j)
        backward, _ = clip.flow(j, i)
        landed = grid + forward
        back = _bilinear(backward.astype(np.float64), landed.astype(np.float64))
        keep = ~occluded & _landing_interior(clip, i, j, forward, radius=1)
        assert keep.mean() > 0.3
        assert np.abs(forward + back)[keep].max() < 1e-3


def test_rendered_layer_ids_match_visible_layer(clip):
    # render_clip tests each sprite only inside its pixel window; the result must equal the plain query.
    grid = pixel_grid(clip.height, clip.width).astype(np.float64)
    for t in range(clip.num_frames):
        np.testing.assert_array_equal(clip.layer_ids[t], clip.visible_layer(t, grid))


def test_track_agrees_with_flow(clip):
    i = 7
    grid = pixel_grid(clip.height, clip.width).reshape(-1, 2)
    queries = np.concatenate([np.full((len(grid), 1), i), grid], axis=1)
    tracks, occluded = clip.track(queries)
    for j in (0, 7, 23):
        flow, occluded_in_j = clip.flow(i, j)
        np.testing.assert_allclose(tracks[:, j], grid + flow.reshape(-1, 2), atol=1e-4)
        np.testing.assert_array_equal(occluded[:, j], occluded_in_j.reshape(-1))
    assert not occluded[:, i].any()  # every pixel shows some surface in its own frame


def test_occlusion_matches_rendered_layers(clip):
    # Independent of the analytic shapes: where the landing point is well inside a rendered region of frame
    # j, occluded_in_j must equal "outside the frame, or that region belongs to another (nearer) layer".
    grid = pixel_grid(clip.height, clip.width)
    checked_occluded = 0
    for i, j in PAIRS:
        flow, occluded = clip.flow(i, j)
        landed = grid + flow
        outside = ((landed < 0) | (landed > [clip.width - 1, clip.height - 1])).any(axis=-1)
        lx = np.clip(np.round(landed[..., 0]).astype(int), 0, clip.width - 1)
        ly = np.clip(np.round(landed[..., 1]).astype(int), 0, clip.height - 1)
        ids_j = clip.layer_ids[j]
        solid = np.zeros(ids_j.shape, bool)
        for k in np.unique(ids_j):
            solid |= _interior(ids_j, k, 1)
        checkable = solid[ly, lx] & ~outside
        other_layer = ids_j[ly, lx] != clip.layer_ids[i]
        np.testing.assert_array_equal(occluded[checkable], other_layer[checkable])
        assert occluded[outside].all()
        checked_occluded += (occluded & checkable).sum()
    assert checked_occluded > 0  # some occlusion by a nearer layer was actually checked


@pytest.mark.parametrize("seed", range(4))
def test_mixed_sprites_overlap_and_one_leaves_the_frame(seed):
    clip = make_clip(num_frames=24, height=64, width=64, num_sprites=2, motion="mixed", seed=seed)
    grid = pixel_grid(64, 64).astype(np.float64)
    overlap = [np.sum(clip.layers[1].covers(t, grid) & clip.layers[2].covers(t, grid)) for t in range(24)]
    assert max(overlap) > 0  # sprite 2 hides part of sprite 1 at some frame
    sprite1_pixels = (clip.layer_ids == 1).sum(axis=(1, 2))
    assert sprite1_pixels.max() > 0 and sprite1_pixels[-1] == 0
    # Rotation and scale: the sprite's linear part is not the identity.
    linear = clip.layers[2].transforms[:, :, :2]
    assert np.abs(linear[-1] - linear[0]).max() > 1e-2


def test_translate_motion_has_constant_velocity_per_layer():
    clip = make_clip(num_frames=12, height=48, width=40, num_sprites=2, motion="translate", seed=5)
    for layer in clip.layers:
        np.testing.assert_array_equal(layer.transforms[:, :, :2], np.broadcast_to(np.eye(2), (12, 2, 2)))
        steps = np.diff(layer.transforms[:, :, 2], axis=0)
        np.testing.assert_allclose(steps, np.broadcast_to(steps[0], steps.shape), atol=1e-9)
    flow_1, _ = clip.flow(2, 3)
    flow_4, _ = clip.flow(2, 6)
    np.testing.assert_allclose(flow_4, 4 * flow_1, atol=1e-4)
    assert np.abs(flow_1 - np.round(flow_1)).max() > 0.05  # velocities are sub-pixel


def test_background_only_clip_is_pure_camera_motion():
    clip = make_clip(num_frames=10, height=40, width=48, num_sprites=0, motion="mixed", seed=3)
    assert len(clip.layers) == 1 and not clip.layer_ids.any()
    flow, occluded = clip.flow(0, 9)
    landed = pixel_grid(40, 48) + flow
    outside = ((landed < 0) | (landed > [47, 39])).any(axis=-1)
    np.testing.assert_array_equal(occluded, outside)


def test_same_seed_same_clip_other_seed_differs():
    first = make_clip(num_frames=6, height=32, width=32, seed=11)
    again = make_clip(num_frames=6, height=32, width=32, seed=11)
    other = make_clip(num_frames=6, height=32, width=32, seed=12)
    np.testing.assert_array_equal(first.video, again.video)
    np.testing.assert_array_equal(first.layer_ids, again.layer_ids)
    np.testing.assert_array_equal(first.flow(0, 5)[0], again.flow(0, 5)[0])
    assert np.abs(first.video.astype(int) - other.video).mean() > 10


def test_make_clip_shapes_and_errors():
    clip = make_clip(num_frames=5, height=30, width=44, num_sprites=3, seed=0)
    assert clip.video.shape == (5, 30, 44, 3) and clip.video.dtype == np.uint8
    assert clip.layer_ids.shape == (5, 30, 44) and clip.layer_ids.dtype == np.int16
    assert (clip.num_frames, clip.height, clip.width) == (5, 30, 44)
    flow, occluded = clip.flow(1, 3)
    assert flow.shape == (30, 44, 2) and flow.dtype == np.float32 and occluded.dtype == bool
    with pytest.raises(ValueError, match="motion='spin'"):
        make_clip(motion="spin")
    with pytest.raises(ValueError, match="num_sprites >= 0"):
        make_clip(num_sprites=-1)


@pytest.mark.parametrize("mode", ["strided", "first"])
def test_sample_queries_are_visible_and_cover_every_layer(clip, mode):
    queries = sample_queries(clip, 60, seed=4, mode=mode)
    assert queries.shape == (60, 3) and queries.dtype == np.float32
    frames = queries[:, 0].astype(int)
    tracks, occluded = clip.track(queries)
    assert not occluded[np.arange(60), frames].any()
    if mode == "strided":
        assert (frames % 5 == 0).all()
    else:
        # Query frame is the first visible one.
        before = np.arange(clip.num_frames)[None] < frames[:, None]
        assert occluded[before].all()
    layers = {int(clip.visible_layer(int(t), xy)) for t, xy in zip(frames, queries[:, 1:].astype(float))}
    assert layers == {0, 1, 2}
    np.testing.assert_array_equal(queries, sample_queries(clip, 60, seed=4, mode=mode))


def test_sample_queries_rejects_bad_arguments(clip):
    with pytest.raises(ValueError, match="mode='random'"):
        sample_queries(clip, 5, mode="random")
    with pytest.raises(ValueError, match="num_points must be >= 1"):
        sample_queries(clip, 0)
