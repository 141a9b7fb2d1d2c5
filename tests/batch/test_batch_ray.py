"""``omnimotion batch`` and ``omnimotion eval --address`` on one local Ray instance (2 CPUs) shared by this module."""

import csv
import os
import shutil

import numpy as np
import pytest

from omnimotion.pipeline import RunSettings, prepare_stage
from omnimotion.batch.cluster import TaskResources, describe_task_failure, ray_chunk_map
from omnimotion.batch.status import read_status
from omnimotion.cli.main import main
from omnimotion.io.atomic import save_png
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.pairs import compute_exhaustive_flows
from omnimotion.synthetic import make_clip, write_video
from omnimotion.track import load_tracks

ray = pytest.importorskip("ray")

TINY = ["--grid_step", "8", "--set", "num_iters=4", "--set", "i_weight=2", "--set", "num_pts=16",
        "--set", "num_pairs=2"]


@pytest.fixture(scope="module")
def local_ray():
    """Started once (Ray takes seconds to start); ``ray_session`` uses an initialised Ray as it is."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    paths = []
    for seed in (1, 2, 3):
        path = folder / f"clip{seed}.mp4"
        write_video(make_clip(num_frames=5, height=32, width=48, num_sprites=1, seed=seed), path, fps=7)
        paths.append(str(path))
    return paths


def test_batch_gives_the_tracks_of_run_on_each_clip_alone(local_ray, clips, tmp_path, capsys):
    assert main(["batch", *clips, "--out", str(tmp_path / "batch"), *TINY]) == 0
    assert "3 of 3 videos done (0 were already done), 0 failed" in capsys.readouterr().out
    for clip in clips:
        name = os.path.basename(clip)[:-4]
        assert main(["run", clip, "--out", str(tmp_path / "alone" / name), *TINY]) == 0
        batch, alone = (load_tracks(tmp_path / where / name / "tracks.npz") for where in ("batch", "alone"))
        assert batch.tracks.shape == (24, 5, 2)  # a grid every 8 px on 32x48 frames, through 5 frames
        np.testing.assert_allclose(batch.tracks, alone.tracks, atol=1e-4)
        np.testing.assert_array_equal(batch.occluded, alone.occluded)
        status = read_status(tmp_path / "batch" / name)
        assert status.state == "done" and sorted(status.seconds) == ["prepare", "track", "train"]


def test_broken_inputs_are_reported_and_the_others_complete(local_ray, clips, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    short = tmp_path / "short"  # a frame folder with one frame: too short to track
    save_png(short / "00000.png", np.zeros((32, 48, 3), np.uint8))
    out = tmp_path / "runs"
    assert main(["batch", clips[0], str(broken), str(short), "--out", str(out), *TINY]) == 1
    printed = capsys.readouterr()
    rows = {line.split(" | ")[0][2:]: line for line in printed.out.splitlines() if line.startswith("| ")}
    assert rows["clip1"].startswith("| clip1 | done | track |")
    assert rows["broken"].startswith("| broken | failed | prepare |") and "cannot decode video" in rows["broken"]
    assert rows["short"].startswith("| short | failed | prepare |") and "at least 2 frames" in rows["short"]
    assert "1 of 3 videos done (0 were already done), 2 failed" in printed.out
    assert "run the same command again" in printed.err
    assert (out / "clip1" / "tracks.npz").is_file()
    assert read_status(out / "broken").reason.startswith("CorruptFileError: cannot decode video")


def test_eval_on_ray_scores_as_the_serial_evaluation(local_ray, tmp_path):
    dataset = "synthetic:2,frames=6,size=32,sprites=1,points=8"
    for out, extra in (("serial", []), ("ray", ["--address", "local"])):
        argv = ["eval", "--dataset", dataset, "--method", "chain,direct", "--out", str(tmp_path / out), "--no_plots"]
        assert main(argv + extra) == 0, (tmp_path / out / "results.md").read_text()
    serial, distributed = ([{k: v for k, v in row.items() if k != "seconds"}
                            for row in csv.DictReader(open(tmp_path / out / "results.csv"))]
                           for out in ("serial", "ray"))
    assert len(serial) == 6 and distributed == serial  # 2 videos x 2 methods + 2 mean rows


def test_flow_fan_out_writes_the_flows_of_a_plain_prepare(local_ray, clips, tmp_path):
    assert main(["batch", clips[0], "--out", str(tmp_path / "fan"), "--flow-fan-out", *TINY]) == 0
    prepare_stage(clips[0], tmp_path / "plain", RunSettings(workers=1), progress=False)  # run's preprocessing
    fan, plain = DataDir(tmp_path / "fan" / "clip1"), DataDir(tmp_path / "plain")
    names = sorted(path.name for path in plain.flow_dir.iterdir())
    assert len(names) == 5 * 4 and sorted(path.name for path in fan.flow_dir.iterdir()) == names
    for name in names:
        np.testing.assert_array_equal(np.load(fan.flow_dir / name), np.load(plain.flow_dir / name))


def test_flow_chunks_run_as_ray_tasks_in_other_processes(local_ray, clips, tmp_path):
    data = prepare_stage(clips[0], tmp_path / "clip", RunSettings(workers=1), progress=False)
    shutil.rmtree(data.flow_dir)

    class RecordingFlow:  # defined here, so that Ray ships it by value
        name = "recording"

        def __call__(self, image_a, image_b):
            (tmp_path / f"pid{os.getpid()}").touch()
            return np.zeros(image_a.shape[:2] + (2,), np.float32)

    summary = compute_exhaustive_flows(data, RecordingFlow(), map_chunks=ray_chunk_map(TaskResources(), False),
                                       chunk_pairs=3, progress=False)
    assert (summary.total, summary.computed) == (20, 20) and len(list(data.flow_dir.glob("*.npy"))) == 20
    workers = {int(path.name[3:]) for path in tmp_path.glob("pid*")}
    assert workers and os.getpid() not in workers


def test_lost_workers_are_retried_but_task_errors_are_not(local_ray, tmp_path):
    def attempt(marker, crash):
        """Counts its runs in files beside ``marker``; the first run kills its worker or raises."""
        runs = len(list(marker.parent.glob(marker.name + "*")))
        (marker.parent / f"{marker.name}{runs}").touch()
        if runs == 0 and crash:
            os._exit(1)
        if runs == 0:
            raise ValueError("bad input")
        return runs

    task = ray.remote(attempt)
    assert ray.get(task.options(**TaskResources(max_retries=1).options()).remote(tmp_path / "crash", True)) == 1
    with pytest.raises(ray.exceptions.RayTaskError) as raised:
        ray.get(task.options(**TaskResources(max_retries=1).options()).remote(tmp_path / "error", False))
    assert describe_task_failure(raised.value, 1) == "ValueError: bad input"
    assert len(list(tmp_path.glob("error*"))) == 1  # ran once
    with pytest.raises(ray.exceptions.WorkerCrashedError):
        ray.get(task.options(**TaskResources(max_retries=0).options()).remote(tmp_path / "lost", True))


def test_ctrl_c_stops_the_running_stages_marks_them_interrupted_and_a_rerun_finishes(local_ray, clips, tmp_path,
                                                                                       monkeypatch, capsys):
    def interrupted_wait(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "batch"
    with monkeypatch.context() as patch:
        patch.setattr(ray, "wait", interrupted_wait)
        assert main(["batch", clips[0], "--out", str(out), *TINY]) == 130
    status = read_status(out / "clip1")
    assert (status.state, status.stage) == ("interrupted", "prepare") and "run the same command" in status.reason
    assert main(["batch", "--status", str(out)]) == 0
    assert "| clip1 | interrupted | prepare |" in capsys.readouterr().out
    assert main(["batch", clips[0], "--out", str(out), *TINY]) == 0
    assert read_status(out / "clip1").state == "done"
