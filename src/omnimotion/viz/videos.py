"""Pictures and videos of tracks and of what a model learned, written to files (``omnimotion.io.video``).

Inputs: ``frames`` uint8 ``[T, H, W, 3]`` RGB (the video the tracks belong to) and ``Tracks`` (pixels,
``omnimotion.coords``). Tracks computed for another size of the same video are rescaled to the frames with
``Tracks.resized``. Every video has the input's frame count and size (twice the width side by side); H.264
needs even sizes, so ``write_video`` pads odd ones by one edge row/column.

What each writer shows (pictures at least ``LEGEND_MIN_WIDTH`` wide get a legend band underneath)
    tracks video  points coloured by where they were queried, with trails fading over ``trail_length`` frames;
                  occluded points hollow and faded.
    grid video    the paper's rainbow grid: the same colours, no trails.
    summary PNG   the frame most queries were made in, dimmed, with every whole trajectory and the query points.
    depth video   the model's pseudo-depth per frame, jet, min-max normalised over the whole video.
    colour video  the model's rendered colours per frame.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from omnimotion.io.atomic import save_png
from omnimotion.io.datadir import DataDir
from omnimotion.io.video import read_frames, write_video
from omnimotion.model import color_variants
from omnimotion.track.tracks import Tracks
from omnimotion.viz.draw import (LEGEND_MIN_WIDTH, colorize_depth, draw_summary, draw_tracks_video, index_colors,
                                 legend_band, position_colors, rgb_to_uint8, side_by_side)

__all__ = ["write_tracks_video", "write_grid_video", "write_summary_png", "write_depth_video",
           "write_color_video", "render_depth_frames", "render_color_frames", "point_radius", "picture_hw",
           "load_picture_frames", "PICTURE_SIDE"]

logger = logging.getLogger(__name__)

PICTURE_SIDE = (512, 1024)
"""Pictures are drawn with their longest side in this range of pixels: at the tracks' own size (the source
video's, for video inputs) when it fits, else scaled to the nearer bound, so that points and trails on small
working frames can be told apart and long 4K clips stay affordable in memory."""


def picture_hw(image_hw: tuple[int, int]) -> tuple[int, int]:
    """(H, W) pictures of a video of size ``image_hw`` are drawn at (see ``PICTURE_SIDE``); aspect kept."""
    height, width = image_hw
    low, high = PICTURE_SIDE
    scale = min(max(max(height, width), low), high) / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def load_picture_frames(data: DataDir, image_hw: tuple[int, int]) -> np.ndarray:
    """uint8 ``[T, H, W, 3]``: the frames of ``data`` at ``picture_hw(image_hw)``, read again from the source
    video that ``source.json`` names when it is still there (sharp), else ``color/`` enlarged."""
    target_hw = picture_hw(image_hw)
    frames = _source_frames(data, target_hw)
    if frames is None:
        frames = data.load_frames()
    if frames.shape[1:3] == target_hw:
        return frames
    size = (target_hw[1], target_hw[0])
    interpolation = cv2.INTER_AREA if frames.shape[1] > target_hw[0] else cv2.INTER_CUBIC
    return np.stack([cv2.resize(frame, size, interpolation=interpolation) for frame in frames])


def _source_frames(data: DataDir, target_hw: tuple[int, int]) -> np.ndarray | None:
    """The recorded source's frames, shrunk to at most ``target_hw``'s longest side; None when the source is
    gone, unreadable, or no sharper than ``color/``."""
    info = data.load_source_info()
    if info is None or not Path(info.get("path") or "").exists() or max(info["native_hw"]) <= max(data.image_hw):
        return None
    try:
        frames = read_frames(info["path"], start=info.get("start", 0), end=info.get("end"),
                             stride=info.get("stride", 1), max_side=max(target_hw))
    except (OSError, ValueError) as err:
        logger.info("drawing on %s instead of the source video (%s)", data.color_dir, err)
        return None
    return frames if len(frames) == data.num_frames else None


def write_tracks_video(path: str | Path, frames: np.ndarray, tracks: Tracks, *, fps: float | None = None,
                       trail_length: int = 10, with_input: bool = False,
                       colors: Literal["index", "position"] = "position", max_points: int | None = 1000,
                       radius: int | None = None, linewidth: int = 1, legend: bool = True) -> Path:
    """mp4 of ``frames`` with the tracks drawn; ``with_input`` puts the plain input on the left.

    ``max_points`` keeps an evenly spaced subset of larger track sets (a dense set would hide the video);
    None draws all. ``fps`` defaults to the tracks' fps. ``radius`` None scales with the frame (see
    :func:`point_radius`). ``legend`` adds the key under pictures wide enough to read it.
    """
    tracks = _fit_to_frames(tracks, frames, max_points)
    radius = point_radius(frames.shape[1:3]) if radius is None else radius
    palette = (position_colors(tracks.queries[:, 1:], tracks.image_hw) if colors == "position"
               else index_colors(tracks.num_points))
    drawn = draw_tracks_video(frames, tracks.tracks, tracks.occluded, palette, trail_length, radius, linewidth)
    if with_input:
        drawn = side_by_side(frames, drawn)
    if legend:
        drawn = _with_legend(drawn, trail_length, colors == "position")
    return write_video(drawn, path, fps or tracks.fps)


def write_grid_video(path: str | Path, frames: np.ndarray, tracks: Tracks, *, fps: float | None = None,
                     with_input: bool = False, max_points: int | None = 5000, radius: int | None = None,
                     legend: bool = True) -> Path:
    """The rainbow grid overlay: points coloured by start position, drawn without trails."""
    return write_tracks_video(path, frames, tracks, fps=fps, trail_length=0, with_input=with_input,
                              colors="position", max_points=max_points, radius=radius, legend=legend)


def write_summary_png(path: str | Path, frames: np.ndarray, tracks: Tracks, *, max_points: int | None = 1000,
                      radius: int | None = None, linewidth: int = 1, legend: bool = True) -> Path:
    """PNG: the frame most queries were made in, with every whole trajectory and the query points, coloured by
    query position; queries made in other frames are marked where they were made all the same."""
    tracks = _fit_to_frames(tracks, frames, max_points)
    radius = point_radius(frames.shape[1:3]) if radius is None else radius
    query_frames = tracks.queries[:, 0].astype(int)
    shown = int(np.bincount(query_frames).argmax())
    image = draw_summary(frames[shown], tracks.tracks, tracks.occluded, tracks.queries[:, 1:],
                         position_colors(tracks.queries[:, 1:], tracks.image_hw), radius, linewidth)
    if legend:
        others = " and others" if (query_frames != shown).any() else ""
        note = f"queries in frame {shown}{others}; whole tracks"
        image = _with_legend(image[None], None, True, note)[0]
    save_png(path, image)
    return Path(path)


def _with_legend(video: np.ndarray, trail_length: int | None, by_position: bool, note: str = "") -> np.ndarray:
    """``video [T, H, W, 3]`` with ``legend_band`` under every frame (when it is wide enough to read)."""
    width = video.shape[2]
    if width < LEGEND_MIN_WIDTH or not by_position:
        return video
    band = legend_band(width, trail_length, note)
    return np.concatenate([video, np.broadcast_to(band, (len(video), *band.shape))], axis=1)


@torch.no_grad()
def render_depth_frames(model, progress: bool = True) -> np.ndarray:
    """uint8 ``[T, H, W, 3]``: ``model.render_depth`` of every frame, jet, min-max over the whole video."""
    depth = np.stack([model.render_depth(t).float().cpu().numpy()
                      for t in tqdm(range(model.num_frames), desc="depth", disable=not progress)])
    return colorize_depth(depth)


@torch.no_grad()
def render_color_frames(model, progress: bool = True) -> np.ndarray:
    """uint8 ``[T, H, W, 3]``: ``model.render_rgb`` of every frame (colours in [0, 1] -> 0..255); a model
    without colour rendering is a ValueError naming the methods whose models have it."""
    if not callable(getattr(model, "render_rgb", None)):
        raise ValueError(f"{type(model).__name__} has no colour rendering; use a model of method "
                         f"{' or '.join(color_variants())}")
    return np.stack([rgb_to_uint8(model.render_rgb(t).float().cpu().numpy())
                     for t in tqdm(range(model.num_frames), desc="colour", disable=not progress)])


def write_depth_video(path: str | Path, model, fps: float = 10.0, progress: bool = True) -> Path:
    """Pseudo-depth video of a fitted model (see :func:`render_depth_frames`)."""
    return write_video(render_depth_frames(model, progress), path, fps)


def write_color_video(path: str | Path, model, fps: float = 10.0, progress: bool = True) -> Path:
    """Canonical-colour video of a fitted model (see :func:`render_color_frames`)."""
    return write_video(render_color_frames(model, progress), path, fps)


def point_radius(image_hw: tuple[int, int]) -> int:
    """Default point radius in pixels: 3 at 480p (the official viz), smaller on small frames, at least 1."""
    return max(1, round(min(image_hw) / 160))


def _fit_to_frames(tracks: Tracks, frames: np.ndarray, max_points: int | None) -> Tracks:
    """Tracks in the pixels of ``frames``, at most ``max_points`` of them (evenly spaced by index)."""
    if frames.ndim != 4 or frames.shape[0] != tracks.num_frames:
        raise ValueError(f"frames {frames.shape} must be [T, H, W, 3] with T = {tracks.num_frames} (the tracks' "
                         "frame count); draw the tracks on the video they were computed for")
    if max_points is not None and tracks.num_points > max_points:
        keep = np.linspace(0, tracks.num_points - 1, max_points).round().astype(int)
        logger.info("drawing %d of %d tracks (evenly spaced)", max_points, tracks.num_points)
        tracks = tracks.subset(np.unique(keep))
    return tracks.resized(frames.shape[1:3])
