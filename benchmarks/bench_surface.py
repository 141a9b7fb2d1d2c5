"""Time forward+backward of SurfaceModel.correspondences vs the faithful model's small CPU config (run by hand).

Usage: python benchmarks/bench_surface.py [--threads 1] [--steps 10] [--skip-faithful]

Each step: correspondences for 16 frame pairs x 256 points = 4096 pixels (a 32-frame 256x256 clip) -> L1 to a
fixed target (+ for the surface model the depth-consistency term |depth_j - surface_depth_j|) -> backward; no
optimiser (the Adam update is timed separately). Rows:

* surface: the default SurfaceModelConfig, 4096 correspondences;
* faithful small, 4096 rays: the `--preset fast` model (K=8 samples, NVP 128, canonical 256, no affine) on the same
  4096 correspondences (stratified, composited, + RGB MSE as in training);
* faithful small, 256 rays: the same model at its own preset batch (4 pairs x 64 points).

Reported: median and min-max wall ms per step after 2 warm-up steps, median process-CPU ms per step (and per 1000
correspondences), peak RSS. The VM is
shared by several jobs: expect 30-80 % noise between runs; compare rows from one run.
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import time
from typing import Callable

import torch

from omnimotion.model import ModelConfig, OmniMotionModel
from omnimotion.model.surface import SurfaceModel, SurfaceModelConfig

log = logging.getLogger("bench_surface")
H, W, NUM_FRAMES = 256, 256, 32
FAITHFUL_SMALL = dict(num_samples_ray=8, use_affine=False, nvp_hidden=128, canonical_hidden=256, time_hidden=128,
                      code_dim=64)


def _batch(num_pairs: int, num_points: int, generator: torch.Generator):
    frames = torch.randint(0, NUM_FRAMES, (num_pairs, 2), generator=generator)
    fi = frames[:, 0].repeat_interleave(num_points)
    fj = frames[:, 1].repeat_interleave(num_points)
    pts = torch.rand(num_pairs * num_points, 2, generator=generator) * torch.tensor([W - 1.0, H - 1.0])
    target = pts + torch.randn(pts.shape, generator=generator) * 3
    return pts, fi, fj, target


def _time(step: Callable[[], None], steps: int) -> tuple[float, float, float, float]:
    """(median, min, max) wall ms and median process-CPU ms per step. CPU time is less inflated than
    wall time when other jobs compete for the cores (with 1 thread it is the better figure)."""
    for _ in range(2):
        step()
    times, cpu_times = [], []
    for _ in range(steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        times.append((time.perf_counter() - start) * 1000)
        cpu_times.append((time.process_time() - cpu_start) * 1000)
    return statistics.median(times), min(times), max(times), statistics.median(cpu_times)


def surface_step(model: SurfaceModel, batch) -> Callable[[], None]:
    pts, fi, fj, target = batch

    def step() -> None:
        model.zero_grad(set_to_none=True)
        corr = model.correspondences(pts, fi, fj, stratified=True)
        loss = (corr.points_j - target).abs().mean() + 0.1 * (corr.depth_j - corr.surface_depth_j).abs().mean()
        loss.backward()
    return step


def faithful_step(model: OmniMotionModel, batch, generator: torch.Generator) -> Callable[[], None]:
    pts, fi, fj, target = batch
    rgb_target = torch.rand(pts.shape[0], 3, generator=generator)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        corr = model.correspondences(pts, fi, fj, stratified=True, generator=generator)
        loss = (corr.points_j - target).abs().mean() + 0.1 * ((corr.rgb_i - rgb_target) ** 2).mean()
        loss.backward()
    return step


def adam_step(model: torch.nn.Module) -> Callable[[], None]:
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    return optimiser.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--skip-faithful", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    rows = []
    surface = SurfaceModel(SurfaceModelConfig(), NUM_FRAMES, (H, W))
    big = _batch(16, 256, generator)
    rows.append(("surface (default cfg)", 4096, _time(surface_step(surface, big), args.steps)))
    rows.append(("surface Adam update", 0, _time(adam_step(surface), args.steps)))
    if not args.skip_faithful:
        faithful = OmniMotionModel(ModelConfig(**FAITHFUL_SMALL), NUM_FRAMES, (H, W))
        rows.append(("faithful small, 256 rays x K=8", 256,
                     _time(faithful_step(faithful, _batch(4, 64, generator), generator), args.steps)))
        rows.append(("faithful small, 4096 rays x K=8", 4096,
                     _time(faithful_step(faithful, big, generator), max(3, args.steps // 3))))
        rows.append(("faithful Adam update", 0, _time(adam_step(faithful), args.steps)))
    params = sum(p.numel() for p in surface.parameters())
    log.info("threads=%d, %dx%d, %d frames; surface parameters: %d", args.threads, H, W, NUM_FRAMES, params)
    log.info("%-34s %6s %10s %18s %10s %14s", "config", "corr", "median ms", "min-max ms", "CPU ms",
             "CPU ms/1k corr")
    for name, count, (median, low, high, cpu) in rows:
        per_k = f"{cpu / count * 1000:.1f}" if count else "-"
        log.info("%-34s %6d %10.1f %18s %10.1f %14s", name, count, median, f"{low:.1f}-{high:.1f}", cpu, per_k)
    log.info("peak RSS %.0f MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
