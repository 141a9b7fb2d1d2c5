"""Throughput of ``omnimotion batch`` on Ray against a plain sequential loop, in one run; run by hand, never in tests.

    OMP_NUM_THREADS=1 python benchmarks/bench_batch.py                  # 8 clips, 2 Ray CPUs, ~6 min on 2 cores
    OMP_NUM_THREADS=1 python benchmarks/bench_batch.py --clips 4 --num_iters 50 --keep /tmp/bench_batch

Clips: ``--clips`` synthetic clips (``omnimotion.synthetic.make_clip``, 16 frames of 128x128, 2 sprites, mixed
motion, seeds 0..N-1) written as mp4. Settings: the default preset of ``omnimotion run`` (``surface``) with
``num_iters`` steps (default 200; the preset trains 3000), DIS flow, ``max_side`` 256, a grid of about 12x12
tracked points with all pictures rendered, i.e. exactly what ``omnimotion run`` writes.

1. sequential: ``omnimotion.pipeline.run_stages`` on each clip in turn, in this process (preprocessing with all cores,
   as ``omnimotion run`` does);
2. Ray: ``omnimotion batch`` in this process: a local Ray instance with ``--num_cpus`` CPUs, one task per video
   stage with 1 CPU each (preprocessing with one worker process per task).

Reports wall time and videos per hour of each, the Ray start-up time (not in the batch wall time), the sum of the
stage times measured inside the tasks, and Ray's own overhead: the round trip of a trivial task (submitted and
awaited one at a time), the throughput of trivial tasks submitted together, and what the batch spent beyond its
stages: ``(wall x CPUs - sum of stage seconds) / tasks`` (worker start-up and imports, scheduling, idle CPUs
while the last videos finish).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def make_clips(folder: Path, count: int) -> list[Path]:
    from omnimotion.synthetic import make_clip, write_video

    paths = []
    for seed in range(count):
        paths.append(folder / f"clip{seed}.mp4")
        write_video(make_clip(num_frames=16, height=128, width=128, num_sprites=2, motion="mixed", seed=seed),
                    paths[-1], fps=10)
    return paths


def run_sequential(clips: list[Path], out: Path, settings) -> float:
    from omnimotion.pipeline import run_stages

    start = time.perf_counter()
    for clip in clips:
        run_stages(clip, out / clip.stem, settings, progress=False)
    return time.perf_counter() - start


def run_on_ray(clips: list[Path], out: Path, settings, num_cpus: int) -> dict:
    import ray

    from omnimotion.batch import TaskResources, plan_videos, ray_session, run_batch

    start = time.perf_counter()
    with ray_session(num_cpus=num_cpus):
        started = time.perf_counter() - start
        report = run_batch(plan_videos(clips, out), settings, TaskResources(cpus=1), progress=False)
        trivial = measure_trivial_tasks(ray)
    stage_seconds = sum(sum(status.seconds.values()) for status in report.statuses)
    tasks = 3 * len(clips)
    return {"ray_start_s": started, "wall_s": report.seconds, "failed": len(report.failed),
            "sum_stage_s": stage_seconds,
            "overhead_per_task_s": (report.seconds * num_cpus - stage_seconds) / tasks, **trivial}


def measure_trivial_tasks(ray, count: int = 200) -> dict:
    noop = ray.remote(num_cpus=1)(lambda: None)
    ray.get([noop.remote() for _ in range(10)])  # workers started and the function registered
    start = time.perf_counter()
    for _ in range(count):
        ray.get(noop.remote())
    round_trip = (time.perf_counter() - start) / count
    start = time.perf_counter()
    ray.get([noop.remote() for _ in range(count)])
    bulk = (time.perf_counter() - start) / count
    return {"trivial_task_round_trip_ms": 1000 * round_trip, "trivial_tasks_bulk_ms_per_task": 1000 * bulk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--num_iters", type=int, default=200)
    parser.add_argument("--num_cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = parser.parse_args()
    from omnimotion.pipeline import RunSettings, run_config

    load_at_start = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="bench_batch_", dir=args.keep))
    clips = make_clips(root, args.clips)
    config = run_config(overrides={"num_iters": args.num_iters})
    sequential_s = run_sequential(clips, root / "sequential", RunSettings(config))
    ray_result = run_on_ray(clips, root / "ray", RunSettings(config, workers=1), args.num_cpus)
    result = {"clips": args.clips, "frames": 16, "size": "128x128", "preset": "surface", "num_iters": args.num_iters,
              "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "ray_cpus": args.num_cpus,
              "load_average_1min_at_start": load_at_start, "load_average_1min_at_end": os.getloadavg()[0],
              "sequential_wall_s": sequential_s, "sequential_s_per_video": sequential_s / args.clips,
              "sequential_videos_per_hour": 3600 * args.clips / sequential_s,
              "ray_s_per_video": ray_result["wall_s"] / args.clips,
              "ray_videos_per_hour": 3600 * args.clips / ray_result["wall_s"], **ray_result}
    print(json.dumps({key: round(value, 3) if isinstance(value, float) else value for key, value in result.items()},
                     indent=1))
    if args.keep is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
