"""The public Python API: one call from a video to tracks and pictures (``run``), or to track arrays
(``track_video``). Both chain the three resumable stages of ``omnimotion.pipeline`` in this process.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from omnimotion.config import OmniMotionConfig
from omnimotion.io.atomic import save_png
from omnimotion.pipeline import (DEFAULT_PRESET, RunOutputs, RunSettings, check_settings, prepare_stage, run_config,
                                 run_stages, source_hw, track_with_model, train_stage)
from omnimotion.track import QueryError, grid_queries, mask_queries
from omnimotion.track.queries import validate_queries

__all__ = ["track_video", "run", "RunOutputs", "RunSettings", "run_config", "DEFAULT_PRESET"]


def run(source: str | Path, out_dir: str | Path, config: OmniMotionConfig | None = None, *,
        preset: str | None = DEFAULT_PRESET, overrides: dict[str, Any] | None = None, grid_step: int | None = None,
        progress: bool = True) -> RunOutputs:
    """Video (file or frame folder) -> data directory, trained model, tracks of a grid, pictures.

    ``config``: the configuration (None: ``run_config(preset=preset, overrides=overrides)``, e.g.
    ``overrides={"num_iters": 1000, "max_side": 480}``)."""
    config = config or run_config(preset=preset, overrides=overrides)
    return run_stages(source, out_dir, RunSettings(config, grid_step=grid_step), progress)


def track_video(video: str | Path | np.ndarray, points: np.ndarray | Sequence | None = None,
                grid: int | None = None, mask: np.ndarray | None = None, *, frame: int = 0,
                work_dir: str | Path | None = None, preset: str | None = DEFAULT_PRESET,
                overrides: dict[str, Any] | None = None, device: str = "auto",
                progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One call from a video to tracks: ``(tracks [N, T, 2] float32 (x, y), visible [N, T] bool)``, in pixels
    of the video as given (``omnimotion.coords``), with the defaults of ``omnimotion run``.

    ``video``: a video file or frame folder, or uint8 ``[T, H, W, 3]`` RGB frames. The query points, with
    ``frame`` their frame index: ``points`` ``[N, 2]`` (x, y) at ``frame`` or ``[N, 3]`` (t, x, y); or
    ``grid``, a grid every ``grid`` pixels; or ``mask``, bool ``[H, W]``: each of its pixels (with ``grid``:
    the grid points inside it). ``overrides``: config keys, e.g. ``{"num_iters": 1000}``.
    ``work_dir`` keeps the prepared data and the fitted model of this video, so a second call with other points
    reuses them (give each video its own); None works in a temporary folder, removed afterwards. Call it under
    ``if __name__ == "__main__":`` (preprocessing spawns worker processes).
    """
    settings = RunSettings(run_config(preset=preset, overrides={"device": device, **(overrides or {})}))
    check_settings(settings)  # bad keys, values and flow options fail before any work
    with _folder(work_dir) as folder:
        source = _frames_folder(video, folder / "frames") if isinstance(video, np.ndarray) else video
        data = prepare_stage(source, folder / "data", settings, progress=progress)
        video_hw = source_hw(data)
        queries = _video_queries(points, grid, mask, frame, video_hw, data.num_frames)  # before training
        checkpoint = train_stage(data.root, settings)
        tracks = track_with_model(checkpoint, queries, data, device, output_hw=video_hw,
                                  track=settings.config.track)
    return tracks.tracks, ~tracks.occluded


@contextlib.contextmanager
def _folder(work_dir: str | Path | None) -> Iterator[Path]:
    if work_dir is not None:
        yield Path(work_dir)
        return
    with tempfile.TemporaryDirectory(prefix="omnimotion-") as temporary:
        yield Path(temporary)


def _frames_folder(video: np.ndarray, folder: Path) -> Path:
    """uint8 ``[T, H, W, 3]`` RGB -> ``folder/00000.png ...`` (lossless)."""
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
        raise ValueError(f"video must be uint8 [T, H, W, 3] RGB frames, got {video.dtype} {video.shape}")
    for stale in folder.glob("*.png") if folder.is_dir() else ():
        if int(stale.stem) >= len(video):
            stale.unlink()
    for index, image in enumerate(video):
        save_png(folder / f"{index:05d}.png", image)
    return folder


def _video_queries(points: np.ndarray | Sequence | None, grid: int | None, mask: np.ndarray | None, frame: int,
                   video_hw: tuple[int, int], num_frames: int) -> np.ndarray:
    """Queries ``[N, 3]`` (t, x, y) from the one query source ``track_video`` was given."""
    if (points is not None) + (grid is not None or mask is not None) != 1:
        raise QueryError("give track_video one query source: points, grid or mask (grid and mask combine)")
    if mask is not None and np.shape(mask)[:2] != tuple(video_hw):
        raise QueryError(f"the mask is {np.shape(mask)[1]}x{np.shape(mask)[0]} but the video is "
                         f"{video_hw[1]}x{video_hw[0]}; give a mask of the video's size")
    if points is None:
        if grid is not None:
            return grid_queries(video_hw, grid, frame, num_frames, mask=mask)
        return mask_queries(mask, frame, num_frames)
    points = np.asarray(points, np.float32)
    if points.ndim == 2 and points.shape[1] == 2:
        points = np.concatenate([np.full((len(points), 1), frame, np.float32), points], axis=1)
    return validate_queries(points, video_hw, num_frames)
