"""The evaluation loop: every video of a dataset through every method, predictions saved, scored, tabulated.

Output folder layout::

    results.csv, results.md     per-video rows and per-(group, method) means (see omnimotion.eval.report);
                                written only when at least one (video, method) was scored
    predictions/<video>__<method>.npz  each method's tracks, occluded, queries, time and settings
                                (omnimotion.eval.predictions); reused, never re-run, while the settings match
    plots/<video>__<method>.png  predicted vs ground-truth tracks of a few queries
    work/<video>/<method>/       each method's own working folder (kept, so a method can resume)

Queries follow ``query_mode`` (TAP-Vid ``strided`` or ``first``); videos with a ``valid`` mask (BADJA) are
always queried at each joint's first annotated visible frame and scored on later annotated frames (``first``).
Scores are always computed from the saved predictions, so a new metric applies to earlier runs: ``rescore``
scores what is saved (from any package version) and runs nothing.

The breakdown's flow-vouched split (``omnimotion.eval.breakdown``) reads the data directory prepared for the
clip in ``work/<video>/``: the method's own ``data/`` folder, else another method's of the same clip (a method
without one, such as the flow baselines, borrows it); with none the split is left empty and noted.
A video or method that fails is logged, listed in ``results.md`` and skipped; the others still run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

import omnimotion
from omnimotion.eval.breakdown import flow_vouched, is_data_dir
from omnimotion.eval.datasets import EvalVideo, VideoSource, iter_videos
from omnimotion.eval.methods import MethodOptions, TrackingMethod
from omnimotion.eval.plots import plot_tracks
from omnimotion.eval.predictions import SavedPredictions, load_predictions, read_settings, save_predictions
from omnimotion.eval.report import NO_DATA_DIR, write_results
from omnimotion.eval.scoring import check_predictions, score_in_detail
from omnimotion.eval.tapvid import QuerySet, sample_queries
from omnimotion.preprocess.options import PrepareConfig

__all__ = ["EvalConfig", "EvalResults", "JobMap", "run_evaluation", "run_method", "rescore_config"]

log = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    """Settings of one evaluation run.

    dataset: TAP-Vid .pkl, .npz, folder of .npz, or ``synthetic:K[,options]`` (``omnimotion.eval.datasets``).
    methods: method names (keys of the table given to ``run_evaluation``), run in this order on each video.
    query_mode: "strided" or "first" (TAP-Vid protocols; videos with a valid mask always use "first").
    out_dir: output folder (created).
    max_videos: evaluate at most this many videos (None: all).
    plots: write a tracks picture per (video, method).
    method_options: options passed to every method (flow backend, cycle threshold, extras).
    rescore: run no method; score the predictions saved in ``out_dir`` whose settings match (the package
        version aside); videos with none are left out, a (video, method) missing beside saved ones fails.
    """

    dataset: str
    methods: list[str]
    out_dir: Path
    query_mode: str = "strided"
    max_videos: int | None = None
    plots: bool = True
    method_options: MethodOptions = field(default_factory=MethodOptions)
    rescore: bool = False


@dataclass
class EvalResults:
    """rows: one dict per scored (video, method); failures: dicts with video, method, error; markdown: the
    tables written to results.md ("" when nothing was scored and nothing written)."""

    rows: list[dict[str, Any]]
    failures: list[dict[str, str]]
    markdown: str


JobMap = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[Any]]
"""``map_jobs(func, jobs)`` -> ``func(job)`` for every job, in job order (the builtin ``map`` is one). A map that
runs jobs elsewhere (``omnimotion.batch.ray_job_map``) may yield, for a job that could not run at all, the
exception that stopped it."""


def run_evaluation(config: EvalConfig, methods: Mapping[str, TrackingMethod], map_jobs: JobMap = map) -> EvalResults:
    """Run the methods that have no saved predictions, then score every (video, method) from its saved
    predictions and write ``results.csv`` and ``results.md`` into ``config.out_dir`` (if anything was scored).

    ``methods``: name -> method (``omnimotion.eval.methods``); every name in ``config.methods`` must be in it,
    else ValueError before any work.

    A job is one video with its methods to run; ``map_jobs`` runs the jobs (default: one after another in this
    process). Each job saves its predictions itself, so finished work survives an interruption wherever it ran.
    """
    if config.query_mode not in ("strided", "first"):
        raise ValueError(f"query_mode must be 'strided' or 'first', got {config.query_mode!r}")
    for name in config.methods:
        if name not in methods:
            raise ValueError(f"unknown evaluation method {name!r}; choose from: {', '.join(sorted(methods))}")
    chosen = {name: methods[name] for name in config.methods}  # only these travel to where jobs run
    plans = [(source, [name for name in config.methods if not _has_predictions(config, source.name, name)])
             for source in iter_videos(config.dataset, config.max_videos)]
    failures: list[dict[str, str]] = []
    if config.rescore:  # videos with nothing saved (e.g. left out by max_videos) are not part of the run
        plans = [(source, pending) for source, pending in plans if len(pending) < len(config.methods)]
        failures += [_failure(source.name, name, "no saved predictions with these settings; run without --rescore")
                     for source, pending in plans for name in pending]
    else:
        jobs = [(source, pending) for source, pending in plans if pending]
        outcomes = map_jobs(functools.partial(_run_video, config, chosen), jobs)
        for (source, pending), outcome in tqdm(zip(jobs, outcomes), total=len(jobs), desc="eval videos",
                                               unit="video"):
            if isinstance(outcome, Exception):
                outcome = [_failure(source.name, name, _describe(outcome)) for name in pending]
            failures += outcome
    failed = {(f["video"], f["method"]) for f in failures}
    rows: list[dict[str, Any]] = []
    for source, _ in tqdm(plans, desc="scoring", unit="video"):
        done = [name for name in config.methods if (source.name, name) not in failed]
        video_rows, video_failures = _score_video(config, source, done)
        rows += video_rows
        failures += video_failures
    for failure in failures:
        log.error("failed: %s (%s): %s", failure["video"], failure["method"], failure["error"])
    markdown = write_results(config.out_dir, rows, failures) if rows else ""
    return EvalResults(rows, failures, markdown)


def rescore_config(out_dir: str | Path) -> EvalConfig:
    """The configuration of the evaluation whose predictions ``out_dir`` holds, set to ``rescore`` them.

    Methods come in name order (the saved files do not record the order they were given in). Raises
    ValueError when ``out_dir`` holds no saved predictions, or predictions of different datasets, query
    modes or method options (re-score those with explicit settings and ``rescore=True``).
    """
    files = sorted((Path(out_dir) / "predictions").glob("*.npz"))
    saved = [settings for settings in map(read_settings, files) if settings is not None]
    if not saved:
        raise ValueError(f"{out_dir} holds no saved predictions (predictions/*.npz); run omnimotion eval there first")
    shared = {json.dumps({k: v for k, v in s.items() if k not in ("method", "version")}, sort_keys=True)
              for s in saved}
    if len(shared) > 1:
        raise ValueError(f"{out_dir} holds predictions made with different settings ({len(shared)} sets); give "
                         "--dataset, --method and the method options to choose which to re-score")
    first = saved[0]
    methods = sorted({s["method"] for s in saved})
    options = MethodOptions(prepare=PrepareConfig(flow=first["flow"], **first.get("prepare", {})),
                            cycle_th_px=first["cycle_th_px"], extra=first["extra"])
    return EvalConfig(dataset=first["dataset"], methods=methods, out_dir=Path(out_dir),
                      query_mode=first["query_mode"], plots=False, method_options=options, rescore=True)


def _run_video(config: EvalConfig, methods: Mapping[str, TrackingMethod],
               job: tuple[VideoSource, list[str]]) -> list[dict[str, str]]:
    """One job of ``run_evaluation``: run the video's pending methods, saving each one's predictions; returns
    the failures."""
    source, pending = job
    try:
        video, queries, mode = _load(config, source)
    except Exception as err:  # a broken video must not stop the others
        return [_failure(source.name, name, _describe(err)) for name in pending]
    failures = []
    for name in pending:
        try:
            run_method(config, video, queries, mode, name, methods[name])
        except Exception as err:  # a failing method must not stop the others
            failures.append(_failure(source.name, name, _describe(err)))
    return failures


def _load(config: EvalConfig, source: VideoSource) -> tuple[EvalVideo, QuerySet, str]:
    video = source.load()
    mode = "first" if video.valid is not None else config.query_mode
    queries = sample_queries(video.tracks, video.occluded, mode, valid=video.valid)
    if len(queries.queries) == 0:
        raise ValueError("no ground-truth track is visible at any query frame")
    return video, queries, mode


def run_method(config: EvalConfig, video: EvalVideo, queries: QuerySet, query_mode: str, method_name: str,
               method: TrackingMethod) -> SavedPredictions:
    """Track ``queries`` on ``video`` with ``method`` (saved under ``method_name``), time it, save the predictions
    and plot them if asked."""
    start = time.perf_counter()
    tracks, occluded = method(video.video, queries.queries, _workdir(config.out_dir, video.name, method_name),
                              config.method_options)
    seconds = time.perf_counter() - start
    tracks, occluded = check_predictions(tracks, occluded, len(queries.queries), video.video.shape[0])
    predictions = SavedPredictions(tracks, occluded, queries.queries, seconds, _settings(config, method_name))
    save_predictions(_predictions_path(config.out_dir, video.name, method_name), predictions)
    if config.plots:
        first = int(queries.queries[:, 0].min())
        plot_tracks(Path(config.out_dir) / "plots" / f"{_safe(video.name)}__{method_name}.png",
                    video.video[first], queries, tracks, occluded, title=f"{video.name} - {method_name}")
    log.info("%s %s: tracked %d queries in %.1f s", video.name, method_name, len(queries.queries), seconds)
    return predictions


def _score_video(config: EvalConfig, source: VideoSource, names: list[str]) -> tuple[list[dict], list[dict]]:
    """Rows of the video's methods ``names`` from their saved predictions, and the failures."""
    if not names:
        return [], []
    try:
        video, queries, mode = _load(config, source)
    except Exception as err:
        return [], [_failure(source.name, name, _describe(err)) for name in names]
    rows, failures = [], []
    vouched_by_dir: dict[Path, np.ndarray] = {}  # methods that borrow the same data directory read it once
    for name in names:
        try:
            rows.append(_score_method(config, video, queries, mode, name, vouched_by_dir))
        except Exception as err:  # one unreadable result must not stop the others
            failures.append(_failure(source.name, name, _describe(err)))
    return rows, failures


def _score_method(config: EvalConfig, video: EvalVideo, queries: QuerySet, query_mode: str, method_name: str,
                  vouched_by_dir: dict[Path, np.ndarray]) -> dict[str, Any]:
    path = _predictions_path(config.out_dir, video.name, method_name)
    saved = load_predictions(path)
    if saved.queries.shape != queries.queries.shape or not np.allclose(saved.queries, queries.queries, atol=1e-4):
        raise ValueError(f"{path} holds predictions for other queries than the dataset's; delete it to re-run")
    vouched, evidence_note = _vouched(config.out_dir, video, queries, method_name, vouched_by_dir)
    scores = score_in_detail(video, queries, saved.tracks, saved.occluded, query_mode, vouched)
    return {"video": video.name, "group": video.group, "method": method_name, "query_mode": query_mode,
            "num_queries": int(len(queries.queries)), "seconds": saved.seconds, "evidence": evidence_note,
            **scores}


def _vouched(out_dir: Path, video: EvalVideo, queries: QuerySet, method_name: str,
             vouched_by_dir: dict[Path, np.ndarray]) -> tuple[np.ndarray | None, str]:
    """The flow-vouched mask from the clip's data directory (the method's own first), and where it came from:
    the name of the method whose data directory it is, or a note why there is none. ``vouched_by_dir`` keeps
    the masks already read for this video."""
    clip_work = Path(out_dir) / "work" / _safe(video.name)
    own = clip_work / method_name / "data"
    others = sorted(p for p in clip_work.glob("*/data") if p != own) if clip_work.is_dir() else []
    for data_dir in [own, *others]:
        if data_dir not in vouched_by_dir and is_data_dir(data_dir):
            try:
                vouched_by_dir[data_dir] = flow_vouched(data_dir, queries.queries, video.video.shape[:3])
            except (ValueError, OSError) as err:
                log.warning("%s: no flow-vouched split from %s (%s)", video.name, data_dir, err)
        if data_dir in vouched_by_dir:
            return vouched_by_dir[data_dir], data_dir.parent.name
    return None, NO_DATA_DIR


def _settings(config: EvalConfig, method_name: str) -> dict[str, Any]:
    """What saved predictions depend on; they are reused only if these match exactly (with ``rescore``, the
    version aside). The package version stands for the code: predictions of an older release are made again
    (trained models in ``work/`` are reused)."""
    options = config.method_options
    return {"version": omnimotion.__version__, "dataset": str(config.dataset), "method": method_name,
            "query_mode": config.query_mode,
            "flow": options.prepare.flow, **_changed_preprocessing(options.prepare), "cycle_th_px": options.cycle_th_px,
            "extra": json.loads(json.dumps(options.extra, default=str))}


def _changed_preprocessing(prepare: PrepareConfig) -> dict[str, Any]:
    """``{"prepare": {field: value}}`` for the preprocessing options besides the flow name that differ from the
    defaults (none: nothing, so that predictions saved before these options existed still match)."""
    default = PrepareConfig()
    changed = {f.name: getattr(prepare, f.name) for f in dataclasses.fields(prepare)
               if f.name != "flow" and getattr(prepare, f.name) != getattr(default, f.name)}
    return {"prepare": changed} if changed else {}


def _has_predictions(config: EvalConfig, video_name: str, method_name: str) -> bool:
    """Saved predictions exist whose settings match (with ``rescore``, whatever package version made them)."""
    saved = read_settings(_predictions_path(config.out_dir, video_name, method_name))
    if saved is None:
        return False
    wanted = _settings(config, method_name)
    if config.rescore:
        saved, wanted = ({k: v for k, v in d.items() if k != "version"} for d in (saved, wanted))
    return saved == wanted


def _predictions_path(out_dir: Path, video_name: str, method_name: str) -> Path:
    return Path(out_dir) / "predictions" / f"{_safe(video_name)}__{method_name}.npz"


def _workdir(out_dir: Path, video_name: str, method_name: str) -> Path:
    return Path(out_dir) / "work" / _safe(video_name) / method_name


def _safe(name: str) -> str:
    """A file-name-safe form of a video name (group folders become ``__``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("/", "__"))


def _failure(video_name: str, method_name: str, error: str) -> dict[str, str]:
    return {"video": video_name, "method": method_name, "error": error}


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}"
