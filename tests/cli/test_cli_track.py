"""``omnimotion track`` end to end on a tiny data directory with an untrained (randomly initialised) model."""

import shutil

import cv2
import numpy as np
import pytest
import torch

from omnimotion.cli.main import main
from omnimotion.synthetic import make_clip, write_frames
from omnimotion.track import Tracker, load_csv, load_tracks

from tiny_checkpoint import save_untrained_checkpoint

T, H, W = 6, 32, 40


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("seq")
    write_frames(make_clip(num_frames=T, height=H, width=W, seed=1), root / "color")
    save_untrained_checkpoint(root, T, (H, W))
    return root


def test_track_points_to_csv_video_and_summary(data_dir, tmp_path):
    out, video, summary = tmp_path / "tracks.csv", tmp_path / "tracks.mp4", tmp_path / "summary.png"
    code = main(["track", str(data_dir), "--points", "10,12@0", "--points", "30,20@5", "--out", str(out),
                 "--video", str(video), "--side_by_side", "--summary", str(summary), "--chunk_size", "5"])
    assert code == 0
    tracks, occluded = load_csv(out)
    assert tracks.shape == (2, T, 2) and occluded.shape == (2, T)
    np.testing.assert_allclose(tracks[0, 0], [10, 12]) and np.testing.assert_allclose(tracks[1, 5], [30, 20])
    # the same numbers as the library call with the newest checkpoint
    direct = Tracker.from_checkpoint(data_dir / "out" / "exp" / "model_000010.pth", device="cpu",
                                     progress=False)(np.array([[0, 10, 12], [5, 30, 20]], np.float32))
    np.testing.assert_allclose(tracks, direct.tracks, atol=1e-5)
    # pictures are enlarged to 512 px on the longest side, so that the points can be seen: 40x32 -> 512x410,
    # with a legend band underneath
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == T and int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 2 * 512
    capture.release()
    height, width, _ = cv2.imread(str(summary)).shape
    assert width == 512 and 410 < height < 450


def test_points_on_the_frame_border_are_tracked(data_dir, tmp_path):
    # the corners of the frame's extent: TAP-Vid raster (0, 0) and (W, H) are our (-0.5, -0.5), (W-0.5, H-0.5)
    out = tmp_path / "border.csv"
    corners = ["-0.5,-0.5@0", f"{W - 0.5},{H - 0.5}@3", f"-0.5,{H - 0.5}@5"]
    assert main(["track", str(data_dir), *[f"--points={p}" for p in corners], "--out", str(out)]) == 0
    tracks, occluded = load_csv(out)
    np.testing.assert_allclose(tracks[[0, 1, 2], [0, 3, 5]], [[-0.5, -0.5], [W - 0.5, H - 0.5], [-0.5, H - 0.5]])
    assert not occluded[[0, 1, 2], [0, 3, 5]].any()
    direct = Tracker.from_checkpoint(data_dir / "out" / "exp" / "model_000010.pth", device="cpu",
                                     progress=False)(np.array([[0, -0.5, -0.5], [3, W - 0.5, H - 0.5],
                                                               [5, -0.5, H - 0.5]], np.float32))
    np.testing.assert_allclose(tracks, direct.tracks, atol=1e-5)


def test_grid_in_original_video_pixels_to_npz(data_dir, tmp_path):
    out = tmp_path / "tracks.npz"
    videos = {name: tmp_path / f"{name}.mp4" for name in ("grid", "depth", "color")}
    assert main(["track", str(data_dir), "--grid", "16", "--frame", "2", "--video_size", "80x64",
                 "--out", str(out), "--grid_video", str(videos["grid"]), "--depth_video", str(videos["depth"]),
                 "--color_video", str(videos["color"])]) == 0
    tracks = load_tracks(out)
    assert tracks.image_hw == (64, 80) and tracks.num_points == 4 * 5
    assert (tracks.queries[:, 0] == 2).all()
    # tracks drawn at >= 512 px (and a legend band), the model's renderings at its own frame size
    sizes = {"grid": (410, 450, 512), "depth": (H, H, W), "color": (H, H, W)}
    for name, path in videos.items():
        capture = cv2.VideoCapture(str(path))
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == T
        low, high, width = sizes[name]
        assert low <= capture.get(cv2.CAP_PROP_FRAME_HEIGHT) <= high
        assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == width
        capture.release()


def test_frame_rate_and_video_size_from_source_json(data_dir, tmp_path):
    out = tmp_path / "tracks.npz"
    args = ["track", str(data_dir), "--points", "60,50@0", "--video_size", "source", "--out", str(out)]
    assert main(args) == 1  # no source.json in this hand-made data directory
    (data_dir / "source.json").write_text('{"path": "clip.mp4", "fps": 24.0, "native_hw": [64, 80], '
                                          '"start": 0, "end": null, "stride": 1}')
    try:
        assert main(args) == 0
    finally:
        (data_dir / "source.json").unlink()
    tracks = load_tracks(out)
    assert tracks.image_hw == (64, 80) and tracks.fps == 24.0
    np.testing.assert_allclose(tracks.tracks[0, 0], [60, 50])


@pytest.mark.parametrize("args, message", [
    (["--points", "50,10@0"], "outside the 40x32 frame"),
    (["--points", "5,10@9"], "the video has frames 0..5"),
    (["--points", "5;10"], "cannot read the point"),
    (["--grid", "4", "--dense"], "give one query source"),
    ([], "no query points"),
    (["--dense", "--checkpoint", "missing.pth"], "does not exist"),
])
def test_bad_queries_give_one_clear_line(data_dir, tmp_path, capsys, args, message):
    code = main(["track", str(data_dir), *args, "--out", str(tmp_path / "t.csv")])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_empty_mask_and_missing_checkpoint(data_dir, tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((H, W), np.uint8))
    assert main(["track", str(data_dir), "--mask", str(tmp_path / "empty.png"), "--out", str(tmp_path / "t.csv")]) == 1
    assert "is empty" in capsys.readouterr().err
    bare = tmp_path / "bare"
    write_frames(make_clip(num_frames=2, height=16, width=16), bare / "color")
    assert main(["track", str(bare), "--dense", "--out", str(tmp_path / "t.npz")]) == 1
    assert "train first" in capsys.readouterr().err


def with_exact_flows(data_dir, root):
    """A copy of ``data_dir`` at ``root`` with the clip's exact flows and masks, for every pair (no stage record,
    so the flow evidence computes no flows of its own); returns the clip."""
    from omnimotion.io.datadir import DataDir

    shutil.copytree(data_dir, root)
    (root / "omnimotion_state.json").unlink(missing_ok=True)
    clip, data = make_clip(num_frames=T, height=H, width=W, seed=1), DataDir(root)
    for i in range(T):
        for j in set(range(T)) - {i}:
            flow, occluded = clip.flow(i, j)
            data.save_flow(i, j, flow)
            data.save_mask(i, j, ~occluded, np.zeros_like(occluded))
    return clip


def test_flow_evidence_corrects_an_untrained_model_with_the_data_directory_flows(data_dir, tmp_path):
    root = tmp_path / "seq"
    clip = with_exact_flows(data_dir, root)
    runs = {}
    for mode in ("none", "visibility", "positions"):
        # --occlusion_th -1: the model calls every point-frame occluded, so that the evidence has work to do
        assert main(["track", str(root), "--grid", "6", "--frame", "1", "--occlusion_th", "-1",
                     "--flow_evidence", mode, "--out", str(tmp_path / f"{mode}.npz")]) == 0
        runs[mode] = load_tracks(tmp_path / f"{mode}.npz")
    gt, gt_occluded = clip.track(runs["none"].queries)
    assert gt_occluded.sum() > 10 and runs["none"].occluded[~gt_occluded].mean() > 0.5
    # visible again, but for a few points on a sprite's edge, where the layers' flows there and back disagree
    assert runs["visibility"].occluded[~gt_occluded].mean() < 0.05
    np.testing.assert_array_equal(runs["visibility"].occluded[gt_occluded], runs["none"].occluded[gt_occluded])
    np.testing.assert_array_equal(runs["visibility"].tracks, runs["none"].tracks)
    vouched = ~runs["positions"].occluded
    np.testing.assert_array_equal(vouched, ~runs["visibility"].occluded)
    np.testing.assert_allclose(runs["positions"].tracks[vouched], gt[vouched], atol=0.05)
    assert np.abs(runs["none"].tracks - gt)[~gt_occluded].max() > 1  # the untrained model alone is off


def test_tracker_from_checkpoint_takes_fps_and_flow_evidence_from_the_training_run(data_dir, tmp_path):
    root = tmp_path / "seq"
    with_exact_flows(data_dir, root)
    (root / "source.json").write_text('{"path": "clip.mp4", "fps": 20.0, "native_hw": [32, 40], '
                                      '"start": 0, "end": null, "stride": 1}')
    path = root / "out" / "exp" / "model_000010.pth"
    assert Tracker.from_checkpoint(path, device="cpu").fps == 20.0  # DATA_DIR of DATA_DIR/out/exp/model.pth
    assert Tracker.from_checkpoint(path, device="cpu").flow_evidence == "none"  # not in this checkpoint
    state = torch.load(path, weights_only=True)
    state["config"]["inference"] = {"flow_evidence": "visibility"}
    torch.save(state, path)
    assert Tracker.from_checkpoint(path, device="cpu", fps=5).fps == 5
    assert Tracker.from_checkpoint(path, device="cpu").flow_evidence == "visibility"
    # `track` without --flow_evidence applies the checkpoint's mode
    for name, extra in (("saved", []), ("visibility", ["--flow_evidence", "visibility"]),
                        ("none", ["--flow_evidence", "none"])):
        assert main(["track", str(root), "--grid", "8", "--occlusion_th", "-1", *extra,
                     "--out", str(tmp_path / f"{name}.npz")]) == 0
    saved, visibility, none = (load_tracks(tmp_path / f"{name}.npz") for name in ("saved", "visibility", "none"))
    np.testing.assert_array_equal(saved.occluded, visibility.occluded)
    assert saved.fps == 20.0
    assert not np.array_equal(saved.occluded, none.occluded)  # the evidence changed something
