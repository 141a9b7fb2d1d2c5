import json

import numpy as np
import pytest

from omnimotion.io.datadir import CorruptFileError
from omnimotion.track.export import (CSV_COLUMNS, from_tapvid, load_csv, load_tracks, save_tracks, to_tapvid)
from omnimotion.track.tracks import Tracks


def _random_tracks(n=5, t=7, hw=(48, 64)):
    rng = np.random.default_rng(1)
    tracks = (rng.random((n, t, 2)) * [hw[1] - 1, hw[0] - 1]).astype(np.float32)
    occluded = rng.random((n, t)) < 0.3
    frames = rng.integers(0, t, n)
    occluded[np.arange(n), frames] = False
    queries = np.concatenate([frames[:, None], tracks[np.arange(n), frames]], 1)
    return Tracks(tracks, occluded, queries, hw, fps=12.5)


def _assert_same(a: Tracks, b: Tracks):
    np.testing.assert_array_equal(a.tracks, b.tracks)
    np.testing.assert_array_equal(a.occluded, b.occluded)
    np.testing.assert_array_equal(a.queries, b.queries)
    assert a.image_hw == b.image_hw and a.fps == b.fps


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_round_trip_npz_and_json(tmp_path, suffix):
    tracks = _random_tracks()
    save_tracks(tracks, tmp_path / f"tracks{suffix}")
    _assert_same(load_tracks(tmp_path / f"tracks{suffix}"), tracks)


def test_npz_is_plain_numpy(tmp_path):
    tracks = _random_tracks()
    tracks.save(tmp_path / "tracks.npz")
    with np.load(tmp_path / "tracks.npz") as data:
        assert data["tracks"].shape == (5, 7, 2) and data["occluded"].dtype == bool
        assert data["image_hw"].tolist() == [48, 64] and float(data["fps"]) == 12.5


def test_csv_columns_rows_and_round_trip(tmp_path):
    tracks = _random_tracks(n=3, t=4)
    save_tracks(tracks, tmp_path / "tracks.csv")
    lines = (tmp_path / "tracks.csv").read_text().splitlines()
    assert lines[0] == "# frame size 64x48 px, 12.5 fps"  # the pixels x, y refer to (W x H)
    assert lines[1] == "point_id,frame,x,y,visible" == ",".join(CSV_COLUMNS)
    assert len(lines) == 2 + 3 * 4
    # row of point 1, frame 2 (sorted by point, then frame)
    point_id, frame, x, y, visible = lines[2 + 1 * 4 + 2].split(",")
    assert (int(point_id), int(frame)) == (1, 2)
    assert np.float32(x) == tracks.tracks[1, 2, 0] and np.float32(y) == tracks.tracks[1, 2, 1]
    assert int(visible) == int(not tracks.occluded[1, 2])
    loaded_tracks, loaded_occluded = load_csv(tmp_path / "tracks.csv")
    np.testing.assert_array_equal(loaded_tracks, tracks.tracks)
    np.testing.assert_array_equal(loaded_occluded, tracks.occluded)
    with pytest.raises(ValueError, match="load_csv"):
        load_tracks(tmp_path / "tracks.csv")


def test_tapvid_arrays_use_raster_convention():
    # pixel centre (0, 0) -> (0.5/W, 0.5/H); the bottom-right centre (W-1, H-1) -> (1 - 0.5/W, 1 - 0.5/H)
    tracks = Tracks(np.array([[[0.0, 0.0], [63.0, 47.0]]]), np.array([[False, True]]), [[0, 0.0, 0.0]], (48, 64))
    tapvid = to_tapvid(tracks)
    np.testing.assert_allclose(tapvid["points"][0], [[0.5 / 64, 0.5 / 48], [1 - 0.5 / 64, 1 - 0.5 / 48]], atol=1e-6)
    assert tapvid["occluded"].tolist() == [[False, True]]
    back = from_tapvid(tapvid["points"], tapvid["occluded"], tracks.queries, (48, 64))
    np.testing.assert_allclose(back.tracks, tracks.tracks, atol=1e-4)


def test_resized_tracks_scale_pixel_areas():
    tracks = Tracks(np.array([[[0.0, 0.0], [63.0, 47.0]]]), np.zeros((1, 2), bool), [[0, 0.0, 0.0]], (48, 64))
    big = tracks.resized((96, 128))
    # (x + 0.5) * 2 - 0.5: 0 -> 0.5, 63 -> 126.5
    np.testing.assert_allclose(big.tracks[0], [[0.5, 0.5], [126.5, 94.5]])
    np.testing.assert_allclose(big.queries[0], [0, 0.5, 0.5])
    assert tracks.resized((48, 64)) is tracks


def test_wrong_shapes_and_corrupt_files(tmp_path):
    with pytest.raises(ValueError, match=r"occluded must be \[N, T\]"):
        Tracks(np.zeros((2, 3, 2)), np.zeros((2, 4), bool), np.zeros((2, 3)), (4, 4))
    with pytest.raises(ValueError, match="N = 1 queries"):
        Tracks(np.zeros((2, 3, 2)), np.zeros((2, 3), bool), np.zeros((1, 3)), (4, 4))
    np.savez(tmp_path / "other.npz", tracks=np.zeros((1, 2, 2)))
    with pytest.raises(CorruptFileError, match=r"lacks \['fps', 'image_hw', 'occluded', 'queries'\]"):
        load_tracks(tmp_path / "other.npz")
    (tmp_path / "trunc.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(CorruptFileError, match="cannot be read"):
        load_tracks(tmp_path / "trunc.npz")
    (tmp_path / "bad.json").write_text(json.dumps({"points": []}))
    with pytest.raises(CorruptFileError, match="not an omnimotion tracks JSON"):
        load_tracks(tmp_path / "bad.json")
    (tmp_path / "bad.csv").write_text("id,t,x,y\n0,0,1,1\n")
    with pytest.raises(CorruptFileError, match="expected the columns point_id,frame,x,y,visible"):
        load_csv(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="unknown tracks format '.txt'"):
        save_tracks(_random_tracks(), tmp_path / "tracks.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_tracks(tmp_path / "missing.npz")


def test_json_layout(tmp_path):
    tracks = _random_tracks(n=2, t=3)
    save_tracks(tracks, tmp_path / "tracks.json")
    data = json.loads((tmp_path / "tracks.json").read_text())
    assert data["image_hw"] == [48, 64] and data["num_frames"] == 3 and len(data["points"]) == 2
    point = data["points"][1]
    assert point["id"] == 1 and len(point["xy"]) == 3 and point["occluded"] == tracks.occluded[1].tolist()
    assert point["query"] == tracks.queries[1].tolist()
