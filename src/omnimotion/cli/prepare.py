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

from omnimotion.api import CHAIN_DIRECT_MAX_GAP, DEFAULT_MAX_SIDE
from omnimotion.cli.main import HelpFormatter, UserError, run_reporting_errors
from omnimotion.flow.opencv import DEFAULT_DIS_PRESET, DIS_PRESETS

__all__ = ["add_parser", "run", "main_processing", "filter_raft", "add_flow_backend_options", "flow_options"]


def add_flow_backend_options(parser: argparse.ArgumentParser, flow_default: str | None = "dis") -> None:
    """``--flow`` and the options of each backend (shared by prepare, run, demo and batch)."""
    parser.add_argument("--flow", default=flow_default, metavar="NAME",
                        help="optical-flow backend: dis (OpenCV, no weights) or raft (torchvision RAFT)")
    parser.add_argument("--flow_weights", default=None, metavar="PATH",
                        help="raft: RAFT weights, torchvision's or the authors' key names, large or small "
                             "(found from the file); default: torchvision's weights cache")
    parser.add_argument("--raft_small", action="store_true",
                        help="raft: RAFT-small (only needed without --flow_weights, to pick the cached file)")
    parser.add_argument("--dis_preset", default=None, choices=sorted(DIS_PRESETS),
                        help=f"dis: OpenCV's ultrafast, fast, medium, fine (medium at full resolution) or "
                             f"fine2x (fine on frames upscaled 2x); default: {DEFAULT_DIS_PRESET}; same as "
                             "--flow dis:<preset>")


def _add_flow_arguments(parser: argparse.ArgumentParser, flow_default: str | None = "dis") -> None:
    add_flow_backend_options(parser, flow_default)
    parser.add_argument("--workers", type=int, default=None, help="processes; default: all cores")
    parser.add_argument("--appearance", default="auto",
                        help="appearance check: auto (DINO features if present, else embedded), embedded, "
                             "dino (needs --dino_weights) or none")
    parser.add_argument("--dino_weights", default=None, metavar="PATH", help="DINO ViT-S weights file")
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="video -> frames, all-pairs flow, filtered masks and chained flows (resumable)",
        description="Preprocess a video (mp4, mov, webm, avi, gif), a folder of jpg/png frames or a data "
                    "directory with color/ into the official OmniMotion data layout. Re-running resumes.",
        formatter_class=HelpFormatter)
    parser.add_argument("source", help="video file, frame folder, or data directory with color/")
    parser.add_argument("--out", required=True, help="output data directory")
    _add_flow_arguments(parser)
    parser.add_argument("--cycle_th", type=float, default=3.0, help="forward-backward threshold (pixels)")
    parser.add_argument("--max_gap", type=int, default=None, help="only pairs at most this many frames apart")
    parser.add_argument("--start", type=int, default=0, help="first frame index")
    parser.add_argument("--end", type=int, default=None, help="stop before this frame index")
    parser.add_argument("--stride", type=int, default=1, help="take every stride-th frame")
    parser.add_argument("--max_side", type=int, default=DEFAULT_MAX_SIDE,
                        help="shrink so the longest side is at most this (the working size; as 'omnimotion run')")
    parser.add_argument("--no_chain", action="store_true", help="skip chaining (the official code always chains)")
    parser.add_argument("--chain_direct_max_gap", type=_optional_gap, default=CHAIN_DIRECT_MAX_GAP, metavar="N",
                        help="chaining trusts direct flows only up to N frames apart and builds longer ones from "
                             "checked chains (1, as 'omnimotion run': chains of consecutive flows only, measured "
                             "more accurate with DIS, and only those flows are computed); 'official': the "
                             "official rule, direct flows win wherever valid")
    return parser


def flow_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend options given by ``add_flow_backend_options`` (for ``get_backend``)."""
    if args.flow.startswith("dis:") and args.dis_preset not in (None, args.flow[len("dis:"):]):
        raise UserError(f"--flow {args.flow} and --dis_preset {args.dis_preset} name different DIS presets; "
                        f"give one of them")
    if args.flow == "dis":
        if args.flow_weights:
            raise UserError("--flow_weights is for --flow raft; DIS needs no weights")
        return {"preset": args.dis_preset or DEFAULT_DIS_PRESET}
    if args.flow == "raft":
        return {"weights": args.flow_weights, "small": args.raft_small}
    return {}  # unknown name: get_backend names the choices


def _optional_gap(text: str) -> int | None:
    """``--chain_direct_max_gap``: a number of frames, or ``official`` (None: the official rule)."""
    if text.strip().lower() in ("official", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of frames or 'official', got {text!r}") from None


def _appearance(args: argparse.Namespace) -> Any:
    if args.dino_weights is None:
        return args.appearance
    from omnimotion.preprocess.appearance import get_appearance

    return get_appearance("dino" if args.appearance == "auto" else args.appearance, weights=args.dino_weights)


def run(args: argparse.Namespace) -> int:
    from omnimotion.preprocess.pipeline import prepare

    data = prepare(args.source, args.out, flow=args.flow, flow_options=flow_options(args),
                   cycle_th=args.cycle_th, max_gap=args.max_gap, workers=args.workers, start=args.start,
                   end=args.end, stride=args.stride, max_side=args.max_side, chain=not args.no_chain,
                   appearance=_appearance(args), chain_direct_max_gap=args.chain_direct_max_gap,
                   progress=not args.no_progress)
    logging.getLogger(__name__).info("data directory ready: %s (%d frames)", data.root, data.num_frames)
    return 0


def main_processing(argv: list[str] | None = None) -> int:
    """The official ``main_processing.py`` command line (``--model`` selects RAFT with that state dict)."""
    parser = argparse.ArgumentParser(prog="main_processing.py", description=main_processing.__doc__)
    parser.add_argument("--data_dir", required=True, help="sequence directory holding color/")
    parser.add_argument("--model", default=None, help="RAFT weights (torchvision state dict); implies --flow raft")
    parser.add_argument("--cycle_th", type=float, default=3.0, help="forward-backward threshold (pixels)")
    parser.add_argument("--chain", action="store_true", help="accepted for compatibility; chaining always runs")
    parser.add_argument("--max_gap", type=int, default=None, help="only pairs at most this many frames apart")
    _add_flow_arguments(parser, flow_default=None)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    args = parser.parse_args(argv)
    if args.model is not None:
        args.flow, args.flow_weights = "raft", args.flow_weights or args.model
    args.flow = args.flow or "dis"
    args.source, args.out = args.data_dir, args.data_dir
    args.start, args.end, args.stride, args.max_side, args.no_chain = 0, None, 1, None, False
    args.chain_direct_max_gap = None  # the official rule
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_reporting_errors(run, args)


def filter_raft(argv: list[str] | None = None) -> int:
    """The official ``filter_raft.py`` command line: re-filter the flows in place (no chaining after)."""
    parser = argparse.ArgumentParser(prog="filter_raft.py", description=filter_raft.__doc__)
    parser.add_argument("--data_dir", required=True, help="sequence directory with raft_exhaustive/")
    parser.add_argument("--cycle_th", type=float, default=3.0, help="forward-backward threshold (pixels)")
    parser.add_argument("--workers", type=int, default=None, help="processes; None = all cores")
    parser.add_argument("--appearance", default="auto", help="auto, embedded, dino or none")
    parser.add_argument("--dino_weights", default=None, metavar="PATH", help="DINO ViT-S weights file")
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    def _refilter(args: argparse.Namespace) -> int:
        from omnimotion.preprocess.pipeline import refilter

        refilter(args.data_dir, cycle_th=args.cycle_th, appearance=_appearance(args), workers=args.workers,
                 progress=not args.no_progress)
        return 0

    return run_reporting_errors(_refilter, args)
