"""User depth maps of a data directory: paths, loading, validation."""

import numpy as np
import pytest

from omnimotion.io.atomic import save_npy, save_png
from omnimotion.io.datadir import CorruptFileError, DataDir, DataDirError
from omnimotion.io.depth_maps import depth_map_path, load_depth_maps

H, W = 12, 16


def _data_dir(tmp_path, num_frames: int = 3) -> DataDir:
    for t in range(num_frames):
        save_png(tmp_path / "color" / f"{t:05d}.png", np.full((H, W, 3), 40 * t, np.uint8))
    return DataDir(tmp_path)


def test_loader_round_trip_accepts_singleton_channel(tmp_path):
    data = _data_dir(tmp_path)
    rng = np.random.default_rng(0)
    maps = rng.uniform(1, 10, (3, H, W)).astype(np.float32)
    save_npy(depth_map_path(data, 0), maps[0])
    save_npy(depth_map_path(data, 1), maps[1][..., None])  # [H, W, 1]
    save_npy(depth_map_path(data, 2), maps[2][None].astype(np.float64))  # [1, H, W], float64
    assert depth_map_path(data, 2) == tmp_path / "depth" / "00002.npy"
    loaded = load_depth_maps(data)
    assert loaded.dtype == np.float32 and loaded.shape == (3, H, W)
    np.testing.assert_allclose(loaded, maps, rtol=1e-6)


def test_loader_rejects_wrong_shape_naming_the_file(tmp_path):
    data = _data_dir(tmp_path, num_frames=2)
    save_npy(depth_map_path(data, 0), np.ones((H, W), np.float32))
    save_npy(depth_map_path(data, 1), np.ones((H, W + 1), np.float32))
    with pytest.raises(CorruptFileError, match=r"00001\.npy has shape \(12, 17\), expected \(12, 16\)"):
        load_depth_maps(data)


def test_loader_rejects_missing_and_non_finite_maps(tmp_path):
    data = _data_dir(tmp_path, num_frames=2)
    save_npy(depth_map_path(data, 0), np.ones((H, W), np.float32))
    with pytest.raises(DataDirError, match=r"missing depth map .*00001\.npy"):
        load_depth_maps(data)
    bad = np.ones((H, W), np.float32)
    bad[3, 4] = np.nan
    save_npy(depth_map_path(data, 1), bad)
    with pytest.raises(CorruptFileError, match="non-finite"):
        load_depth_maps(data)
