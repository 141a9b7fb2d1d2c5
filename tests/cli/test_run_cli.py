"""`omnimotion run`, `omnimotion demo` and the evaluation's 'omnimotion' method, end to end on tiny inputs."""

import av
import numpy as np
import pytest

from omnimotion.cli.demo import demo_clip_path
from omnimotion.cli.main import main
from omnimotion.io.datadir import DataDir
from omnimotion.io.video import read_frames
from omnimotion.synthetic import make_clip, write_video
from omnimotion.track import load_tracks

TINY = ["--set", "num_iters=4", "--set", "i_weight=2", "--set", "num_pts=16", "--set", "num_pairs=2"]


def test_run_makes_tracks_and_pictures_then_resumes(tmp_path, capsys, caplog):
    clip = make_clip(num_frames=5, height=32, width=48, num_sprites=1, seed=1)
    video = tmp_path / "clip.mp4"
    write_video(clip, video, fps=7)
    out = tmp_path / "run"
    assert main(["run", str(video), "--out", str(out), "--grid_step", "8", *TINY]) == 0
    printed = capsys.readouterr().out
    assert str(out / "tracks.mp4") in printed
    tracks = load_tracks(out / "tracks.npz")
    # grid every 8 px on a 32x48 frame, tracked through every frame, in pixels of the frames
    assert tracks.tracks.shape == (4 * 6, 5, 2) and tracks.occluded.shape == (24, 5)
    assert tracks.fps == pytest.approx(7)
    np.testing.assert_allclose(tracks.tracks[:, 0], tracks.queries[:, 1:], atol=1e-4)
    assert (out / "out" / "surface" / "model_000004.pth").exists()  # the default preset
    with av.open(str(out / "tracks.mp4")) as container:  # readable by a second library
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    # input beside the tracks, drawn at 512 px wide: 48x32 -> 512x341, and a legend band underneath
    assert len(frames) == 5 and frames[0].shape[1:] == (1024, 3) and 341 < frames[0].shape[0] < 400
    assert (out / "tracks_summary.png").stat().st_size > 0
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main(["run", str(video), "--out", str(out), "--grid_step", "8", *TINY]) == 0
    assert "training already finished" in caplog.text


def test_run_with_max_gap_prepares_and_trains_on_nearby_pairs_only(tmp_path):
    clip = make_clip(num_frames=6, height=32, width=32, num_sprites=1, seed=2)
    video = tmp_path / "clip.mp4"
    write_video(clip, video, fps=10)
    out = tmp_path / "run"
    assert main(["run", str(video), "--out", str(out), "--grid_step", "8", "--max_gap", "2", *TINY]) == 0
    data = DataDir(out)
    pairs = {(i, j) for i in range(6) for j in range(6) if data.flow_path(i, j).exists()}
    assert pairs == {(i, j) for i in range(6) for j in range(6) if 0 < abs(i - j) <= 2}
    tracks = load_tracks(out / "tracks.npz")
    assert tracks.tracks.shape == (16, 6, 2) and np.isfinite(tracks.tracks).all()


def test_run_bad_source_is_one_line_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "missing.mp4" in err and "Traceback" not in err


def test_demo_clip_ships_with_the_package():
    frames = read_frames(demo_clip_path(), max_side=None)
    assert frames.shape[0] >= 20 and demo_clip_path().stat().st_size < 500_000


def test_eval_runs_the_omnimotion_method(tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["eval", "--dataset", "synthetic:1,frames=5,size=32,points=8", "--method", "omnimotion,chain",
            "--out", str(out), "--no_plots", "--preset", "fast", *TINY]
    assert main(argv) == 0
    table = (out / "results.md").read_text()
    assert "| omnimotion" in table and "| chain" in table and "Failed" not in table
    assert (out / "results.csv").read_text().count("omnimotion") >= 1


def test_set_needs_key_value(tmp_path, capsys):
    assert main(["run", str(demo_clip_path()), "--out", str(tmp_path / "o"), "--set", "num_iters"]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err


def test_bad_config_value_fails_before_preprocessing(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", str(demo_clip_path()), "--out", str(out), "--set", "flow_evidence=snap"]) == 1
    assert "flow_evidence 'snap' is not one of none, visibility, positions" in capsys.readouterr().err
    assert not out.exists()


def test_eval_method_passes_preprocessing_options(tmp_path, monkeypatch):
    import omnimotion.cli.eval as cli_eval
    from omnimotion.cli.eval import evaluation_methods
    from omnimotion.eval.methods import MethodOptions

    from omnimotion.preprocess.options import PrepareConfig

    seen = {}

    def prepare(source, out, options, **kwargs):
        seen.update(kwargs, options=options)
        raise KeyboardInterrupt  # stop before any work

    monkeypatch.setattr(cli_eval, "prepare", prepare)
    video = np.zeros((3, 8, 8, 3), np.uint8)
    with pytest.raises(KeyboardInterrupt):
        evaluation_methods()["omnimotion"](video, np.zeros((1, 3), np.float32), tmp_path,
                                           MethodOptions(prepare=PrepareConfig(cycle_th=6, max_gap=8), workers=3))
    assert seen["workers"] == 3 and seen["options"] == PrepareConfig(cycle_th=6, max_gap=8, max_side=None)


def test_run_and_track_agree_in_the_source_video_pixels(tmp_path, capsys):
    # a non-square 80x48 clip, a pure pan with known motion, worked on at 40x24 (--max_side 40)
    clip = make_clip(num_frames=5, height=48, width=80, num_sprites=0, motion="translate", seed=3)
    video = tmp_path / "pan.mp4"
    write_video(clip, video, fps=7)
    out = tmp_path / "run"
    assert main(["run", str(video), "--out", str(out), "--max_side", "40", "--grid_step", "16", *TINY]) == 0
    assert DataDir(out).image_hw == (24, 40)
    ran = load_tracks(out / "tracks.npz")
    # the grid every 16 source pixels, centred: x 8..72, y 8..40, so beyond the 40x24 working frames
    assert ran.image_hw == (48, 80) and ran.fps == pytest.approx(7) and ran.num_points == 5 * 3
    assert ran.queries[:, 1].max() == 72 and ran.queries[:, 2].max() == 40
    # the surface preset trusts the flow where it passed its cycle check: there the known pan, in source px
    truth, _ = clip.track(ran.queries)
    visible = ~ran.occluded
    assert np.median(np.abs(ran.tracks - truth)[visible]) < 1.5
    assert (out / "tracks.csv").read_text().startswith("# frame size 80x48 px, 7 fps\n")
    with av.open(str(out / "tracks.mp4")) as container:  # drawn at 512 px wide, input beside the tracks
        height, width, _ = next(container.decode(video=0)).to_ndarray(format="rgb24").shape
    assert width == 1024 and 307 < height < 370  # 80x48 -> 512x307, and a legend band underneath
    # `track` with its defaults gives the same tracks from the same model
    assert main(["track", str(out), "--grid", "16", "--out", str(tmp_path / "again.npz")]) == 0
    again = load_tracks(tmp_path / "again.npz")
    np.testing.assert_array_equal(again.tracks, ran.tracks)
    np.testing.assert_array_equal(again.occluded, ran.occluded)
    assert again.image_hw == ran.image_hw and again.fps == ran.fps
    # a query in source pixels outside the working frame is taken; one outside the video names its size
    assert main(["track", str(out), "--points", "70,40@0", "--out", str(tmp_path / "p.csv")]) == 0
    capsys.readouterr()
    assert main(["track", str(out), "--points", "90,10@0", "--out", str(tmp_path / "p.csv")]) == 1
    err = capsys.readouterr().err
    assert "80x48" in err and "--video_size" in err


def test_run_takes_a_frame_range(tmp_path):
    clip = make_clip(num_frames=8, height=32, width=32, num_sprites=1, seed=4)
    video = tmp_path / "clip.mp4"
    write_video(clip, video, fps=10)
    out = tmp_path / "run"
    assert main(["run", str(video), "--out", str(out), "--start", "1", "--end", "7", "--stride", "2",
                 "--grid_step", "16", *TINY]) == 0
    assert DataDir(out).num_frames == 3  # frames 1, 3, 5
    assert load_tracks(out / "tracks.npz").num_frames == 3
