"""Evaluation datasets: npz files (TAP-Vid raster -> our pixels), folders, BADJA keys, pickles, synthetic."""

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from omnimotion.eval.datasets import iter_videos, load_npz_video, parse_synthetic_spec
from omnimotion.synthetic import make_clip, save_tapvid_npz
from omnimotion.synthetic import sample_queries as synthetic_queries

# The evaluation data lives beside the repository (../shared/data), as on the CI machines.
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_synthetic_npz_round_trip_gives_our_pixels(tmp_path):
    clip = make_clip(num_frames=6, height=32, width=40, num_sprites=1, seed=0)
    save_tapvid_npz(clip, tmp_path / "clip.npz", num_points=12, seed=4)
    item = load_npz_video(tmp_path / "clip.npz")
    gt, occluded = clip.track(synthetic_queries(clip, 12, seed=4, mode="strided"))
    np.testing.assert_array_equal(item.occluded, occluded)
    # The file holds raster coordinates (ours + 0.5); the reader undoes exactly that.
    np.testing.assert_allclose(item.tracks[~occluded], gt[~occluded], atol=1e-4)
    assert (item.tracks[occluded] == 0).all()  # NaN in the file, zero here (never scored)
    assert item.video.shape == (6, 32, 40, 3) and item.valid is None and item.masks is None


def _write_npz(path, **fields):
    base = {"video": np.zeros((3, 16, 16, 3), np.uint8), "points": np.full((2, 3, 2), 4.5, np.float32),
            "occluded": np.zeros((2, 3), bool)}
    base.update(fields)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})


def test_badja_keys_and_nan_on_unannotated_frames(tmp_path):
    points = np.full((2, 3, 2), np.nan, np.float32)
    points[:, 1] = 8.5
    valid = np.zeros((2, 3), bool)
    valid[:, 1] = True
    masks = np.zeros((3, 16, 16), bool)
    _write_npz(tmp_path / "dog.npz", points=points, valid=valid, masks=masks)
    item = load_npz_video(tmp_path / "dog.npz")
    np.testing.assert_array_equal(item.valid, valid)
    assert item.masks.shape == (3, 16, 16)
    np.testing.assert_allclose(item.tracks[:, 1], 8.0)


def test_npz_errors_name_the_problem(tmp_path):
    _write_npz(tmp_path / "a.npz", occluded=None)
    with pytest.raises(ValueError, match=r"a\.npz lacks key.*occluded"):
        load_npz_video(tmp_path / "a.npz")
    points = np.full((2, 3, 2), 4.5, np.float32)
    points[0, 2] = np.nan
    _write_npz(tmp_path / "b.npz", points=points)
    with pytest.raises(ValueError, match="NaN on 1 visible"):
        load_npz_video(tmp_path / "b.npz")
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read evaluation file"):
        load_npz_video(tmp_path / "c.npz")
    _write_npz(tmp_path / "d.npz", occluded=np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="do not match"):
        load_npz_video(tmp_path / "d.npz")


def test_folder_is_searched_recursively_and_lazily(tmp_path):
    (tmp_path / "setA").mkdir()
    _write_npz(tmp_path / "setA" / "one.npz")
    _write_npz(tmp_path / "two.npz")
    (tmp_path / "setA" / "broken.npz").write_bytes(b"junk")
    sources = list(iter_videos(tmp_path))  # listing reads nothing, so the broken file does not fail here
    assert [s.name for s in sources] == ["setA/broken", "setA/one", f"{tmp_path.name}/two"]
    assert [s.group for s in sources] == ["setA", "setA", tmp_path.name]
    assert sources[1].load().video.shape == (3, 16, 16, 3)
    with pytest.raises(ValueError):
        sources[0].load()
    assert len(list(iter_videos(tmp_path, max_videos=2))) == 2


def test_missing_and_unknown_datasets(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        iter_videos(tmp_path / "nope.pkl")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ValueError, match="unknown dataset file type"):
        iter_videos(tmp_path / "x.txt")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(FileNotFoundError, match="no .npz"):
        iter_videos(tmp_path / "empty_dir")


def _tapvid_example(height=48, width=64, frames=3):
    rng = np.random.default_rng(0)
    video = rng.integers(0, 255, (frames, height, width, 3), dtype=np.uint8)
    points = np.zeros((2, frames, 2), np.float32)
    points[0] = 0.5                      # image centre
    points[1] = [0.5 / width, 0.5 / height]  # centre of the top-left pixel (normalised raster)
    return {"video": video, "points": points, "occluded": np.zeros((2, frames), bool)}


def test_davis_style_pickle_is_resized_to_256(tmp_path):
    with open(tmp_path / "davis.pkl", "wb") as handle:
        pickle.dump({"bear": _tapvid_example(), "cows": _tapvid_example()}, handle)
    sources = list(iter_videos(tmp_path / "davis.pkl"))
    assert [s.name for s in sources] == ["bear", "cows"]
    item = sources[0].load()
    assert item.video.shape == (3, 256, 256, 3)
    # Normalised 0.5 is the centre: our 127.5. The top-left pixel of 64 x 48 spans 4 x 5.33 pixels of 256.
    np.testing.assert_allclose(item.tracks[0, 0], [127.5, 127.5])
    np.testing.assert_allclose(item.tracks[1, 0], [0.5 / 64 * 256 - 0.5, 0.5 / 48 * 256 - 0.5], atol=1e-5)


def test_kinetics_style_pickle_with_jpeg_frames(tmp_path):
    example = _tapvid_example(height=256, width=256)
    example["video"] = [cv2.imencode(".jpg", f[..., ::-1])[1].tobytes() for f in example["video"]]
    with open(tmp_path / "0000_of_0010.pkl", "wb") as handle:
        pickle.dump([example], handle)
    item = next(iter_videos(tmp_path / "0000_of_0010.pkl")).load()
    assert item.name == "0000" and item.video.shape == (3, 256, 256, 3) and item.video.dtype == np.uint8
    assert abs(float(item.video.mean()) - 127) < 10


def _pickle(path, data):
    with open(path, "wb") as handle:
        pickle.dump(data, handle)
    return path


@pytest.mark.parametrize("data, message", [
    ({"config": {"lr": 1e-3}, "names": ["a", "b"]}, r"video 'config' lacks key\(s\) \['video', 'points', 'occluded'\]"),
    ({"bear": [1, 2, 3]}, "video 'bear' is of type list, not a dict with video, points, occluded"),
    (42, "top level is of type int, not a dict of videos"),
    ({}, "holds no videos"),
    ({"bear": {k: v for k, v in _tapvid_example().items() if k != "occluded"}}, r"lacks key\(s\) \['occluded'\]"),
    ({"bear": dict(_tapvid_example(), points=np.zeros((2, 3)))}, r"points of shape \(2, 3\), expected \[N, T, 2\]"),
    ({"bear": dict(_tapvid_example(), occluded=np.zeros((2, 4), bool))}, r"occluded of shape \(2, 4\)"),
    ({"bear": dict(_tapvid_example(), video=np.zeros((5, 8, 8, 3), np.uint8))}, "has 5 video frames but points for 3"),
    ({"bear": dict(_tapvid_example(), video="frames.mp4")}, "video of type str"),
])
def test_a_pickle_that_is_not_tapvid_is_rejected_whole_before_any_video(tmp_path, data, message):
    path = _pickle(tmp_path / "other.pkl", data)
    with pytest.raises(ValueError, match=f"other.pkl is not a TAP-Vid dataset: .*{message}"):
        iter_videos(path)


def test_one_bad_video_rejects_the_whole_pickle(tmp_path):
    good, bad = _tapvid_example(), {k: v for k, v in _tapvid_example().items() if k != "points"}
    with pytest.raises(ValueError, match=r"video '0001' lacks key\(s\) \['points'\]"):
        iter_videos(_pickle(tmp_path / "list.pkl", [good, bad]))


def test_a_single_npz_dataset_is_checked_up_front(tmp_path):
    _write_npz(tmp_path / "a.npz", occluded=None)
    with pytest.raises(ValueError, match=r"a\.npz lacks key.*occluded"):
        iter_videos(tmp_path / "a.npz")


def test_synthetic_spec():
    options = parse_synthetic_spec("synthetic:2,frames=8,size=32,sprites=1,points=10")
    assert options["count"] == 2 and options["frames"] == 8 and options["motion"] == "mixed"
    assert parse_synthetic_spec("synthetic:8")["frames"] == 50  # the benchmark default
    for bad in ("synthetic:x", "synthetic:2,colour=red", "synthetic:0"):
        with pytest.raises(ValueError, match="synthetic"):
            parse_synthetic_spec(bad)
    items = [s.load() for s in iter_videos("synthetic:2,frames=6,size=32,sprites=1,points=10")]
    assert [i.name for i in items] == ["synthetic_000", "synthetic_001"]
    assert items[0].tracks.shape == (10, 6, 2) and items[0].video.shape == (6, 32, 32, 3)
    assert not np.array_equal(items[0].video, items[1].video)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the evaluation data ../shared/data beside the repository is not present")
def test_shared_davis_clip_matches_its_native_points():
    item = load_npz_video(SHARED / "tapvid_davis_first32" / "dog.npz")
    data = np.load(SHARED / "tapvid_davis_first32" / "dog.npz")
    height, width = data["native_hw"]
    visible = ~item.occluded
    # Our 256 pixels -> native pixels with the same pixel-area convention must give points_native - 0.5.
    native = (item.tracks + 0.5) * [width / 256, height / 256] - 0.5
    np.testing.assert_allclose(native[visible], data["points_native"][visible] - 0.5, atol=1e-2)
