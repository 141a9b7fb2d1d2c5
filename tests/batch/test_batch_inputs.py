"""Batch inputs: files, frame folders, globs and .txt lists -> unique videos, each with its own output folder."""

import pytest

from omnimotion.batch.inputs import expand_inputs, plan_videos


@pytest.fixture
def videos(tmp_path, monkeypatch):
    """clips/a.mp4, clips/b.mov, frames/ (two png frames), notes.md; the working directory is tmp_path."""
    (tmp_path / "clips").mkdir()
    for name in ("a.mp4", "b.mov"):
        (tmp_path / "clips" / name).write_bytes(b"x")  # contents are read by the prepare stage, not here
    (tmp_path / "frames").mkdir()
    for name in ("00000.png", "00001.png"):
        (tmp_path / "frames" / name).write_bytes(b"x")
    (tmp_path / "notes.md").write_text("not a video")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_files_folders_globs_and_lists_expand_in_order_without_repeats(videos):
    (videos / "clips" / "list.txt").write_text("# my clips\nb.mov\n\n../frames\na.mp4\n")  # relative to the list
    found = expand_inputs(["clips/*.mp4", "clips/list.txt", str(videos / "clips" / "a.mp4")])
    assert found == [videos / "clips" / "a.mp4", videos / "clips" / "b.mov", videos / "frames"]


def test_each_video_gets_its_own_absolute_output_folder(videos):
    planned = plan_videos(expand_inputs(["clips/a.mp4", "frames"]), "runs")
    assert [(v.name, v.out_dir) for v in planned] == [("a", videos / "runs" / "a"),
                                                      ("frames", videos / "runs" / "frames")]


def test_two_inputs_with_one_name_are_an_error_naming_both(videos):
    (videos / "other").mkdir()
    (videos / "other" / "a.mp4").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"clips/a.mp4 and .*other/a.mp4 would share the output folder"):
        plan_videos(expand_inputs(["clips/a.mp4", "other/a.mp4"]), "runs")


@pytest.mark.parametrize("item, error, message", [
    ("missing.mp4", FileNotFoundError, "input missing.mp4 does not exist"),
    ("clips/*.avi", FileNotFoundError, r"clips/\*.avi matches no file"),
    ("notes.md", ValueError, "notes.md is not a video"),
    ("clips", ValueError, r"holds videos \(a.mp4, b.mov\), not frames; give them as '.*clips/\*.mp4'"),
])
def test_bad_inputs_name_the_problem(videos, item, error, message):
    with pytest.raises(error, match=message):
        expand_inputs([item])


def test_an_empty_list_file_is_an_error(videos):
    (videos / "empty.txt").write_text("# nothing yet\n\n")
    with pytest.raises(ValueError, match="empty.txt names no video"):
        expand_inputs(["empty.txt"])
