"""TAP-Vid conventions: half-pixel raster shift, (t, y, x) order, round trips, query sampling."""

import numpy as np
import pytest

from omnimotion.eval.tapvid import (normalized_to_pixels, pixels_to_raster, queries_from_tapvid,
                                    queries_to_tapvid, raster_to_pixels, sample_queries, sample_queries_first,
                                    sample_queries_strided)


def test_pixel_centres_at_256_are_half_pixel_shifted():
    # Our top-left pixel centre (0, 0) is raster (0.5, 0.5); our (255, 255) is raster (255.5, 255.5).
    np.testing.assert_allclose(pixels_to_raster(np.array([[0.0, 0.0], [255.0, 255.0]]), 256, 256),
                               [[0.5, 0.5], [255.5, 255.5]])
    np.testing.assert_allclose(raster_to_pixels(np.array([10.5, 3.0]), 256, 256), [10.0, 2.5])


def test_other_resolution_scales_raster_not_pixels():
    # 512 x 128 (W x H): pixel centre x=0 spans raster [0, 1) of 512 -> [0, 0.5) of 256, centre 0.25.
    h, w = 128, 512
    np.testing.assert_allclose(pixels_to_raster(np.array([0.0, 0.0]), h, w), [0.25, 1.0])
    # The image corners (-0.5, -0.5) and (W-0.5, H-0.5) map to raster 0 and 256.
    np.testing.assert_allclose(pixels_to_raster(np.array([[-0.5, -0.5], [w - 0.5, h - 0.5]]), h, w),
                               [[0, 0], [256, 256]])


def test_normalized_points_to_pixels():
    # Stored TAP-Vid points in [0, 1]: 0.5 of a 480 x 854 frame is our pixel (426.5, 239.5).
    np.testing.assert_allclose(normalized_to_pixels(np.array([0.5, 0.5]), 480, 854), [426.5, 239.5])


@pytest.mark.parametrize("hw", [(256, 256), (480, 854), (37, 91)])
def test_round_trips(hw):
    rng = np.random.default_rng(0)
    pts = rng.uniform(-3, 300, (5, 7, 2))
    np.testing.assert_allclose(raster_to_pixels(pixels_to_raster(pts, *hw), *hw), pts, atol=1e-9)
    queries = np.concatenate([rng.integers(0, 9, (6, 1)), rng.uniform(0, 90, (6, 2))], axis=1)
    tapvid = queries_to_tapvid(queries, *hw)
    np.testing.assert_allclose(queries_from_tapvid(tapvid, *hw), queries, atol=1e-9)


def test_query_order_is_t_y_x():
    out = queries_to_tapvid(np.array([[3.0, 10.0, 20.0]]), 256, 256)  # ours (t, x, y)
    np.testing.assert_allclose(out, [[3.0, 20.5, 10.5]])


def _gt():
    # 3 tracks, 12 frames; track 0 visible from frame 2, track 1 always, track 2 never visible.
    tracks = np.arange(3 * 12 * 2, dtype=np.float32).reshape(3, 12, 2)
    occ = np.zeros((3, 12), bool)
    occ[0, :2] = True
    occ[2] = True
    return tracks, occ


def test_sample_queries_first():
    tracks, occ = _gt()
    qs = sample_queries_first(tracks, occ)
    np.testing.assert_array_equal(qs.trackgroup, [0, 1])
    np.testing.assert_array_equal(qs.queries[:, 0], [2, 0])
    np.testing.assert_allclose(qs.queries[0, 1:], tracks[0, 2])
    np.testing.assert_array_equal(qs.tracks, tracks[:2])


def test_sample_queries_strided_duplicates_tracks():
    tracks, occ = _gt()
    occ[1, 5] = True
    qs = sample_queries_strided(tracks, occ, stride=5)
    # frame 0: track 1; frame 5: track 0 (track 1 occluded there); frame 10: tracks 0, 1
    np.testing.assert_array_equal(qs.trackgroup, [1, 0, 0, 1])
    np.testing.assert_array_equal(qs.queries[:, 0], [0, 5, 10, 10])
    np.testing.assert_allclose(qs.queries[:, 1:], tracks[qs.trackgroup, qs.queries[:, 0].astype(int)])
    np.testing.assert_array_equal(qs.occluded, occ[qs.trackgroup])
    # every query point is visible at its own frame
    assert not qs.occluded[np.arange(4), qs.queries[:, 0].astype(int)].any()


def test_valid_mask_restricts_query_frames():
    tracks, occ = _gt()
    valid = np.zeros_like(occ)
    valid[:, 7::2] = True
    qs = sample_queries(tracks, occ, "first", valid=valid)
    np.testing.assert_array_equal(qs.queries[:, 0], [7, 7])
    np.testing.assert_array_equal(qs.valid, valid[:2])
    with pytest.raises(ValueError, match="query_mode"):
        sample_queries(tracks, occ, "sideways")
