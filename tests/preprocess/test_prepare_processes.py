"""A real ``omnimotion prepare`` among other processes: stopped by Ctrl-C (during filtering, during chaining) or
by kill -9 it stops within seconds, no worker survives it, and re-running resumes to the files of an
uninterrupted run; two at once on one folder give the files of one clean run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnimotion import synthetic
from omnimotion.io.lock import LOCK_FILE
from omnimotion.preprocess.pipeline import STATE_FILE

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the workers")]

STOP_WITHIN_S = 10.0  # generous: the bound is "a few seconds" on a loaded 2-core machine


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    synthetic.write_video(synthetic.make_clip(num_frames=16, height=96, width=96, num_sprites=2, seed=3), path)
    return path


@pytest.fixture(scope="module")
def clean_run(clip, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("clean") / "data"
    subprocess.run(prepare_command(clip, out), check=True, capture_output=True, timeout=600)
    return outputs(out)


def prepare_command(clip: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "omnimotion.cli.main", "prepare", str(clip), "--out", str(out), "--workers", "2",
            "--no_progress", "--max_side", "96"]


def outputs(root: Path) -> dict[str, bytes]:
    """Every file of the data directory (unfinished temporaries included) but the stage record and the lock."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in (STATE_FILE, LOCK_FILE)}


def group_processes(group: int) -> set[int]:
    """Live (not zombie) processes of a process group."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            found.add(int(entry.name))
    return found


def wait_for(condition, timeout: float = 300.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def state(out: Path) -> dict:
    try:
        return json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def filtering(out: Path) -> bool:
    masks = out / "raft_masks"
    return state(out).get("flow", {}).get("done", False) and masks.is_dir() and any(masks.iterdir())


def chaining(out: Path) -> bool:
    return state(out).get("flows_chained", False)


def stop_in_stage(clip: Path, out: Path, in_stage, sig: int, whole_group: bool) -> subprocess.Popen:
    """Start prepare in a new process group, send ``sig`` once ``in_stage(out)`` holds; return the process."""
    process = subprocess.Popen(prepare_command(clip, out), start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    wait_for(lambda: in_stage(out) or process.poll() is not None, what="the stage to start")
    assert process.poll() is None, f"prepare finished before the stage could be interrupted: {process.stderr.read()}"
    assert len(group_processes(process.pid)) > 1, "no worker processes were running"
    (os.killpg if whole_group else os.kill)(process.pid, sig)
    return process


@pytest.mark.parametrize("in_stage", [filtering, chaining], ids=["filtering", "chaining"])
def test_ctrl_c_stops_every_process_quickly_and_rerun_resumes(clip, clean_run, tmp_path, in_stage):
    out = tmp_path / "data"
    sent = time.monotonic()
    process = stop_in_stage(clip, out, in_stage, signal.SIGINT, whole_group=True)  # as a terminal's Ctrl-C
    sent = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"prepare still ran {STOP_WITHIN_S} s after Ctrl-C")
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    wait_for(lambda: not group_processes(process.pid), timeout=STOP_WITHIN_S, what="the workers to end")
    assert time.monotonic() - sent < 2 * STOP_WITHIN_S
    subprocess.run(prepare_command(clip, out), check=True, capture_output=True, timeout=600)
    assert outputs(out) == clean_run


def test_workers_die_with_their_parent_on_kill_9(clip, tmp_path):
    out = tmp_path / "data"
    flows = out / "raft_exhaustive"
    process = stop_in_stage(clip, out, lambda o: (o / "raft_exhaustive").is_dir() and any(flows.iterdir()),
                            signal.SIGKILL, whole_group=False)
    process.wait(timeout=STOP_WITHIN_S)
    wait_for(lambda: not group_processes(process.pid), timeout=5.0, what="the orphaned workers to end")
    written = set(flows.iterdir())
    time.sleep(1.0)
    assert set(flows.iterdir()) == written, "flow files were written after the parent was killed"


def test_two_prepares_on_one_folder_give_the_files_of_a_clean_run(clip, clean_run, tmp_path):
    out = tmp_path / "data"
    first, second = (subprocess.Popen(prepare_command(clip, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(2))
    results = [(process, *process.communicate(timeout=600)) for process in (first, second)]
    refused = [(process, stderr) for process, _, stderr in results if process.returncode != 0]
    assert len(refused) == 1, [stderr for _, _, stderr in results]
    loser, stderr = refused[0]
    winner = second if loser is first else first
    assert loser.returncode == 1 and f"being written by omnimotion prepare (PID {winner.pid} " in stderr, stderr
    assert outputs(out) == clean_run
