"""Batch status files: what counts as complete, what is on disk, and ``omnimotion batch --status``."""

import json

import pytest

from omnimotion.batch.inputs import BatchVideo
from omnimotion.batch.status import (STATUS_FILE, VideoStatus, collect_status, format_status_table, is_complete,
                                     outputs_on_disk, read_status, update_status, write_status)
from omnimotion.cli.main import main
from omnimotion.preprocess.pipeline import STATE_FILE

SETTINGS = {"preset": "surface", "overrides": ["--num_iters=4"]}


def _finished_video(root, name="clip"):
    """A video whose status says done with SETTINGS and whose data directory holds what a run leaves."""
    video = BatchVideo(name, root / f"{name}.mp4", root / "runs" / name)
    (video.out_dir / "color").mkdir(parents=True)
    for t in range(3):
        (video.out_dir / "color" / f"{t:05d}.jpg").write_bytes(b"x")
    (video.out_dir / STATE_FILE).write_text(json.dumps({"chain": {"done": True}}))
    (video.out_dir / "out" / "surface").mkdir(parents=True)
    for step in (2, 4):
        (video.out_dir / "out" / "surface" / f"model_{step:06d}.pth").write_bytes(b"x")
    (video.out_dir / "tracks.npz").write_bytes(b"x")
    write_status(video.out_dir, VideoStatus(name, str(video.source), state="done", stage="track",
                                            seconds={"prepare": 1.0, "train": 2.5, "track": 0.5}, settings=SETTINGS))
    return video


def test_update_keeps_what_it_does_not_change(tmp_path):
    video = BatchVideo("clip", tmp_path / "clip.mp4", tmp_path / "runs" / "clip")
    write_status(video.out_dir, VideoStatus("clip", str(video.source), settings=SETTINGS))
    update_status(video, state="running", stage="train")
    status = read_status(video.out_dir)
    assert (status.state, status.stage, status.settings, status.source) == ("running", "train", SETTINGS,
                                                                            str(video.source))
    assert status.updated > 0


def test_complete_only_when_done_with_the_same_settings_and_tracks_on_disk(tmp_path):
    video = _finished_video(tmp_path)
    assert is_complete(video, SETTINGS)
    assert not is_complete(video, {**SETTINGS, "preset": "fast"})
    update_status(video, state="running")
    assert not is_complete(video, SETTINGS)
    update_status(video, state="done")
    (video.out_dir / "tracks.npz").unlink()
    assert not is_complete(video, SETTINGS)


def test_unreadable_status_counts_as_none(tmp_path):
    (tmp_path / STATUS_FILE).write_text("{truncated")
    assert read_status(tmp_path) is None


def test_outputs_on_disk_say_how_far_a_video_got(tmp_path):
    video = _finished_video(tmp_path)
    assert outputs_on_disk(video.out_dir) == "3 frames, prepared, model step 4, tracks"
    assert outputs_on_disk(tmp_path / "runs" / "never_started") == "nothing yet"


def test_table_has_one_row_per_video(tmp_path):
    video = _finished_video(tmp_path)
    status = read_status(video.out_dir)
    table = format_status_table([(video.out_dir, status)], now=status.updated + 30)
    assert table.splitlines()[2] == ("| clip | done | track | 1.0 | 2.5 | 0.5 | 30 s ago "
                                     "| 3 frames, prepared, model step 4, tracks |  |")


def test_status_command_prints_done_running_and_failed(tmp_path, capsys):
    _finished_video(tmp_path, "a")
    broken = BatchVideo("b", tmp_path / "b.mp4", tmp_path / "runs" / "b")
    write_status(broken.out_dir, VideoStatus("b", str(broken.source), state="failed", stage="prepare",
                                             reason="CorruptFileError: cannot decode video b.mp4"))
    assert [status.name for _, status in collect_status(tmp_path / "runs")] == ["a", "b"]
    assert main(["batch", "--status", str(tmp_path / "runs")]) == 0
    printed = capsys.readouterr().out
    assert "| b | failed | prepare |" in printed and "CorruptFileError: cannot decode video b.mp4" in printed
    assert printed.splitlines()[-1] == "1 done, 1 failed of 2 videos"


@pytest.mark.parametrize("argv, message", [
    (["batch", "--status", "{tmp}"], "holds no batch status files"),
    (["batch", "--status", "{tmp}/nowhere"], "does not exist"),
    (["batch", "a.mp4"], "give the input videos and --out"),
])
def test_status_and_usage_errors_are_one_line(tmp_path, capsys, argv, message):
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
