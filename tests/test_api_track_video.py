"""``omnimotion.track_video``: one call from frames to track arrays in the video's pixels."""

import numpy as np
import pytest

import omnimotion
from omnimotion.synthetic import make_clip
from omnimotion.track import QueryError

TINY = {"num_iters": 4, "i_weight": 2, "num_pts": 16, "num_pairs": 2}


@pytest.fixture(scope="module")
def pan():
    """A 5-frame 80x48 pan with known motion (background only, constant velocity)."""
    return make_clip(num_frames=5, height=48, width=80, num_sprites=0, motion="translate", seed=3)


def test_array_in_tracks_out_in_the_video_pixels(pan, tmp_path):
    points = [[70.0, 40.0], [10.0, 5.0]]  # (x, y) in pixels of the 80x48 frames
    tracks, visible = omnimotion.track_video(pan.video, points=points, frame=2, work_dir=tmp_path,
                                             overrides=TINY, progress=False)
    assert tracks.shape == (2, 5, 2) and visible.shape == (2, 5) and visible.dtype == bool
    np.testing.assert_allclose(tracks[:, 2], points)  # at the query frame the track is the query, seen
    assert visible[:, 2].all()
    truth, hidden = pan.track(np.array([[2, 70, 40], [2, 10, 5]], np.float32))
    seen = visible & ~hidden
    assert seen.sum() >= 6 and np.median(np.abs(tracks - truth)[seen]) < 1.5
    # a grid inside a mask, from the same work_dir (the model is reused)
    mask = np.zeros((48, 80), bool)
    mask[:24, :40] = True  # the top-left quarter: grid points (8, 8), (24, 8)... of a 16 px grid
    grid_tracks, _ = omnimotion.track_video(pan.video, grid=16, mask=mask, work_dir=tmp_path, overrides=TINY,
                                            progress=False)
    np.testing.assert_allclose(grid_tracks[:, 0], [[8, 8], [24, 8]])


@pytest.mark.parametrize("kwargs, message", [
    ({}, "one query source"),
    ({"points": [[1, 1]], "grid": 8}, "one query source"),
    ({"mask": np.ones((10, 10), bool)}, "the mask is 10x10 but the video is 80x48"),
    ({"points": [[85, 1]]}, "outside the 80x48 frame"),
])
def test_bad_queries_fail_before_training(pan, tmp_path, kwargs, message):
    with pytest.raises(QueryError, match=message):
        omnimotion.track_video(pan.video, work_dir=tmp_path, overrides=TINY, progress=False, **kwargs)
    assert not (tmp_path / "data" / "out").exists()  # nothing was trained
