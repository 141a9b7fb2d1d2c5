"""Strict decoding: truncated or damaged JPEG/PNG files are errors naming the file; intact ones decode as
OpenCV decodes them (baseline, progressive, restart markers, 16-bit PNG)."""

import cv2
import numpy as np
import pytest

from omnimotion.cli.main import main
from omnimotion.io.datadir import CorruptFileError, DataDir
from omnimotion.io.images import image_damage, read_image
from omnimotion.io.video import read_frames


def textured(height: int = 96, width: int = 128) -> np.ndarray:
    """A photo-like frame: smooth gradients and mild noise."""
    ys, xs = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(0).normal(0, 8, (height, width, 3))
    image = np.stack([xs * 255 / width, ys * 255 / height, (xs + ys) * 127 / (width + height)], -1) + noise
    return np.clip(image, 0, 255).astype(np.uint8)


def write(path, image, params=()):
    assert cv2.imwrite(str(path), image, list(params))
    return path


@pytest.mark.parametrize("params", [(), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1), (cv2.IMWRITE_JPEG_RST_INTERVAL, 2)],
                         ids=["baseline", "progressive", "restart-markers"])
def test_intact_jpegs_decode_as_opencv_decodes_them(tmp_path, params):
    path = write(tmp_path / "a.jpg", textured(), params)
    np.testing.assert_array_equal(read_image(path), cv2.imread(str(path)))


def test_intact_16_bit_png_decodes_unchanged(tmp_path):
    counts = np.arange(48 * 40, dtype=np.uint16).reshape(48, 40)
    path = write(tmp_path / "c.png", counts)
    np.testing.assert_array_equal(read_image(path, cv2.IMREAD_UNCHANGED), counts)


@pytest.mark.parametrize("keep", [1 / 3, 0.9, 0.999])
def test_truncated_jpeg_is_damaged(tmp_path, keep):
    path = write(tmp_path / "a.jpg", textured())
    path.write_bytes(path.read_bytes()[:int(path.stat().st_size * keep)])
    assert cv2.imread(str(path)) is not None, "cv2.imread alone accepts the cut file (why this module exists)"
    with pytest.raises(CorruptFileError, match="a.jpg.*truncated"):
        read_image(path)


def test_jpeg_with_a_thumbnail_before_its_scan_is_intact(tmp_path):
    """An EXIF-like APP1 segment holding a whole JPEG (its own end marker) before the image's scan."""
    main_image = write(tmp_path / "a.jpg", textured()).read_bytes()
    thumbnail = write(tmp_path / "t.jpg", textured(8, 8)).read_bytes()
    app1 = b"\xff\xe1" + (len(thumbnail) + 2).to_bytes(2, "big") + thumbnail
    assert image_damage(main_image[:2] + app1 + main_image[2:], ".jpg") is None
    cut = main_image[:2] + app1 + main_image[2:len(main_image) // 2]
    assert "truncated" in image_damage(cut, ".jpg")


def test_truncated_or_corrupted_png_is_damaged(tmp_path):
    data = write(tmp_path / "m.png", textured()).read_bytes()
    assert image_damage(data, ".png") is None
    assert "truncated" in image_damage(data[: len(data) // 2], ".png")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    assert "checksum" in image_damage(bytes(flipped), ".png")


def test_frames_folder_with_a_truncated_jpeg_is_an_error_naming_it(tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(4):
        write(folder / f"{t:05d}.jpg", textured())
    damaged = folder / "00002.jpg"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 3])
    with pytest.raises(CorruptFileError, match="00002.jpg"):
        read_frames(folder)
    out = tmp_path / "out"
    assert main(["prepare", str(folder), "--out", str(out), "--workers", "1", "--no_progress"]) == 1
    assert "00002.jpg" in capsys.readouterr().err
    assert not (out / "color").exists() and not (out / "source.json").exists()


def test_a_data_directorys_truncated_frame_is_an_error_naming_it(tmp_path):
    data = DataDir(tmp_path)
    data.color_dir.mkdir()
    for t in range(3):
        write(data.color_dir / f"{t:05d}.jpg", textured())
    damaged = data.frame_path(1)
    damaged.write_bytes(damaged.read_bytes()[: int(damaged.stat().st_size * 0.9)])
    data.load_frame(0)
    with pytest.raises(CorruptFileError, match="00001.jpg"):
        data.load_frame(1)
