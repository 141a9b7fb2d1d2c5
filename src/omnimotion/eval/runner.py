"""The evaluation loop: every video of a dataset through every method, scored, cached, tabulated.

Output folder layout::

    results.csv, results.md     per-video rows and per-(group, method) means (see omnimotion.eval.report)
    cache/<video>__<method>.json finished (video, method) results; reused when the settings match
    plots/<video>__<method>.png  predicted vs ground-truth tracks of a few queries
    work/<video>/<method>/       each method's own working folder (kept, so a method can resume)

Queries follow ``query_mode`` (TAP-Vid ``strided`` or ``first``); videos with a ``valid`` mask (BADJA) are
always queried at each joint's first annotated visible frame and scored on later annotated frames (``first``).
A video or method that fails is logged, listed in ``results.md`` and skipped; the others still run.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from tqdm import tqdm

import omnimotion
from omnimotion.eval.datasets import EvalVideo, VideoSource, iter_videos
from omnimotion.eval.methods import MethodOptions, get_method
from omnimotion.eval.plots import plot_tracks
from omnimotion.eval.report import write_results
from omnimotion.eval.scoring import score_predictions
from omnimotion.eval.tapvid import QuerySet, sample_queries
from omnimotion.io.atomic import save_json

__all__ = ["EvalConfig", "EvalResults", "JobMap", "run_evaluation", "evaluate_one"]

log = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    """Settings of one evaluation run.

    dataset: TAP-Vid .pkl, .npz, folder of .npz, or ``synthetic:K[,options]`` (``omnimotion.eval.datasets``).
    methods: method names (``omnimotion.eval.methods``), run in this order on each video.
    query_mode: "strided" or "first" (TAP-Vid protocols; videos with a valid mask always use "first").
    out_dir: output folder (created).
    max_videos: evaluate at most this many videos (None: all).
    plots: write a tracks picture per (video, method).
    method_options: options passed to every method (flow backend, cycle threshold, extras).
    """

    dataset: str
    methods: list[str]
    out_dir: Path
    query_mode: str = "strided"
    max_videos: int | None = None
    plots: bool = True
    method_options: MethodOptions = field(default_factory=MethodOptions)


@dataclass
class EvalResults:
    """rows: one dict per finished (video, method); failures: dicts with video, method, error."""

    rows: list[dict[str, Any]]
    failures: list[dict[str, str]]
    markdown: str


JobMap = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[Any]]
"""``map_jobs(func, jobs)`` -> ``func(job)`` for every job, in job order (the builtin ``map`` is one). A map that
runs jobs elsewhere (``omnimotion.batch.ray_job_map``) may yield, for a job that could not run at all, the
exception that stopped it."""


def run_evaluation(config: EvalConfig, map_jobs: JobMap = map) -> EvalResults:
    """Run, cache and tabulate; writes ``results.csv`` and ``results.md`` into ``config.out_dir``.

    A job is one video with its methods that have no cached result; ``map_jobs`` runs the jobs (default: one
    after another in this process). Each job writes its cache entries itself, so finished work survives an
    interruption wherever it ran.
    """
    if config.query_mode not in ("strided", "first"):
        raise ValueError(f"query_mode must be 'strided' or 'first', got {config.query_mode!r}")
    methods = {name: get_method(name) for name in config.methods}  # unknown names fail before any work
    out_dir = Path(config.out_dir)
    plans = []
    for source in iter_videos(config.dataset, config.max_videos):
        cached = {name: _read_cache(_cache_path(out_dir, source.name, name), _settings(config, name))
                  for name in methods}
        plans.append((source, [row for row in cached.values() if row is not None],
                      [name for name, row in cached.items() if row is None]))
    jobs = [(source, pending) for source, _, pending in plans if pending]
    outcomes = iter(map_jobs(functools.partial(_evaluate_video, config), jobs))
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for source, cached_rows, pending in tqdm(plans, desc="eval videos", unit="video"):
        rows.extend(cached_rows)
        if not pending:
            continue
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            failures.extend({"video": source.name, "method": name, "error": _describe(outcome)} for name in pending)
        else:
            video_rows, video_failures = outcome
            rows.extend(video_rows)
            failures.extend(video_failures)
    markdown = write_results(out_dir, rows, failures)
    for failure in failures:
        log.error("failed: %s (%s): %s", failure["video"], failure["method"], failure["error"])
    return EvalResults(rows, failures, markdown)


def _evaluate_video(config: EvalConfig, job: tuple[VideoSource, list[str]]) -> tuple[list[dict], list[dict]]:
    """One job of ``run_evaluation``: (rows, failures) of the video's pending methods, caching each result."""
    source, pending = job
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    _run_pending(config, source, pending, rows, failures)
    return rows, failures


def _run_pending(config: EvalConfig, source: VideoSource, pending: list[str], rows: list, failures: list) -> None:
    try:
        video = source.load()
        mode = "first" if video.valid is not None else config.query_mode
        queries = sample_queries(video.tracks, video.occluded, mode, valid=video.valid)
        if len(queries.queries) == 0:
            raise ValueError("no ground-truth track is visible at any query frame")
    except Exception as err:  # a broken video must not stop the others
        failures.extend({"video": source.name, "method": name, "error": _describe(err)} for name in pending)
        return
    for name in pending:
        try:
            row = evaluate_one(config, video, queries, mode, name)
        except Exception as err:  # a failing method must not stop the others
            failures.append({"video": source.name, "method": name, "error": _describe(err)})
            continue
        save_json(_cache_path(config.out_dir, source.name, name), {"settings": _settings(config, name), "row": row})
        log.info("%s %s: AJ %.1f, <delta_avg %.1f, OA %.1f, TC %.2f, %.1f s", source.name, name, 100 * row["AJ"],
                 100 * row["delta_avg"], 100 * row["OA"], row["TC"], row["seconds"])
        rows.append(row)


def evaluate_one(config: EvalConfig, video: EvalVideo, queries: QuerySet, query_mode: str,
                 method_name: str) -> dict[str, Any]:
    """Track ``queries`` on ``video`` with one method, time it, score it, and plot it if asked."""
    method = get_method(method_name)
    workdir = Path(config.out_dir) / "work" / _safe(video.name) / method_name
    start = time.perf_counter()
    tracks, occluded = method(video.video, queries.queries, workdir, config.method_options)
    seconds = time.perf_counter() - start
    scores = score_predictions(video, queries, tracks, occluded, query_mode)
    if config.plots:
        first = int(queries.queries[:, 0].min())
        plot_tracks(Path(config.out_dir) / "plots" / f"{_safe(video.name)}__{method_name}.png",
                    video.video[first], queries, tracks, occluded, title=f"{video.name} - {method_name}")
    return {"video": video.name, "group": video.group, "method": method_name, "query_mode": query_mode,
            "num_queries": int(len(queries.queries)), "seconds": seconds, **scores}


def _settings(config: EvalConfig, method_name: str) -> dict[str, Any]:
    """What a cached result depends on; a cache entry is reused only if these match exactly. The package
    version stands for the code: results of an older release are recomputed (trained models are reused)."""
    options = config.method_options
    return {"version": omnimotion.__version__, "dataset": str(config.dataset), "method": method_name,
            "query_mode": config.query_mode,
            "flow": options.flow, "cycle_th_px": options.cycle_th_px,
            "extra": json.loads(json.dumps(options.extra, default=str))}


def _read_cache(path: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("settings") == settings:
            return data["row"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("ignoring unreadable cache file %s (%s); recomputing", path, err)
    return None


def _cache_path(out_dir: Path, video_name: str, method_name: str) -> Path:
    return Path(out_dir) / "cache" / f"{_safe(video_name)}__{method_name}.json"


def _safe(name: str) -> str:
    """A file-name-safe form of a video name (group folders become ``__``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("/", "__"))


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}"
