"""Kill the whole batch (driver, Ray and its workers) once a video is done; the same command then finishes only
the rest: finished videos keep their files untouched. Linux: processes are found through /proc."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnimotion.batch.status import read_status
from omnimotion.synthetic import make_clip, write_video

pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the batch's processes through /proc")

# One video at a time (2 CPUs per video on 2 CPUs), so a kill after the first video leaves the others unfinished.
TINY = ["--num-cpus", "2", "--cpus-per-video", "2", "--grid_step", "8", "--set", "num_iters=6", "--set", "i_weight=2",
        "--set", "num_pts=16", "--set", "num_pairs=2"]


def _batch_command(clips, out):
    return [sys.executable, "-m", "omnimotion.cli.main", "batch", *map(str, clips), "--out", str(out), *TINY]


def _kill_with_descendants(pid):
    """SIGKILL ``pid`` and every process below it at once, as a crash of the machine would (Ray's workers run
    in process groups of their own, so killing the driver's group alone could leave them finishing a task)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    doomed, queue = [], [pid]
    while queue:
        doomed.append(queue.pop())
        queue.extend(children.get(doomed[-1], []))
    for target in doomed:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_for_a_finished_video(process, out, names, timeout_s=900.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before it could be killed"
        done = [name for name in names if (status := read_status(out / name)) and status.state == "done"]
        if done:
            return done
        time.sleep(0.1)
    raise AssertionError(f"no video finished within {timeout_s} s")


def test_rerun_after_a_kill_finishes_only_what_is_missing(tmp_path):
    clips = []
    for seed in (1, 2, 3):
        clips.append(tmp_path / f"clip{seed}.mp4")
        write_video(make_clip(num_frames=5, height=32, width=48, num_sprites=1, seed=seed), clips[-1], fps=7)
    names = [clip.stem for clip in clips]
    out = tmp_path / "runs"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.Popen(_batch_command(clips, out), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        _wait_for_a_finished_video(first, out, names)
    finally:
        _kill_with_descendants(first.pid)
        first.wait()
    finished = [name for name in names if read_status(out / name).state == "done"]
    assert 0 < len(finished) < len(names)
    kept = {name: [(out / name / f).stat().st_mtime_ns for f in ("tracks.npz", "out/surface/model_000006.pth")]
            for name in finished}

    rerun = subprocess.run(_batch_command(clips, out), env=env, capture_output=True, text=True, timeout=900)

    assert rerun.returncode == 0, rerun.stderr
    for name in finished:
        assert f"{name}: already done with these settings, skipped" in rerun.stdout
        assert [(out / name / f).stat().st_mtime_ns for f in ("tracks.npz", "out/surface/model_000006.pth")] \
            == kept[name]
    assert all(read_status(out / name).state == "done" and (out / name / "tracks.npz").is_file() for name in names)
    assert f"3 of 3 videos done ({len(finished)} were already done), 0 failed" in rerun.stdout
