"""``omnimotion track DATA_DIR``: track query points with a trained model; write tracks and, optionally, pictures.

Queries and tracks are in pixels of the original video when ``DATA_DIR/source.json`` records its size (a
data directory made from a video or frame folder), else of the frames in ``DATA_DIR/color``; ``--video_size``
chooses (conventions in ``omnimotion.coords``). The tracking settings (flow evidence, chunk size,
occlusion threshold) are those the model was trained with, unless given.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch

from omnimotion.cli.main import HelpFormatter, UserError
from omnimotion.config import OmniMotionConfig, add_field_options, compose, config_keys, field_docs, given_values
from omnimotion.io.checkpoint import latest_checkpoint, load_checkpoint
from omnimotion.io.datadir import DataDir
from omnimotion.model import color_variants, get_variant, variant_of
from omnimotion.track import (QueryError, Tracker, dense_queries, grid_queries, load_mask, mask_queries,
                              points_from_file, points_from_strings, save_tracks)
from omnimotion.track.export import TRACK_SUFFIXES
from omnimotion.track.options import TrackConfig
from omnimotion.track.tracker import saved_track_config
from omnimotion.track.tracks import Tracks

__all__ = ["add_parser", "run", "newest_checkpoint", "select_queries", "check_pictures", "write_pictures"]

log = logging.getLogger(__name__)

TRACK_KEYS = tuple(config_keys(["track"]))


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="track points through the whole video with a trained model",
        description="Track query points forwards and backwards through every frame of a trained sequence. "
                    "Give exactly one query source (--grid may be combined with --mask).",
        formatter_class=HelpFormatter)
    parser.add_argument("data_dir", help="data directory of the sequence (with color/ and out/)")
    parser.add_argument("--checkpoint", default=None,
                        help="model checkpoint; default: the newest DATA_DIR/out/*/model_*.pth")
    queries = parser.add_argument_group("queries (pixels x,y of the source video, see --video_size; frames "
                                        "counted from 0)")
    queries.add_argument("--points", action="append", default=[], metavar="X,Y@T",
                         help="a query point, e.g. 120,80@0; repeat for more (without @T: --frame)")
    queries.add_argument("--points_file", default=None, metavar="FILE",
                         help="CSV with a header naming x, y and t (or frame), or a JSON list of points")
    queries.add_argument("--grid", type=int, default=None, metavar="STEP", help="a grid every STEP pixels")
    queries.add_argument("--mask", default=None, metavar="PNG",
                         help="binary mask (or RGBA cut-out) of --frame: track every pixel of it, or with "
                              "--grid the grid points inside it")
    queries.add_argument("--dense", action="store_true", help="track every pixel of --frame")
    queries.add_argument("--frame", type=int, default=0, help="query frame for --grid, --mask, --dense")
    parser.add_argument("--out", required=True,
                        help=f"tracks file; the suffix picks the format: {', '.join(TRACK_SUFFIXES)}")
    parser.add_argument("--video", default=None, help="also write an mp4 of the tracks over the input")
    parser.add_argument("--side_by_side", action="store_true",
                        help="put the plain input left of --video and --grid_video")
    parser.add_argument("--trail_length", type=int, default=10, help="frames of trail drawn in --video")
    parser.add_argument("--summary", default=None,
                        help="also write a PNG of the whole trajectories over the query frame")
    parser.add_argument("--grid_video", default=None,
                        help="also write an mp4 of the points coloured by start position (rainbow grid)")
    parser.add_argument("--depth_video", default=None, help="also write the model's pseudo-depth as an mp4")
    parser.add_argument("--color_video", default=None, help="also write the model's rendered colours as an mp4")
    tracking = parser.add_argument_group("tracking keys (unless given, the settings the model was trained with, "
                                         "as 'omnimotion run' tracks)")
    add_field_options(tracking, ("flow_evidence", "chunk_size"))
    tracking.add_argument("--occlusion_th", dest="track_occlusion_th", default=None, metavar="V",
                          help=field_docs(TrackConfig)["occlusion_th"])
    parser.add_argument("--video_size", default=None, metavar="source|frames|WxH",
                        help="the pixels of queries and tracks: the original video's (source, its size as "
                             "DATA_DIR/source.json records it), DATA_DIR/color's frames (frames), or a size "
                             "WIDTHxHEIGHT; default: source when source.json exists, else frames")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate stored with the tracks and videos (default: the input video's, as "
                             "DATA_DIR/source.json records it, else 10)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    return parser


def run(args: argparse.Namespace) -> int:
    data = DataDir(args.data_dir)
    if Path(args.out).suffix.lower() not in TRACK_SUFFIXES:
        raise UserError(f"--out {args.out}: use a file ending in {', '.join(TRACK_SUFFIXES)}")
    frames_hw, num_frames = data.image_hw, data.num_frames
    video_hw = _video_hw(args.video_size, data)
    queries = _queries_in(args, video_hw, data)
    checkpoint = Path(args.checkpoint) if args.checkpoint else newest_checkpoint(data.root)
    log.info("tracking %d points through %d frames with %s", len(queries), num_frames, checkpoint)
    tracker = Tracker.from_checkpoint(checkpoint, device=args.device, data_dir=data.root, output_hw=video_hw,
                                      fps=args.fps, **dataclasses.asdict(_track_config(args, checkpoint)))
    if tracker.num_frames != num_frames or tracker.model_hw != frames_hw:
        raise UserError(f"{checkpoint} was trained on {tracker.num_frames} frames of {tracker.model_hw[1]}x"
                        f"{tracker.model_hw[0]} but {data.color_dir} has {num_frames} of {frames_hw[1]}x"
                        f"{frames_hw[0]}; pass the checkpoint trained on this data directory")
    check_pictures(args, tracker.model)
    tracks = tracker(queries, data)
    save_tracks(tracks, args.out)
    log.info("wrote %s (%d points, %.0f%% of point-frames visible)", args.out, tracks.num_points,
             100 * (1 - tracks.occluded.mean()))
    write_pictures(args, data, tracks, tracker.model)
    return 0


def check_pictures(args: argparse.Namespace, model: torch.nn.Module) -> None:
    """Refuse, before any tracking, pictures the model's variant cannot render."""
    name = variant_of(model)
    if args.color_video and not get_variant(name).renders_color:
        raise UserError(f"the {name} model has no colour rendering; train with --method "
                        f"{' or '.join(color_variants())} or drop --color_video")
def _track_config(args: argparse.Namespace, checkpoint: Path) -> TrackConfig:
    """The checkpoint's tracking settings with the options given (``compose`` converts and checks them)."""
    saved = saved_track_config(load_checkpoint(checkpoint, map_location="cpu"))
    return compose(overrides=given_values(args, TRACK_KEYS), base=OmniMotionConfig(track=saved)).track


def write_pictures(args: argparse.Namespace, data: DataDir, tracks: Tracks, model) -> None:
    """The optional videos and summary asked for on the command line."""
    if not (args.video or args.summary or args.grid_video or args.depth_video or args.color_video):
        return
    from omnimotion import viz  # only when pictures are wanted

    frames = viz.load_picture_frames(data, tracks.image_hw) if (args.video or args.summary or args.grid_video) \
        else None
    if args.video:
        viz.write_tracks_video(args.video, frames, tracks, trail_length=args.trail_length,
                               with_input=args.side_by_side)
    if args.grid_video:
        viz.write_grid_video(args.grid_video, frames, tracks, with_input=args.side_by_side)
    if args.summary:
        viz.write_summary_png(args.summary, frames, tracks)
    if args.depth_video:
        viz.write_depth_video(args.depth_video, model, fps=tracks.fps)
    if args.color_video:
        viz.write_color_video(args.color_video, model, fps=tracks.fps)
    for path in (args.video, args.grid_video, args.summary, args.depth_video, args.color_video):
        if path:
            log.info("wrote %s", path)


def select_queries(args: argparse.Namespace, image_hw: tuple[int, int], num_frames: int) -> np.ndarray:
    """Queries ``[N, 3]`` (t, x, y) from the one query source given on the command line."""
    given = [flag for flag, value in (("--points", args.points), ("--points_file", args.points_file),
                                      ("--grid", args.grid is not None), ("--mask", args.mask),
                                      ("--dense", args.dense)) if value]
    if not given:
        raise UserError("no query points: give --points X,Y@T, --points_file, --grid STEP, --mask PNG or --dense")
    if len(given) > 1 and set(given) != {"--grid", "--mask"}:
        raise UserError(f"give one query source, not {' and '.join(given)} (only --grid and --mask combine)")
    if args.points:
        return points_from_strings(args.points, image_hw, num_frames, default_frame=args.frame)
    if args.points_file:
        return points_from_file(args.points_file, image_hw, num_frames, default_frame=args.frame)
    mask = load_mask(args.mask, image_hw) if args.mask else None
    if args.grid is not None:
        return grid_queries(image_hw, args.grid, args.frame, num_frames, mask=mask)
    if mask is not None:
        return mask_queries(mask, args.frame, num_frames)
    return dense_queries(image_hw, args.frame, num_frames)


def _queries_in(args: argparse.Namespace, video_hw: tuple[int, int], data: DataDir) -> np.ndarray:
    """``select_queries`` in pixels of ``video_hw``; a query outside the frame also says how to choose them."""
    try:
        return select_queries(args, video_hw, data.num_frames)
    except QueryError as err:
        if "outside" not in str(err):
            raise
        what = "the source video" if video_hw != data.image_hw else f"the frames of {data.color_dir}"
        raise UserError(f"{err} of {what}; --video_size source|frames|WIDTHxHEIGHT chooses the pixels queries "
                        "are given in") from None


def newest_checkpoint(data_root: Path) -> Path:
    """The most recently written ``model_*.pth`` in any ``DATA_DIR/out/*/`` folder."""
    out = data_root / "out"
    found = [latest_checkpoint(folder) for folder in sorted(out.iterdir()) if folder.is_dir()] if out.is_dir() else []
    found = [path for path in found if path is not None]
    if not found:
        raise UserError(f"no checkpoint found in {out}/*/; train first with 'omnimotion train {data_root}' "
                        "or pass --checkpoint")
    return max(found, key=lambda path: path.stat().st_mtime)


def _video_hw(text: str | None, data: DataDir) -> tuple[int, int]:
    """``--video_size`` as (H, W): ``source`` (the size ``source.json`` records), ``frames`` (``color/``'s) or
    ``WxH``; not given: the source's when recorded, else the frames'."""
    info = data.load_source_info()
    if text is None:
        return info["native_hw"] if info is not None else data.image_hw
    if text.strip().lower() == "frames":
        return data.image_hw
    if text.strip().lower() != "source":
        return _parse_size(text)
    if info is None:
        raise UserError(f"--video_size source: {data.source_info_path} does not exist (it is written by "
                        "'omnimotion prepare' from a video or frame folder); give the size as WIDTHxHEIGHT")
    return info["native_hw"]


def _parse_size(text: str) -> tuple[int, int]:
    """``"854x480"`` (W x H) -> (H, W)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--video_size {text!r}: write it as WIDTHxHEIGHT, e.g. 854x480") from None
    if width < 2 or height < 2:
        raise UserError(f"--video_size {text!r} is too small")
    return height, width
