"""Time training steps late in a run, with and without flushing denormal floats (run by hand).

Usage: python benchmarks/bench_late_steps.py DATA_DIR [--preset fast] [--steps 10] [--threads 1]

DATA_DIR must hold a finished (or late) run of the preset, e.g. from
``omnimotion eval --dataset DIR --method omnimotion --preset fast``. The newest checkpoint is loaded and
``--steps`` further steps are timed three times: flushing off, on, off again (the Trainer turns it on; this
script toggles it between rounds). Nothing is saved. Late in a faithful CPU run, Adam's statistics and
some gradients fall into the denormal float range, where x86 arithmetic is many times slower.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from omnimotion.pipeline import run_config
from omnimotion.io.checkpoint import latest_checkpoint
from omnimotion.train.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    cfg = run_config(preset=args.preset, overrides={"progress": False, "tensorboard": False,
                                                    "threads": args.threads})
    trainer = Trainer(args.data_dir, cfg)
    checkpoint = latest_checkpoint(trainer.out_dir)
    if checkpoint is None:
        raise SystemExit(f"no checkpoint in {trainer.out_dir}: train the {args.preset} preset on it first")
    trainer.load(checkpoint)
    print(f"from {checkpoint} (step {trainer.step}), {args.steps} steps per round, {args.threads} thread(s)")
    for flush in (False, True, False):
        torch.set_flush_denormal(flush)
        start = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step()
        print(f"flush denormals {'on ' if flush else 'off'}: {(time.perf_counter() - start) / args.steps:.3f} s/step")


if __name__ == "__main__":
    main()
