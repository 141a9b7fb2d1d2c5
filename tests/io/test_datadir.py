import numpy as np
import pytest

from omnimotion.io.atomic import save_npy
from omnimotion.io.datadir import CorruptFileError, DataDir, DataDirError
from omnimotion.io.atomic import save_png


def _make(tmp_path, n=3, h=6, w=8):
    data = DataDir(tmp_path / "seq")
    for i in range(n):
        save_png(data.color_dir / f"{i:05d}.jpg".replace(".jpg", ".png"), np.full((h, w, 3), i * 40, np.uint8))
    return data


def test_missing_color_dir_names_the_command(tmp_path):
    with pytest.raises(DataDirError, match="omnimotion prepare"):
        DataDir(tmp_path / "nothing").frame_names


def test_flow_round_trip_and_official_names(tmp_path):
    data = _make(tmp_path)
    flow = np.random.default_rng(0).normal(size=(6, 8, 2)).astype(np.float32)
    data.save_flow(0, 2, flow)
    assert data.flow_path(0, 2).name == "00000.png_00002.png.npy"
    np.testing.assert_array_equal(data.load_flow(0, 2), flow)
    assert data.has_valid_flow(0, 2) and not data.has_valid_flow(2, 0)


@pytest.mark.parametrize("bad", ["truncated", "shape", "nan"])
def test_corrupt_flow_is_detected(tmp_path, bad):
    data = _make(tmp_path)
    data.save_flow(0, 1, np.zeros((6, 8, 2), np.float32))
    path = data.flow_path(0, 1)
    if bad == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif bad == "shape":
        save_npy(path, np.zeros((6, 8, 3), np.float32))
    else:
        save_npy(path, np.full((6, 8, 2), np.nan, np.float32))
    with pytest.raises(CorruptFileError):
        data.load_flow(0, 1)
    assert not data.has_valid_flow(0, 1)


def test_mask_round_trip(tmp_path):
    data = _make(tmp_path)
    rng = np.random.default_rng(1)
    reliable = rng.random((6, 8)) > 0.5
    occluded = ~reliable & (rng.random((6, 8)) > 0.5)
    data.save_mask(1, 0, reliable, occluded)
    got_r, got_o = data.load_mask(1, 0)
    np.testing.assert_array_equal(got_r, reliable)
    np.testing.assert_array_equal(got_o, occluded)
