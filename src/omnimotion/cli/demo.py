"""``omnimotion demo``: the whole pipeline on a short clip shipped with the package, with the CPU-practical
surface preset."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from omnimotion.cli.main import HelpFormatter
from omnimotion.cli.run import add_run_options, run_and_report

__all__ = ["add_parser", "run", "demo_clip_path"]

DEMO_CLIP = "demo.mp4"


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="run the whole pipeline on a small clip shipped with the package",
        description="Prepare, train (surface preset), track and render a 24-frame synthetic clip that ships "
                    "with the package; prints where the video and the tracks are.",
        formatter_class=HelpFormatter)
    parser.add_argument("--out", default="runs/demo", help="output data directory")
    add_run_options(parser)
    return parser


def demo_clip_path() -> Path:
    return Path(str(resources.files("omnimotion") / "assets" / DEMO_CLIP))


def run(args: argparse.Namespace) -> int:
    return run_and_report(demo_clip_path(), Path(args.out), args)
