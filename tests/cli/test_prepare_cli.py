"""The three command lines of issue 3 end to end, and one-line errors for every bad input."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from omnimotion import synthetic
from omnimotion.cli.main import main
from omnimotion.io.datadir import DataDir
from omnimotion.io.video import write_video

REPO = Path(__file__).resolve().parents[2]


def outputs(root: Path) -> dict[str, bytes]:
    data = DataDir(root)
    files = {f"{d.name}/{p.name}": p.read_bytes() for d in (data.flow_dir, data.mask_dir, data.count_dir)
             for p in d.iterdir()}
    files["flow_stats.json"] = data.flow_stats_path.read_bytes()
    return files


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / name), *args], capture_output=True, text=True, timeout=300)


def test_three_command_lines_end_to_end(tmp_path):
    clip = synthetic.make_clip(num_frames=6, height=48, width=48, num_sprites=2, motion="mixed", seed=0)
    synthetic.write_video(clip, tmp_path / "clip.mp4", fps=10)
    work = tmp_path / "work" / "clip"
    # 1. omnimotion prepare clip.mp4 --out work/clip, with the official chaining rule
    assert main(["prepare", str(tmp_path / "clip.mp4"), "--out", str(work), "--workers", "1",
                 "--chain_direct_max_gap", "official", "--no_progress"]) == 0
    prepared = outputs(work)
    assert len([k for k in prepared if k.startswith("raft_exhaustive/")]) == 30
    # 2. python main_processing.py --data_dir work/clip --chain: the same result from the same frames, made
    #    from an official-style directory holding only color/ ...
    official = tmp_path / "official" / "clip"
    (official / "color").mkdir(parents=True)
    for frame in (work / "color").iterdir():
        (official / "color" / frame.name).write_bytes(frame.read_bytes())
    done = script("main_processing.py", "--data_dir", str(official), "--chain", "--workers", "1", "--no_progress")
    assert done.returncode == 0, done.stderr
    assert outputs(official) == prepared
    # ... and on the prepared directory itself it has nothing left to do.
    done = script("main_processing.py", "--data_dir", str(work), "--chain")
    assert done.returncode == 0 and "nothing to do" in done.stderr
    # 3. python filter_raft.py --data_dir work/clip --cycle_th 3: re-filters in place (chained flows, as
    #    the official script; it says so), masks and stats rewritten, flows untouched.
    done = script("filter_raft.py", "--data_dir", str(work), "--cycle_th", "1", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "holds chained flows" in done.stderr
    refiltered = outputs(work)
    assert {k: v for k, v in refiltered.items() if k.startswith("raft_exhaustive/")} == \
        {k: v for k, v in prepared.items() if k.startswith("raft_exhaustive/")}
    assert refiltered["flow_stats.json"] != prepared["flow_stats.json"]


def test_official_model_argument_selects_raft(tmp_path):
    (tmp_path / "seq" / "color").mkdir(parents=True)
    done = script("main_processing.py", "--data_dir", str(tmp_path / "seq"), "--model",
                  str(tmp_path / "raft-things.pth"))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    needs = "needs torchvision" if importlib.util.find_spec("torchvision") is None else "RAFT weights file"
    assert last.startswith("omnimotion: error:") and needs in last


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("omnimotion: error: ")
    return err[0]


@pytest.fixture
def frames_dir(tmp_path):
    clip = synthetic.make_clip(num_frames=3, height=24, width=24, num_sprites=1, motion="translate", seed=0)
    synthetic.write_frames(clip, tmp_path / "frames")
    return tmp_path / "frames"


def test_bad_inputs_give_one_line_and_exit_1(tmp_path, capsys, frames_dir):
    out = str(tmp_path / "out")
    assert "does not exist" in _one_line_error(capsys, ["prepare", str(tmp_path / "none.mp4"), "--out", out])
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 1000)
    assert "cannot decode video" in _one_line_error(capsys, ["prepare", str(tmp_path / "bad.mp4"), "--out", out])
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "is empty (0 bytes)" in _one_line_error(capsys, ["prepare", str(tmp_path / "empty.mp4"), "--out", out])
    write_video(np.zeros((1, 16, 16, 3), np.uint8), tmp_path / "single.mp4")
    assert "needs at least 2 frames" in _one_line_error(capsys, ["prepare", str(tmp_path / "single.mp4"),
                                                                 "--out", out])
    (frames_dir / "99999.jpg").write_bytes((frames_dir / "00000.jpg").read_bytes())
    import cv2
    cv2.imwrite(str(frames_dir / "99999.jpg"), np.zeros((10, 12, 3), np.uint8))
    assert "must have one size" in _one_line_error(capsys, ["prepare", str(frames_dir), "--out", out])
    (frames_dir / "99999.jpg").unlink()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert "choose a writable --out" in _one_line_error(capsys, ["prepare", str(frames_dir), "--out",
                                                                 str(blocker / "out")])
    message = _one_line_error(capsys, ["prepare", str(frames_dir), "--out", out, "--flow", "farneback"])
    assert "flow 'farneback' is not one of dis, raft" in message
    assert not (tmp_path / "out").exists()  # nothing was created for any of the bad inputs


def test_prepare_options_reach_the_pipeline(tmp_path, capsys, frames_dir):
    out = tmp_path / "out"
    assert main(["prepare", str(frames_dir), "--out", str(out), "--workers", "1", "--max_side", "16",
                 "--end", "2", "--no_chain", "--dis_preset", "fast", "--max_gap", "1", "--no_progress"]) == 0
    data = DataDir(out)
    assert data.num_frames == 2 and data.image_hw == (16, 16)
    state = json.loads((out / "omnimotion_state.json").read_text())
    assert state["flow"]["options"] == {"preset": "fast"} and state["flow"]["max_gap"] == 1
    assert state["chain"] == {} and len(list(data.flow_dir.iterdir())) == 2
    capsys.readouterr()
    message = _one_line_error(capsys, ["prepare", str(frames_dir), "--out", str(tmp_path / "o2"),
                                       "--flow_weights", "w.pth"])
    assert "raft_weights is for flow raft" in message
    message = _one_line_error(capsys, ["prepare", str(frames_dir), "--out", str(tmp_path / "o3"),
                                       "--flow", "dis:fast", "--dis_preset", "medium"])
    assert "name different DIS presets" in message
    assert not (tmp_path / "o3").exists()


def test_prepare_and_run_share_their_defaults():
    from omnimotion.pipeline import RunSettings
    from omnimotion.cli.main import build_parser

    parser = build_parser()
    prepare_args = vars(parser.parse_args(["prepare", "clip.mp4", "--out", "o"]))
    run_args = vars(parser.parse_args(["run", "clip.mp4"]))
    shared = ("max_side", "flow", "raft_weights", "raft_variant", "dis_preset", "start", "end", "stride", "max_gap")
    # not given: both leave the value to the one configuration both compose
    assert {key: prepare_args[key] for key in shared} == {key: run_args[key] for key in shared}
    assert RunSettings().config.prepare.max_side == 256
    assert RunSettings().config.prepare.chain_direct_max_gap == 1
