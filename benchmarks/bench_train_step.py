"""Training speed, memory and accuracy on 2 CPU cores (run by hand; figures go in notes, never in tests).

  python benchmarks/bench_train_step.py step  [--config official|fast] [--steps 2] [--compare_naive]
      ms per training step and peak RSS on a synthetic 50-frame 256x256 clip. "official" is
      configs/default.txt (8 pairs x 256 points, 32 samples, full widths, affine); "fast" is configs/fast.txt.
  python benchmarks/bench_train_step.py fit [--steps 2000] [--motion_share 0] [--frames 50] [--size 256]
      trains the fast config on a synthetic clip supervised by its exact flows; reports wall time, the
      flow-loss curve and the end-point error at 256 strided queries vs ground truth, next to chaining
      the same (ground-truth) consecutive flows, chaining DIS flows, and zero motion.

The data directory (exact flows for every pair, ~1.3 GB at 50 frames 256x256) is cached in --work.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from omnimotion.config import load_config
from omnimotion.io.datadir import DataDir
from omnimotion.synthetic import make_clip, sample_queries
from omnimotion.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]


def prepared_clip(work: Path, frames: int, size: int):
    """Synthetic clip (2 sprites, mixed motion) and a data directory with its exact flows and masks."""
    sys.path.insert(0, str(REPO / "tests" / "train"))
    from conftest import synthetic_pair_fn, write_prepared_dir

    clip = make_clip(num_frames=frames, height=size, width=size, num_sprites=2, motion="mixed", seed=0)
    root = work / f"synthetic_{frames}x{size}"
    if not (root / "flow_stats.json").exists():
        t0 = time.time()
        write_prepared_dir(root, clip.video, synthetic_pair_fn(clip))
        print(f"prepared {root} in {time.time() - t0:.0f} s")
    return clip, DataDir(root)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_inputs(trainer: Trainer, batch):
    """The straightforward step: model.correspondences + two map_between calls (3 maps each way)."""
    from omnimotion.train.losses import LossInputs

    model = trainer.model
    corr = model.correspondences(batch.pts_i, batch.frame_i, batch.frame_j, stratified=True,
                                 generator=trainer.generator)
    index = trainer._smoothness_index(batch.frame_i)
    x, frames = corr.samples_i[index], batch.frame_i[index]
    return LossInputs(corr.points_j, batch.pts_j, batch.weights, corr.rgb_i, batch.rgb_i, batch.pts_i,
                      corr.samples_j[..., 2], corr.ray_depths, corr.weights, x,
                      model.map_between(x, frames, frames - 1), model.map_between(x, frames, frames + 1))


def time_forward_backward(trainer: Trainer, fused: bool, steps: int) -> list[float]:
    """ms of loss forward + backward (no optimiser step) on fresh batches."""
    from omnimotion.train.forward import training_forward
    from omnimotion.train.losses import compute_losses, weighted_total
    from omnimotion.train.schedules import loss_weights

    times = []
    for _ in range(steps):
        batch = trainer.sampler.sample(trainer.step)
        t0 = time.perf_counter()
        inputs = (training_forward(trainer.model, batch, trainer._smoothness_index(batch.frame_i),
                                   generator=trainer.generator) if fused else naive_inputs(trainer, batch))
        terms = compute_losses(inputs, trainer.sampler.image_hw, 0.0, 2.0)
        weighted_total(terms, loss_weights(trainer.step, trainer.tcfg)).backward()
        trainer.optimizer.zero_grad(set_to_none=True)
        times.append(1000 * (time.perf_counter() - t0))
    return times


def bench_step(args, data: DataDir) -> None:
    name = "default.txt" if args.config == "official" else "fast.txt"
    cfg = load_config(REPO / "configs" / name, {"no_reload": True, "device": "cpu", "save_dir": str(args.work / "out"),
                                                "progress": False})
    trainer = Trainer(data.root, cfg)
    trainer.step = args.at_step  # the window and loss weights of a mid-training step
    times, cpu_times = [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.train_step()
        times.append(1000 * (time.perf_counter() - t0))
        cpu_times.append(1000 * (time.process_time() - c0))  # all threads; less sensitive to sharing
    rays = cfg.train.num_pairs * cfg.train.num_pts
    result = {"config": args.config, "rays": rays, "samples_per_ray": cfg.model.num_samples_ray,
              "threads": torch.get_num_threads(), "ms_per_step": [round(t) for t in times],
              "median_ms": round(float(np.median(times))),
              "median_cpu_ms": round(float(np.median(cpu_times))), "peak_rss_mb": round(peak_rss_mb())}
    if args.compare_naive:
        naive = time_forward_backward(trainer, False, args.steps)
        fused = time_forward_backward(trainer, True, args.steps)
        result["forward_backward_ms"] = {"naive": [round(t) for t in naive], "fused": [round(t) for t in fused],
                                         "speedup_median": round(float(np.median(naive) / np.median(fused)), 2)}
    print(json.dumps(result))


def endpoint_errors(tracks: np.ndarray, gt: np.ndarray, gt_occluded: np.ndarray, queries: np.ndarray,
                    foreground: np.ndarray) -> dict[str, float]:
    """Mean EPE (px) over GT-visible (query, frame) pairs other than the query frame; all / fg / bg."""
    t = queries[:, 0].astype(int)
    mask = ~gt_occluded
    mask[np.arange(len(t)), t] = False
    err = np.linalg.norm(tracks - gt, axis=-1)
    out = {"all": float(err[mask].mean())}
    out["fg"] = float(err[mask & foreground[:, None]].mean())
    out["bg"] = float(err[mask & ~foreground[:, None]].mean())
    return {k: round(v, 2) for k, v in out.items()}


def bench_fit(args, clip, data: DataDir) -> None:
    from omnimotion.eval.baselines import FlowCache, chain_tracks
    from omnimotion.flow import get_backend
    from omnimotion.track.tracker import Tracker

    overrides = {"no_reload": True, "device": "cpu", "save_dir": str(args.work / "out"),
                 "expname": f"fit_ms{args.motion_share}", "num_iters": args.steps,
                 "motion_share": args.motion_share, "progress": False, "tensorboard": False}
    cfg = load_config(REPO / "configs" / "fast.txt", overrides)
    trainer = Trainer(data.root, cfg)
    t0 = time.time()
    trainer.fit()
    wall = time.time() - t0
    flow_curve = [round(float(np.mean([h["flow"] for h in trainer.history[s:s + 100]])), 3)
                  for s in range(0, len(trainer.history), 100)]
    queries = sample_queries(clip, 256, seed=1, mode="strided")
    gt, gt_occ = clip.track(queries)
    fg = np.array([clip.visible_layer(int(q[0]), q[None, 1:])[0] > 0 for q in queries])
    trainer.model.eval()
    model_tracks = Tracker(trainer.model, progress=False)(queries).tracks
    chain_gt = chain_tracks(clip.video, queries, FlowCache(clip.video, None, datadir=data.root))[0]
    chain_dis = chain_tracks(clip.video, queries, FlowCache(clip.video, get_backend("dis")))[0]
    zero = np.repeat(queries[:, None, 1:], clip.num_frames, axis=1)
    print(json.dumps({
        "steps": args.steps, "motion_share": args.motion_share, "threads": torch.get_num_threads(),
        "train_wall_s": round(wall), "s_per_step": round(wall / args.steps, 3), "peak_rss_mb": round(peak_rss_mb()),
        "flow_loss_per_100_steps": flow_curve,
        "epe_model": endpoint_errors(model_tracks, gt, gt_occ, queries, fg),
        "epe_chain_gt_flow": endpoint_errors(chain_gt, gt, gt_occ, queries, fg),
        "epe_chain_dis_flow": endpoint_errors(chain_dis, gt, gt_occ, queries, fg),
        "epe_zero_motion": endpoint_errors(zero, gt, gt_occ, queries, fg),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["step", "fit"])
    parser.add_argument("--config", choices=["official", "fast"], default="fast")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--at_step", type=int, default=1000)
    parser.add_argument("--motion_share", type=float, default=0.0)
    parser.add_argument("--compare_naive", action="store_true",
                        help="step mode: also time the straightforward (unfused) forward+backward")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/omnimotion_bench"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clip, data = prepared_clip(args.work, args.frames, args.size)
    if args.mode == "step":
        args.steps = args.steps or 2
        bench_step(args, data)
    else:
        args.steps = args.steps or 2000
        bench_fit(args, clip, data)


if __name__ == "__main__":
    main()
