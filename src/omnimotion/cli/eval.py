"""``omnimotion eval``: TAP-Vid metrics (AJ, <delta_avg, OA), TC and BADJA PCK of trackers on a dataset.

Writes ``OUT/results.csv`` and ``OUT/results.md`` (only when something was scored) and prints the markdown tables;
each (video, method)'s predictions are saved in ``OUT/predictions`` and not recomputed while the settings match;
``--rescore OUT`` scores them again without running anything. Exit code 1 if any (video, method) failed (the rest
still ran) or nothing was scored.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from omnimotion.pipeline import DEFAULT_PRESET, run_config, track_with_model, train_until_done
from omnimotion.batch import ray_job_map
from omnimotion.cli.batch import add_ray_options, connected_ray, task_resources
from omnimotion.cli.main import HelpFormatter, parse_key_values
from omnimotion.cli.prepare import add_flow_backend_options, flow_overrides
from omnimotion.config import PRESETS
from omnimotion.eval import (CYCLE_TH_PX, EvalConfig, EvalResults, MethodOptions, TrackingMethod, baseline_methods,
                             rescore_config, run_evaluation)
from omnimotion.io.atomic import save_png
from omnimotion.preprocess.pipeline import prepare

__all__ = ["add_parser", "run", "evaluation_methods", "omnimotion_method"]

log = logging.getLogger(__name__)


def evaluation_methods() -> dict[str, TrackingMethod]:
    """The methods ``--method`` chooses from, by name: the flow baselines and ``omnimotion``, the model
    (fitted on each video in its work folder, then tracking the queries; ``--preset``/``--set`` configure it)."""
    return {**baseline_methods(), "omnimotion": omnimotion_method}


def omnimotion_method(video: np.ndarray, queries: np.ndarray, workdir: Path, options: MethodOptions):
    """Evaluation method 'omnimotion': fit the model on ``video`` in ``workdir`` (resuming), track ``queries``.

    Preprocessing follows ``options.prepare`` at the video's own size; ``options.extra`` holds the ``preset``
    (default ``DEFAULT_PRESET``) and ``config`` file to start from and config key overrides."""
    frames_dir = workdir / "frames"
    if not frames_dir.is_dir() or len(list(frames_dir.glob("*.png"))) != len(video):
        for index, frame in enumerate(video):
            save_png(frames_dir / f"{index:05d}.png", frame)
    extra = dict(options.extra)
    cfg = run_config(extra.pop("config", None), extra.pop("preset", DEFAULT_PRESET), extra)
    data = prepare(frames_dir, workdir / "data", replace(options.prepare, max_side=None), workers=options.workers,
                   progress=False)
    checkpoint = train_until_done(data.root, cfg)
    tracks = track_with_model(checkpoint, queries, data, device=cfg.train.device, track=cfg.track)
    return tracks.tracks, tracks.occluded


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="measure trackers on TAP-Vid/BADJA/synthetic ground truth",
        description="Run each method on each video of a dataset and score it as the TAP-Vid benchmark does "
                    "(256x256 raster pixels, per-video metrics averaged over videos).",
        formatter_class=HelpFormatter)
    parser.add_argument("--dataset",
                        help="TAP-Vid .pkl, an .npz, a folder of .npz files (searched recursively), or "
                             "synthetic:K[,frames=50,size=256,sprites=3,points=64,motion=mixed,seed=0]")
    parser.add_argument("--method", default="chain,direct",
                        help=f"comma-separated methods; available: {', '.join(sorted(evaluation_methods()))}")
    parser.add_argument("--query_mode", choices=("strided", "first"), default="strided",
                        help="TAP-Vid query protocol (BADJA-style files with a valid mask always use first)")
    parser.add_argument("--out", help="output folder for results, saved predictions, work folders and plots")
    parser.add_argument("--rescore", metavar="OUT", default=None,
                        help="score the predictions saved in OUT again (dataset, methods and options as saved) "
                             "and rewrite its results; runs no method")
    add_flow_backend_options(parser)
    parser.add_argument("--cycle_th_px", type=float, default=CYCLE_TH_PX,
                        help="forward-backward cycle error (px) above which the flow baselines say occluded")
    parser.add_argument("--preset", default=None, choices=sorted(PRESETS),
                        help=f"preset of the omnimotion method (default: {DEFAULT_PRESET})")
    parser.add_argument("--config", default=None, help="config file of the omnimotion method (over the preset)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config key of the omnimotion method, e.g. --set num_iters=500 (repeatable); "
                             "preprocessing keys (cycle_th, max_gap, ...) apply to it too")
    parser.add_argument("--max_videos", type=int, default=None, help="evaluate only the first N videos")
    parser.add_argument("--no_plots", action="store_true", help="skip the per-video track pictures")
    add_ray_options(parser, "no Ray, the videos one after another in this process")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.rescore and (args.dataset or args.out):
        raise ValueError("--rescore OUT takes the dataset, methods and options saved in OUT; leave out --dataset/--out")
    config = rescore_config(args.rescore) if args.rescore else _config(args)
    results = _evaluate(config, args)
    out = config.out_dir
    if not results.rows:
        log.error("no (video, method) was scored, so no results were written in %s; see the errors above", out)
        return 1
    sys.stdout.write(results.markdown)
    log.info("wrote %s and %s", out / "results.csv", out / "results.md")
    if results.failures:
        log.error("%d (video, method) runs failed; see the Failed section of %s", len(results.failures),
                  out / "results.md")
        return 1
    return 0


def _config(args: argparse.Namespace) -> EvalConfig:
    if args.dataset is None or args.out is None:
        raise ValueError("give --dataset and --out (or --rescore OUT to score saved predictions again)")
    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    if not methods:
        raise ValueError("--method is empty; give e.g. --method chain,direct")
    if args.max_videos is not None and args.max_videos < 1:
        raise ValueError(f"--max_videos must be >= 1, got {args.max_videos}")
    extra = {"preset": args.preset} if args.preset else {}
    if args.config:  # absolute: methods may run in another working directory
        extra["config"] = str(Path(args.config).resolve())
    extra.update(parse_key_values(args.set))
    # one compose of everything the methods will use: a bad key, value or flow option fails before any work
    config = run_config(args.config, args.preset or DEFAULT_PRESET, {**parse_key_values(args.set),
                                                                     **flow_overrides(args)})
    config.prepare.backend()
    # a dataset path is saved with the predictions: absolute, so --rescore works from any directory
    dataset = args.dataset if args.dataset.startswith("synthetic:") else str(Path(args.dataset).resolve())
    return EvalConfig(dataset=dataset, methods=methods, out_dir=Path(args.out), query_mode=args.query_mode,
                      max_videos=args.max_videos, plots=not args.no_plots,
                      method_options=MethodOptions(prepare=config.prepare, cycle_th_px=args.cycle_th_px,
                                                   extra=extra))


def _evaluate(config: EvalConfig, args: argparse.Namespace) -> EvalResults:
    """In this process, or with --address one Ray task per video (its methods without saved predictions)."""
    if args.address is None:
        return run_evaluation(config, evaluation_methods())
    config.out_dir = config.out_dir.resolve()  # workers may run in another working directory
    resources = task_resources(args)
    config.method_options.workers = max(1, int(resources.cpus))  # a task's preprocessing stays in its CPUs
    with connected_ray(args):
        return run_evaluation(config, evaluation_methods(), ray_job_map(resources))
