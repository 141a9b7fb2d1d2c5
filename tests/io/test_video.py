"""Reading frames from videos and folders, range/stride/resize, and every bad-input error."""

import cv2
import numpy as np
import pytest

from omnimotion.io.datadir import CorruptFileError
from omnimotion.io.video import read_frames, resize_longest_side, video_fps, write_video


def _frames(count: int = 6, height: int = 40, width: int = 60) -> np.ndarray:
    """Frames that are easy to tell apart after lossy coding: frame t is a flat grey of level 25 * t."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    for t in range(count):
        frames[t] = 25 * t
        frames[t, :, :, 0] = 200  # a constant red channel checks that RGB order survives
    return frames


def _write_folder(folder, frames, ext=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{t:05d}{ext}"), frame[..., ::-1])
    return folder


def test_folder_round_trip_is_exact_for_png(tmp_path):
    frames = _frames()
    out = read_frames(_write_folder(tmp_path / "f", frames))
    assert out.dtype == np.uint8 and out.shape == (6, 40, 60, 3)
    np.testing.assert_array_equal(out, frames)


def test_data_directory_uses_its_color_folder(tmp_path):
    frames = _frames(3)
    _write_folder(tmp_path / "seq" / "color", frames)
    np.testing.assert_array_equal(read_frames(tmp_path / "seq"), frames)


@pytest.mark.parametrize("ext", [".mp4", ".gif", ".avi"])
def test_video_round_trip_keeps_order_colour_and_fps(tmp_path, ext):
    frames = _frames()
    path = write_video(frames, tmp_path / f"clip{ext}", fps=8)
    out = read_frames(path)
    assert out.shape == frames.shape
    # Lossy codecs: flat frames come back within a few grey levels; levels are 25 apart, so order is exact.
    assert np.abs(out.astype(int) - frames).max() <= 6
    assert video_fps(path) == pytest.approx(8, rel=0.05)
    assert video_fps(tmp_path) is None


def test_range_stride_and_resize(tmp_path):
    frames = _frames(10, 40, 60)
    folder = _write_folder(tmp_path / "f", frames)
    out = read_frames(folder, start=1, end=8, stride=3, max_side=30)
    # Frames 1, 4, 7; 60x40 shrunk to longest side 30 -> 30x20.
    assert out.shape == (3, 20, 30, 3)
    np.testing.assert_array_equal(out[:, 0, 0, 1], [25, 100, 175])
    video = write_video(frames, tmp_path / "clip.mp4", fps=10)
    assert np.abs(read_frames(video, start=2, end=None, stride=4)[:, 5, 5, 1].astype(int) - [50, 150]).max() <= 4


def test_resize_keeps_aspect_and_never_enlarges():
    image = np.zeros((480, 854, 3), np.uint8)
    assert resize_longest_side(image, 256).shape == (144, 256, 3)  # 480 * 256 / 854 = 143.9
    assert resize_longest_side(image, 1000) is image
    assert resize_longest_side(image, None) is image


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.mp4 does not exist; give a video file"):
        read_frames(tmp_path / "nothing.mp4")


def test_corrupt_and_empty_videos(tmp_path):
    (tmp_path / "bad.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(CorruptFileError, match="cannot decode video .*bad.mp4"):
        read_frames(tmp_path / "bad.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.mp4 is empty \(0 bytes\)"):
        read_frames(tmp_path / "empty.mp4")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="neither a folder nor a video"):
        read_frames(tmp_path / "notes.txt")


def test_single_frame_is_refused(tmp_path):
    folder = _write_folder(tmp_path / "f", _frames(1))
    with pytest.raises(ValueError, match=r"gives 1 frame\(s\).*needs at least 2 frames"):
        read_frames(folder)
    video = write_video(_frames(5), tmp_path / "clip.mp4")
    with pytest.raises(ValueError, match=r"gives 1 frame\(s\) with start=4.*the source has 5"):
        read_frames(video, start=4)


def test_empty_folder_and_mismatched_sizes(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .jpg/.png frames"):
        read_frames(tmp_path / "empty")
    folder = _write_folder(tmp_path / "f", _frames(3))
    cv2.imwrite(str(folder / "00003.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="frame 00003.png is 10x10 but the first selected frame is 60x40"):
        read_frames(folder)
    (folder / "00004.png").write_bytes(b"broken")
    with pytest.raises(CorruptFileError, match="00004.png is damaged"):
        read_frames(folder, start=4)


def test_write_video_rejects_bad_frames_and_suffix(tmp_path):
    with pytest.raises(ValueError, match="uint8 \\[T, H, W, 3\\]"):
        write_video(np.zeros((2, 8, 8), np.uint8), tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="cannot write video .*a.xyz"):
        write_video(_frames(2), tmp_path / "a.xyz")
    assert not list(tmp_path.iterdir())  # nothing half-written left behind
