"""The three stages of ``run`` (prepare -> fit -> track and render) and the settings they share.

``omnimotion.api`` chains them in one process (``run``, ``track_video``); ``omnimotion.batch`` runs each stage of
each video as its own task; the evaluation's ``omnimotion`` method fits and tracks with ``train_until_done`` and
``track_with_model``. Every stage resumes: preprocessing skips finished pairs, training continues from the newest
checkpoint (and is skipped when it already reached ``num_iters``), tracking and pictures are cheap and redone.

Outputs under ``out_dir`` (a data directory in the official layout)::

    color/, raft_exhaustive/, raft_masks/, count_maps/, flow_stats.json   preprocessing
    out/<expname>/model_XXXXXX.pth                                          training
    tracks.npz, tracks.csv, tracks.mp4, tracks_grid.mp4, tracks_summary.png  tracks of a query grid at frame 0

Tracks and pictures are in the source video's pixels (the working size of ``color/`` stays internal), and the
tracks are corrected by the flows in the mode the model was trained with, exactly as ``omnimotion track``
does with its defaults.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from omnimotion.config import OmniMotionConfig, compose
from omnimotion.io.checkpoint import checkpoint_step, latest_checkpoint
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.pairs import ChunkMap
from omnimotion.preprocess.pipeline import prepare
from omnimotion.preprocess.plan import plan_pairs
from omnimotion.track import Tracker, Tracks, grid_queries, save_tracks
from omnimotion.track.export import save_csv
from omnimotion.track.options import TrackConfig
from omnimotion.train import fit, output_dir
from omnimotion.viz.videos import load_picture_frames, write_grid_video, write_summary_png, write_tracks_video

__all__ = ["RunOutputs", "RunSettings", "run_stages", "prepare_stage", "train_stage", "track_stage", "DEFAULT_PRESET",
           "run_config", "train_until_done", "track_with_model", "source_hw", "DEFAULT_GRID_POINTS", "check_settings"]

logger = logging.getLogger(__name__)

DEFAULT_PRESET = "surface"
"""The CPU-practical default: the fast single-surface variant (docs/method.md#single-surface-variant); how it
compares with the faithful presets and the flow baselines: README "Measured results"."""

DEFAULT_GRID_POINTS = 12
"""Grid queries per image side when no step is given (about 150 tracks: readable in the pictures)."""


@dataclass
class RunOutputs:
    """Where ``run`` put its results."""

    data_dir: Path
    checkpoint: Path
    tracks: Path
    csv: Path
    video: Path
    grid_video: Path
    summary: Path


def run_config(config_file: str | Path | None = None, preset: str | None = DEFAULT_PRESET,
               overrides: dict[str, Any] | None = None) -> OmniMotionConfig:
    """The configuration of ``omnimotion run``: ``compose`` with the run's default preset."""
    return compose(config_file, preset, overrides)


def train_until_done(data_dir: Path, cfg: OmniMotionConfig) -> Path:
    """Fit the model, continuing from the newest checkpoint; skip when it already reached ``num_iters``."""
    out_dir = output_dir(data_dir, cfg.train)
    newest = latest_checkpoint(out_dir) if out_dir.is_dir() else None
    if newest is not None and checkpoint_step(newest) >= cfg.train.num_iters:
        logger.info("training already finished (%s); delete %s to train again", newest.name, out_dir)
        return newest
    if newest is not None:
        logger.info("resuming training from %s", newest)
    return fit(data_dir, cfg)


def track_with_model(checkpoint: Path, queries: np.ndarray, data: DataDir, device: str = "auto",
                     output_hw: tuple[int, int] | None = None, track: TrackConfig | None = None) -> Tracks:
    """Track ``queries [N, 3]`` (t, x, y) with a checkpoint trained on ``data`` (pixels of ``output_hw`` if
    given, else of ``data``'s frames), corrected by ``data``'s flows, with the tracking settings ``track``
    (None: those the checkpoint was trained with). Frame rate: ``data``'s source video's."""
    options = {} if track is None else dataclasses.asdict(track)
    tracker = Tracker.from_checkpoint(checkpoint, device=device, data_dir=data.root, output_hw=output_hw,
                                      **options)
    return tracker(queries, data)


def source_hw(data: DataDir) -> tuple[int, int]:
    """(H, W) of the video ``data`` was prepared from (``source.json``), else of its frames."""
    info = data.load_source_info()
    return info["native_hw"] if info is not None else data.image_hw


@dataclass(frozen=True)
class RunSettings:
    """Everything ``run`` needs besides the input and the output folder (picklable, so that
    ``omnimotion.batch`` can send it to workers that run one stage each).

    config: the configuration of every stage (``run_config``; its ``prepare`` section says the frames used,
    the working size and the flow, its ``train.device`` the torch device of training and tracking).
    grid_step: source-video pixels between tracked grid points (None: about ``DEFAULT_GRID_POINTS`` per side).
    workers: preprocessing processes (None: all cores).
    auto_max_gap: when ``config.prepare.max_gap`` is None and the video has too many frame pairs, prepare only
    pairs up to a frame gap that fits (``omnimotion.preprocess.plan``); False: every pair.
    """

    config: OmniMotionConfig = field(default_factory=run_config)
    grid_step: int | None = None
    workers: int | None = None
    auto_max_gap: bool = True


def check_settings(settings: RunSettings) -> None:
    """What can be checked before any work: the flow backend can be built (its dependency, torchvision for
    raft, and weights file). The configuration itself was validated when it was composed."""
    settings.config.prepare.backend()


def run_stages(source: str | Path, out_dir: str | Path, settings: RunSettings, progress: bool = True) -> RunOutputs:
    """``run`` with its options in a ``RunSettings``: the three stages in order, in this process."""
    check_settings(settings)
    data = prepare_stage(source, out_dir, settings, progress=progress)
    checkpoint = train_stage(data.root, settings)
    return track_stage(data.root, checkpoint, settings)


def prepare_stage(source: str | Path, out_dir: str | Path, settings: RunSettings, progress: bool = True,
                  flow_map: ChunkMap | None = None) -> DataDir:
    """Stage 1 of ``run``: frames, all-pairs flow, filtering and chaining into ``out_dir`` (resumes), in a frame
    window when ``plan_pairs`` says so. ``flow_map`` runs the flow pairs elsewhere in chunks
    (``omnimotion.preprocess.pairs.ChunkMap``)."""
    options = settings.config.prepare
    if options.max_gap is None and settings.auto_max_gap:
        options = replace(options, max_gap=plan_pairs(source, start=options.start, end=options.end,
                                                      stride=options.stride, max_side=options.max_side,
                                                      chain_direct_max_gap=options.chain_direct_max_gap).max_gap)
    return prepare(source, Path(out_dir), options, workers=settings.workers, progress=progress, flow_map=flow_map)


def train_stage(data_dir: str | Path, settings: RunSettings) -> Path:
    """Stage 2 of ``run``: fit the model on a prepared data directory (resumes; skipped when finished)."""
    return train_until_done(Path(data_dir), settings.config)


def track_stage(data_dir: str | Path, checkpoint: Path, settings: RunSettings) -> RunOutputs:
    """Stage 3 of ``run``: track a grid of points from frame 0 and write tracks, videos and the summary, in the
    source video's pixels (``grid_step`` counts them)."""
    data = DataDir(Path(data_dir))
    video_hw = source_hw(data)
    step = settings.grid_step or max(1, min(video_hw) // DEFAULT_GRID_POINTS)
    queries = grid_queries(video_hw, step, frame=0, num_frames=data.num_frames)
    config = settings.config
    tracks = track_with_model(checkpoint, queries, data, config.train.device, output_hw=video_hw,
                              track=config.track)
    return _write_outputs(data, checkpoint, tracks)


def _write_outputs(data: DataDir, checkpoint: Path, tracks: Tracks) -> RunOutputs:
    frames = load_picture_frames(data, tracks.image_hw)
    root = data.root
    outputs = RunOutputs(data_dir=root, checkpoint=checkpoint, tracks=root / "tracks.npz",
                         csv=root / "tracks.csv", video=root / "tracks.mp4", grid_video=root / "tracks_grid.mp4",
                         summary=root / "tracks_summary.png")
    save_tracks(tracks, outputs.tracks)
    save_csv(tracks, outputs.csv)
    write_tracks_video(outputs.video, frames, tracks, with_input=True)
    write_grid_video(outputs.grid_video, frames, tracks)
    write_summary_png(outputs.summary, frames, tracks)
    return outputs
