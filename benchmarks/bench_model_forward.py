"""Time forward+backward of OmniMotionModel.correspondences on CPU (run by hand; numbers are noisy on a shared VM).

Usage: python benchmarks/bench_model_forward.py [--threads 2] [--skip-official] [--steps-small 10]

Settings: "official" = 2048 points x 32 samples at full widths (2 timed steps, 1 warm-up); "small" = 256 points
x 8 samples at half widths (NVP 128, canonical 256). Each step = stratified correspondences over 8 frame pairs ->
L1 to a fixed target + RGB MSE -> backward (no optimiser). The "straightforward" variant runs the same
parameters through the official formulation (per-point code projection concatenated to every sample, masks on
whole points, a 3x3 matrix for the affine step, one Gabor filter at a time), taken from the test references in
tests/model/. Also times inference (no grad, deterministic samples, max-weight) for the same points.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import resource
import statistics
import time
from pathlib import Path

import torch

from omnimotion.model import ModelConfig, OmniMotionModel
from omnimotion.model.render import (alpha_composite, composite, contract, depth_range_mask, project,
                                     sample_ray_depths, unproject)

log = logging.getLogger("bench_model_forward")
TESTS = Path(__file__).resolve().parents[1] / "tests" / "model"
H, W, N_FRAMES, N_PAIRS = 256, 256, 50, 8


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def straightforward_correspondences(model: OmniMotionModel, pts, fi, fj, generator):
    """The official-style computation with the same parameters (for the speed comparison)."""
    bij_ref, gabor_ref = _load("test_model_bijection"), _load("test_model_gabor")
    cfg = model.cfg
    depths = sample_ray_depths(pts.shape[0], cfg.num_samples_ray, cfg.min_depth, cfg.max_depth, True, generator)
    x = unproject(pts, depths, model.height, model.width)
    ti, tj = (fi.float() + 1) / model.num_frames, (fj.float() + 1) / model.num_frames
    codes_i, codes_j = model.feature_mlp(ti[:, None]), model.feature_mlp(tj[:, None])
    u = bij_ref.reference_forward(model.deform_mlp, x, codes_i, ti)
    out = gabor_ref.reference_gabornet(model.color_mlp, contract(u))
    density, rgb = torch.nn.functional.softplus(out[..., 3] - 1), torch.sigmoid(out[..., :3])
    weights = alpha_composite(density)
    xj = bij_ref.reference_inverse(model.deform_mlp, u, codes_j, tj)
    weights = weights * depth_range_mask(xj[..., 2], cfg.min_depth, cfg.max_depth)
    pj, _ = project(composite(weights, xj), model.height, model.width)
    return pj, composite(weights, rgb)


def _batch(n_points: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(n_points, 2, generator=g) * torch.tensor([W - 1.0, H - 1.0])
    per_pair = n_points // N_PAIRS
    fi = torch.randint(0, N_FRAMES, (N_PAIRS,), generator=g).repeat_interleave(per_pair)
    fj = torch.randint(0, N_FRAMES, (N_PAIRS,), generator=g).repeat_interleave(per_pair)
    target = pts + torch.randn(n_points, 2, generator=g)
    colour = torch.rand(n_points, 3, generator=g)
    return pts, fi, fj, target, colour


def _time_interleaved(steps: dict, warmup: int, repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall ms, process-CPU ms) per call of each step, calling the steps in turn so that all of them see the
    same machine load. Process CPU time counts all threads and is much less inflated by other jobs."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in steps}
    for _ in range(repeats):
        for label, step in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            times[label].append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
    return times


def bench(name: str, cfg: ModelConfig, n_points: int, warmup: int, repeats: int, straightforward: bool) -> None:
    torch.manual_seed(0)
    model = OmniMotionModel(cfg, N_FRAMES, (H, W))
    pts, fi, fj, target, colour = _batch(n_points)
    g = torch.Generator().manual_seed(1)

    def fast_step():
        model.zero_grad(set_to_none=True)
        corr = model.correspondences(pts, fi, fj, stratified=True, generator=g)
        loss = (corr.points_j - target).abs().mean() + (corr.rgb_i - colour).square().mean()
        loss.backward()

    def straightforward_step():
        model.zero_grad(set_to_none=True)
        pj, rgb = straightforward_correspondences(model, pts, fi, fj, g)
        loss = (pj - target).abs().mean() + (rgb - colour).square().mean()
        loss.backward()

    @torch.no_grad()
    def inference_step():
        model.correspondences(pts, fi, fj, stratified=False, use_max_loc=True)

    steps = {"fast": fast_step, "inference (no grad)": inference_step}
    if straightforward:
        steps["straightforward"] = straightforward_step
    times = _time_interleaved(steps, warmup, repeats)
    medians = {}
    for label, values in times.items():
        wall, cpu = [v[0] for v in values], [v[1] for v in values]
        medians[label] = (statistics.median(wall), statistics.median(cpu))
        log.info("%-8s %-20s %5d pts x %2d samples: wall median %9.1f ms (min %9.1f, max %9.1f); "
                 "process CPU median %9.1f ms  (%d steps)", name, label, n_points, cfg.num_samples_ray,
                 medians[label][0], min(wall), max(wall), medians[label][1], len(values))
    if straightforward:
        log.info("%-8s speed-up of fast over straightforward (forward+backward): wall %.2fx, process CPU %.2fx",
                 name, medians["straightforward"][0] / medians["fast"][0],
                 medians["straightforward"][1] / medians["fast"][1])
    log.info("peak RSS so far: %.0f MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps-small", type=int, default=10)
    parser.add_argument("--skip-official", action="store_true")
    parser.add_argument("--no-straightforward", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    log.info("torch %s, %d threads", torch.__version__, torch.get_num_threads())
    small = ModelConfig(num_samples_ray=8, nvp_hidden=128, canonical_hidden=256)
    bench("small", small, 256, warmup=2, repeats=args.steps_small, straightforward=not args.no_straightforward)
    if not args.skip_official:
        bench("official", ModelConfig(), 2048, warmup=1, repeats=2, straightforward=not args.no_straightforward)


if __name__ == "__main__":
    main()
