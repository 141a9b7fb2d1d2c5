"""``omnimotion run VIDEO``: prepare, train, track a grid and render the result, resuming any finished stage."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from omnimotion.cli.main import HelpFormatter, parse_key_values
from omnimotion.cli.prepare import FLOW_KEYS, add_flow_backend_options
from omnimotion.config import PRESETS, add_field_options, given_values
from omnimotion.preprocess.plan import MIN_AUTO_GAP, PAIR_BUDGET

if TYPE_CHECKING:
    from omnimotion.pipeline import RunSettings

__all__ = ["add_parser", "run", "add_run_options", "run_and_report", "run_settings", "RUN_KEYS"]

RUN_KEYS = ("device", "max_side", "start", "end", "stride")
"""Config keys with an option of their own on ``run``, ``demo`` and ``batch`` (every key can be --set)."""

logger = logging.getLogger(__name__)


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="video -> data directory, trained model, tracks and videos (resumes finished stages)",
        description="Run the whole pipeline on a video file or a folder of frames: preprocessing "
                    "(frames, all-pairs flow, filtering, chaining), training, tracking a grid of points from "
                    "frame 0, and rendering. Tracks and videos are in the source video's pixels. Re-running "
                    "the same command resumes where it stopped.",
        formatter_class=HelpFormatter)
    parser.add_argument("source", help="video file (mp4, mov, webm, avi, gif) or folder of jpg/png frames")
    parser.add_argument("--out", default=None, help="output data directory (default: runs/<name of source>)")
    add_run_options(parser)
    return parser


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``demo``."""
    parser.add_argument("--preset", default="surface", choices=sorted(PRESETS) + ["none"],
                        help="training preset: surface (fast single-surface variant), fast (the faithful method, "
                             "CPU-sized), none (the official defaults, very slow on a CPU)")
    parser.add_argument("--config", default=None, help="official-format config file (applied over the preset)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="set one config key, e.g. --set num_iters=500 (repeatable): 'omnimotion train --help' "
                             "lists the training, model and tracking keys, 'omnimotion prepare --help' the "
                             "preprocessing ones")
    parser.add_argument("--grid_step", type=int, default=None,
                        help="source-video pixels between tracked grid points (default: about 12 points per side)")
    add_flow_backend_options(parser)
    add_field_options(parser, RUN_KEYS)
    parser.add_argument("--max_gap", type=_max_gap, default=None, metavar="N|all",
                        help="prepare and train on frame pairs at most N frames apart only: disk use grows as "
                             "frames x N instead of frames²; all: every pair; default: every pair up to "
                             f"{PAIR_BUDGET:,} pairs (71 frames), beyond that the widest window within them "
                             f"(at least {MIN_AUTO_GAP}), said in one line")


def _max_gap(text: str) -> int | str:
    if text.strip().lower() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of frames or 'all', got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    source = Path(args.source)
    out = Path(args.out) if args.out else Path("runs") / source.stem
    return run_and_report(source, out, args)


def run_and_report(source: Path, out: Path, args: argparse.Namespace) -> int:
    from omnimotion.pipeline import run_stages

    outputs = run_stages(source, out, run_settings(args))
    print(f"tracks:   {outputs.tracks} (and {outputs.csv.name})")
    print(f"video:    {outputs.video}")
    print(f"grid:     {outputs.grid_video}")
    print(f"summary:  {outputs.summary}")
    print(f"model:    {outputs.checkpoint}")
    return 0


def run_settings(args: argparse.Namespace, workers: int | None = None) -> RunSettings:
    """The ``RunSettings`` given by the options of ``add_run_options`` (shared by run, demo and batch): one
    ``compose`` of the preset, the config file and the options, validated before any work."""
    from omnimotion.pipeline import RunSettings, run_config

    overrides = given_values(args, FLOW_KEYS + RUN_KEYS)
    if args.max_gap not in (None, "all"):
        overrides["max_gap"] = args.max_gap
    overrides.update(parse_key_values(args.set))
    config = run_config(args.config, None if args.preset == "none" else args.preset, overrides)
    return RunSettings(config, grid_step=args.grid_step, workers=workers, auto_max_gap=args.max_gap != "all")
