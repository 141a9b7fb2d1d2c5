"""``omnimotion batch VIDEOS... --out runs/``: every video through prepare, train and track on Ray, resumable;
``omnimotion batch --status runs/``: what is done, running and failed."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from omnimotion.pipeline import check_settings
from omnimotion.batch import (DEFAULT_MAX_RETRIES, TaskResources, collect_status, expand_inputs, format_status_table,
                              plan_videos, ray_session, run_batch)
from omnimotion.cli.main import HelpFormatter, UserError
from omnimotion.cli.run import add_run_options, run_settings
from omnimotion.preprocess.pairs import DEFAULT_CHUNK_PAIRS

__all__ = ["add_parser", "run", "add_ray_options", "task_resources", "connected_ray"]


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="many videos on Ray (this machine or a cluster): prepare, train and track each, resumable",
        description="Run the whole pipeline of 'omnimotion run' on every input video, one Ray task per video "
                    "stage (prepare, train, track). Each video gets OUT/<video name>/ (a data directory) with a "
                    "batch_status.json. Re-running the same command skips finished videos and finished stages. "
                    "A failing video is reported and the others go on; the exit code is 1 if any failed.",
        formatter_class=HelpFormatter)
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="video files, folders of jpg/png frames, globs ('videos/*.mp4'), or .txt lists with "
                             "one path per line (relative to the list's folder)")
    parser.add_argument("--out", default=None,
                        help="output folder (on a cluster: a file system every machine mounts at the same path)")
    parser.add_argument("--status", default=None, metavar="OUT",
                        help="print the state of every video of the batch in OUT and exit")
    add_run_options(parser)
    add_ray_options(parser, "start Ray on this machine only")
    parser.add_argument("--flow-fan-out", "--flow_fan_out", action="store_true",
                        help=f"compute each video's flow pairs as Ray tasks of {DEFAULT_CHUNK_PAIRS} pairs (1 CPU "
                             "each) anywhere on the cluster, instead of in its prepare task's worker processes: for "
                             "long videos")
    return parser


def add_ray_options(parser: argparse.ArgumentParser, without_address: str) -> None:
    """Ray options shared by ``batch`` and ``eval``; ``without_address`` says what happens without --address."""
    parser.add_argument("--address", default=None,
                        help="Ray cluster to use: 'auto' (the cluster this machine joined with 'ray start'), "
                             "HOST:6379, ray://HOST:10001, or 'local' (a new Ray instance on this machine); "
                             f"None = {without_address}")
    parser.add_argument("--num-cpus", "--num_cpus", type=int, default=None,
                        help="CPUs of a Ray instance started on this machine; None = all cores")
    parser.add_argument("--cpus-per-video", "--cpus_per_video", type=float, default=1.0,
                        help="CPUs each task reserves (also the preprocessing worker processes)")
    parser.add_argument("--gpus-per-video", "--gpus_per_video", type=float, default=0.0,
                        help="GPUs each training/tracking task reserves (fractions share a GPU)")
    parser.add_argument("--memory-per-video", "--memory_per_video", type=float, default=None, metavar="GB",
                        help="memory each task reserves, in GiB; None = no reservation")
    parser.add_argument("--max-retries", "--max_retries", type=int, default=DEFAULT_MAX_RETRIES,
                        help="re-runs of a task whose worker or machine died (errors of the task itself are "
                             "not retried)")


def task_resources(args: argparse.Namespace) -> TaskResources:
    try:
        return TaskResources(cpus=args.cpus_per_video, gpus=args.gpus_per_video, memory_gb=args.memory_per_video,
                             max_retries=args.max_retries)
    except ValueError as err:
        raise UserError(str(err)) from err


@contextmanager
def connected_ray(args: argparse.Namespace) -> Iterator[None]:
    """Ray for the duration of the block, as the --address and --num-cpus flags say; prints the dashboard link."""
    if importlib.util.find_spec("ray") is None:
        raise UserError("this needs Ray, which is not installed: pip install 'ray[default]>=2.9' "
                        "(or install omnimotion with the [ray] extra)")
    with ray_session(args.address, args.num_cpus, worker_logs=args.verbose) as dashboard:
        if dashboard:
            print(f"Ray dashboard: {dashboard}")
        yield


def run(args: argparse.Namespace) -> int:
    if args.status:
        if args.inputs or args.out:
            raise UserError("--status takes only the output folder of a batch, e.g. omnimotion batch --status runs/")
        return _print_status(Path(args.status))
    if not args.inputs or not args.out:
        raise UserError("give the input videos and --out, e.g. omnimotion batch videos/*.mp4 --out runs/ "
                        "(or --status runs/ to see a batch)")
    resources = task_resources(args)
    settings = run_settings(args, workers=max(1, int(resources.cpus)))
    check_settings(settings)  # e.g. torchvision for --flow raft, before any status file is written
    videos = plan_videos(expand_inputs(args.inputs), args.out)
    with connected_ray(args):
        report = run_batch(videos, settings, resources, flow_fan_out=args.flow_fan_out)
    _print_table([(video.out_dir, status) for video, status in zip(videos, report.statuses)])
    done = sum(status.state == "done" for status in report.statuses)
    print(f"{done} of {len(videos)} videos done ({len(report.skipped)} were already done), "
          f"{len(report.failed)} failed, {report.seconds:.1f} s")
    if report.failed:
        print("fix or remove the failed inputs and run the same command again: finished videos are skipped",
              file=sys.stderr)
        return 1
    return 0


def _print_status(out_root: Path) -> int:
    rows = collect_status(out_root)
    if not rows:
        raise UserError(f"{out_root} holds no batch status files (*/batch_status.json); give the --out folder "
                        "of an omnimotion batch run")
    _print_table(rows)
    states = ("done", "running", "queued", "failed")
    counts = {state: sum(status.state == state for _, status in rows) for state in states}
    print(", ".join(f"{count} {state}" for state, count in counts.items() if count) + f" of {len(rows)} videos")
    return 0


def _print_table(rows) -> None:
    sys.stdout.write(format_status_table(rows))
