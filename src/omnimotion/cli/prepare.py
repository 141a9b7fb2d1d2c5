"""``omnimotion prepare``: video or frames -> training-ready data directory; and the official script shims.

``omnimotion prepare clip.mp4 --out work/clip`` runs frames, all-pairs flow, filtering and chaining
(``omnimotion.preprocess.pipeline.prepare``). ``main_processing`` and ``filter_raft`` parse the official
scripts' arguments (``python main_processing.py --data_dir D --chain``, ``python filter_raft.py --data_dir D
--cycle_th 3``) and call the same library functions.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from omnimotion.cli.main import HelpFormatter, run_reporting_errors
from omnimotion.config import add_field_options, compose, given_values

__all__ = ["add_parser", "run", "main_processing", "filter_raft", "add_flow_backend_options", "flow_overrides",
           "FLOW_KEYS"]

FLOW_KEYS = ("flow", "dis_preset", "raft_weights", "raft_variant")
"""The config keys of the flow backend (``PrepareConfig``), options of every command that computes flow."""
PREPARE_KEYS = ("cycle_th", "appearance", "dino_weights", "chain_direct_max_gap", "max_side", "max_gap", "start",
                "end", "stride")


def add_flow_backend_options(parser: argparse.ArgumentParser) -> None:
    """``--flow`` and the options of each backend (shared by prepare, run, demo, batch and eval)."""
    add_field_options(parser, FLOW_KEYS)
    parser.add_argument("--flow_weights", dest="raft_weights", help=argparse.SUPPRESS)  # the earlier name
    parser.add_argument("--raft_small", dest="raft_variant", action="store_const", const="small",
                        help=argparse.SUPPRESS)  # the earlier switch for --raft_variant small


def flow_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The flow keys given on the command line (for ``compose``)."""
    return given_values(args, FLOW_KEYS)


def _add_flow_arguments(parser: argparse.ArgumentParser) -> None:
    add_flow_backend_options(parser)
    parser.add_argument("--workers", type=int, default=None, help="processes; default: all cores")
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="video -> frames, all-pairs flow, filtered masks and chained flows (resumable)",
        description="Preprocess a video (mp4, mov, webm, avi, gif), a folder of jpg/png frames or a data "
                    "directory with color/ into the official OmniMotion data layout. Re-running resumes. The "
                    "defaults are those of 'omnimotion run'.",
        formatter_class=HelpFormatter)
    parser.add_argument("source", help="video file, frame folder, or data directory with color/")
    parser.add_argument("--out", required=True, help="output data directory")
    _add_flow_arguments(parser)
    add_field_options(parser, PREPARE_KEYS)
    parser.add_argument("--no_chain", action="store_const", const="false", dest="chain",
                        help="skip chaining (the official code always chains)")
    return parser


def run(args: argparse.Namespace) -> int:
    from omnimotion.preprocess.pipeline import prepare

    options = given_values(args, FLOW_KEYS + PREPARE_KEYS + ("chain",))
    if str(options.get("chain_direct_max_gap", "")).lower() == "official":  # the earlier name of none
        options["chain_direct_max_gap"] = None
    data = prepare(args.source, args.out, compose(overrides=options).prepare, workers=args.workers,
                   progress=not args.no_progress)
    logging.getLogger(__name__).info("data directory ready: %s (%d frames)", data.root, data.num_frames)
    return 0


def main_processing(argv: list[str] | None = None) -> int:
    """The official ``main_processing.py`` command line (``--model`` selects RAFT with that state dict)."""
    parser = argparse.ArgumentParser(prog="main_processing.py", description=main_processing.__doc__,
                                     allow_abbrev=False)
    parser.add_argument("--data_dir", required=True, help="sequence directory holding color/")
    parser.add_argument("--model", default=None, help="RAFT weights file; implies --flow raft")
    parser.add_argument("--chain", action="store_true", dest="official_chain",
                        help="accepted for compatibility; chaining always runs")
    _add_flow_arguments(parser)
    add_field_options(parser, ("cycle_th", "max_gap", "appearance", "dino_weights"))
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    args = parser.parse_args(argv)
    if args.model is not None:
        args.flow, args.raft_weights = "raft", args.raft_weights or args.model
    # the official layout and rules: frames in place as they are, direct flows win wherever valid
    args.source, args.out, args.max_side, args.chain_direct_max_gap = args.data_dir, args.data_dir, "none", "none"
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_reporting_errors(run, args)


def filter_raft(argv: list[str] | None = None) -> int:
    """The official ``filter_raft.py`` command line: re-filter the flows in place (no chaining after)."""
    parser = argparse.ArgumentParser(prog="filter_raft.py", description=filter_raft.__doc__, allow_abbrev=False)
    parser.add_argument("--data_dir", required=True, help="sequence directory with raft_exhaustive/")
    add_field_options(parser, ("cycle_th", "appearance", "dino_weights"))
    parser.add_argument("--workers", type=int, default=None, help="processes; None = all cores")
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    def _refilter(args: argparse.Namespace) -> int:
        from omnimotion.preprocess.pipeline import refilter

        options = compose(overrides=given_values(args, ("cycle_th", "appearance", "dino_weights"))).prepare
        refilter(args.data_dir, cycle_th=options.cycle_th, appearance=options.appearance_model(),
                 workers=args.workers, progress=not args.no_progress)
        return 0

    return run_reporting_errors(_refilter, args)
