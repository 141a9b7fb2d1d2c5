"""Training speed of the surface preset with the automatic thread count against forced thread counts.

Usage: python benchmarks/bench_threads.py [--work /tmp/bench_threads] [--steps 300] [--threads 0 2]
                                          [--busy 0 1]

Prepares a small synthetic clip once (24 frames, 128x128, as ``omnimotion demo``), then for each thread setting
(0 = automatic, ``omnimotion.io.threads``) and each number of extra busy processes (``python -c "while 1:
pass"``) trains ``--steps`` steps in a fresh process without ``OMP_NUM_THREADS`` and prints steps/s, the threads
chosen and what the rest of the machine was doing (cores busy before the run, from ``/proc/stat``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

_TRAIN = """
import sys, time
from omnimotion.pipeline import run_config
from omnimotion.train.trainer import Trainer
import torch
data_dir, threads, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = run_config(preset="surface", overrides={"threads": threads, "tensorboard": False, "progress": False,
                                              "no_reload": True})
trainer = Trainer(data_dir, cfg)
for _ in range(10):  # warm-up: first steps allocate
    trainer.train_step()
start = time.perf_counter()
for _ in range(steps):
    trainer.train_step()
print(f"{steps / (time.perf_counter() - start):.2f} {torch.get_num_threads()}")
"""


def prepare_clip(work: Path) -> Path:
    from omnimotion.preprocess.options import PrepareConfig
    from omnimotion.preprocess.pipeline import prepare
    from omnimotion.synthetic import make_clip, write_video

    clip = work / "clip.mp4"
    if not clip.exists():
        write_video(make_clip(num_frames=24, height=128, width=128, num_sprites=3, motion="mixed", seed=0), clip,
                    fps=10)
    return prepare(clip, work / "data", PrepareConfig(max_side=None), progress=False).root


def busy_cores() -> float:
    from omnimotion.io.threads import _cores_busy_elsewhere, usable_cores

    return _cores_busy_elsewhere(usable_cores()) or 0.0


def measure(data_dir: Path, threads: int, steps: int, busy: int) -> tuple[float, int, float]:
    """(steps/s, threads used, cores busy elsewhere before the run) with ``busy`` spinning processes."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    spinners = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(busy)]
    try:
        time.sleep(1.0)
        load = busy_cores()
        done = subprocess.run([sys.executable, "-c", _TRAIN, str(data_dir), str(threads), str(steps)], env=env,
                              capture_output=True, text=True, check=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    rate, used = done.stdout.split()
    return float(rate), int(used), load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_threads"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, nargs="+", default=[0, 2], help="0 = automatic")
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1], help="extra spinning processes")
    args = parser.parse_args()
    data_dir = prepare_clip(args.work)
    print("busy processes | threads setting | threads used | cores busy before | steps/s")
    for busy in args.busy:
        for threads in args.threads:
            rate, used, load = measure(data_dir, threads, args.steps, busy)
            setting = "auto" if threads == 0 else str(threads)
            print(f"{busy} | {setting} | {used} | {load:.1f} | {rate:.2f}", flush=True)


if __name__ == "__main__":
    main()
