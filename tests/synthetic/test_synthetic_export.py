"""omnimotion.synthetic.export: TAP-Vid npz, color/ frames and mp4 written from a synthetic clip."""

import av
import numpy as np
import pytest

from omnimotion.io.datadir import DataDir
from omnimotion.synthetic import TAPVID_PIXEL_OFFSET, make_clip, sample_queries, save_tapvid_npz
from omnimotion.synthetic import write_frames, write_video


@pytest.fixture(scope="module")
def clip():
    return make_clip(num_frames=12, height=32, width=48, num_sprites=2, motion="mixed", seed=7)


def test_save_tapvid_npz_round_trip(clip, tmp_path):
    path = tmp_path / "clip.npz"
    save_tapvid_npz(clip, path, num_points=20, seed=3)
    data = np.load(path)
    assert data["video"].dtype == np.uint8 and data["video"].shape == (12, 32, 48, 3)
    np.testing.assert_array_equal(data["video"], clip.video)
    points, occluded, query_frame = data["points"], data["occluded"], data["query_frame"]
    assert points.dtype == np.float32 and points.shape == (20, 12, 2)
    assert occluded.dtype == bool and occluded.shape == (20, 12)
    assert query_frame.dtype == np.int32 and query_frame.shape == (20,)
    np.testing.assert_array_equal(data["native_hw"], [32, 48])
    # NaN exactly where occluded, and the mixed clip has some occlusion to test.
    np.testing.assert_array_equal(np.isnan(points).any(-1), occluded)
    assert occluded.any() and not np.isnan(points[~occluded]).any()
    # Points are our pixel coordinates + 0.5 (TAP-Vid raster convention).
    tracks, expected_occluded = clip.track(sample_queries(clip, 20, seed=3, mode="strided"))
    np.testing.assert_array_equal(occluded, expected_occluded)
    np.testing.assert_allclose(points[~occluded] - TAPVID_PIXEL_OFFSET, tracks[~occluded], atol=1e-5)
    # The query frame is the first visible multiple of 5, as in the real files.
    assert (query_frame % 5 == 0).all()
    assert not occluded[np.arange(20), query_frame].any()
    for n, q in enumerate(query_frame):
        assert occluded[n, :q][np.arange(q) % 5 == 0].all()
    assert data["is_fg"].dtype == bool and data["is_fg"].any() and not data["is_fg"].all()


def test_write_frames_makes_a_readable_color_dir(clip, tmp_path):
    write_frames(clip, tmp_path / "color")
    data_dir = DataDir(tmp_path)
    assert data_dir.frame_names == [f"{t:05d}.jpg" for t in range(12)]
    frames = data_dir.load_frames()
    assert frames.shape == clip.video.shape
    # JPEG quality 95 at 4:4:4 measured 1.6 grey levels mean error here (a BGR swap would cost ~50).
    assert np.abs(frames.astype(float) - clip.video).mean() < 2.5


def test_write_video_makes_a_readable_mp4(clip, tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(clip, path, fps=8)
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert frames.shape == clip.video.shape
    # H.264 CRF 10 with 4:2:0 chroma measured 3.9 grey levels mean error here.
    assert np.abs(frames.astype(float) - clip.video).mean() < 6.0


def test_write_video_rejects_odd_size_and_bad_fps(clip, tmp_path):
    odd = make_clip(num_frames=2, height=33, width=48, num_sprites=0, seed=0)
    with pytest.raises(ValueError, match="even frame size"):
        write_video(odd, tmp_path / "odd.mp4")
    with pytest.raises(ValueError, match="fps must be positive"):
        write_video(clip, tmp_path / "clip.mp4", fps=0)
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind
