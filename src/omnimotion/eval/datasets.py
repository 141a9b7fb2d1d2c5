"""Evaluation videos with ground-truth tracks, read lazily one video at a time.

``iter_videos(spec)`` yields :class:`VideoSource` items (a name and a ``load()`` that returns an
:class:`EvalVideo`), so a broken video of a folder fails only when loaded.

Sources (``spec``):

- a TAP-Vid pickle: DAVIS/RoboTAP (dict name -> example), RGB-Stacking (list), Kinetics (list or dict whose
  ``video`` is a list of JPEG bytes). Points are normalised raster (x, y) in [0, 1]; frames are resized to
  256x256 (area interpolation) as the benchmark reader does. Kinetics files carry ``generate_tapvid.py``'s
  half-pixel shift in their stored points; like the reference reader we read them as stored (queries come from
  the same points, so the scores are unaffected).
- a per-video ``.npz``: ``video`` uint8 [T, H, W, 3], ``points`` float [N, T, 2] TAP-Vid raster pixels of
  ``video`` (centres at +0.5; NaN where occluded or unannotated), ``occluded`` bool [N, T]; optional BADJA keys
  ``valid`` [N, T] (annotated frames) and ``masks`` [T, H, W] (segmentation, for PCK).
- a folder: every ``*.npz`` below it (recursively, sorted), e.g. ``../shared/data``.
- ``synthetic:K[,frames=50][,size=256][,sprites=3][,points=64][,motion=mixed][,seed=0]``: K generated clips.

Every :class:`EvalVideo` holds ground truth in our conventions (``omnimotion.coords``): tracks [N, T, 2] (x, y)
pixels of ``video``, NaN replaced by 0 where occluded/unannotated (the metrics never look there).
"""

from __future__ import annotations

import itertools
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from omnimotion.eval.tapvid import EVAL_SIZE, normalized_to_pixels, raster_to_pixels

__all__ = ["EvalVideo", "VideoSource", "iter_videos", "load_npz_video", "parse_synthetic_spec"]

log = logging.getLogger(__name__)


@dataclass
class EvalVideo:
    """One evaluation video and its ground truth in our conventions.

    video uint8 ``[T, H, W, 3]``; tracks float32 ``[N, T, 2]`` (x, y) pixels; occluded bool ``[N, T]``;
    valid bool ``[N, T]`` or None (annotated frames; BADJA); masks bool ``[T, H, W]`` or None (segmentation).
    """

    name: str
    video: np.ndarray
    tracks: np.ndarray
    occluded: np.ndarray
    valid: np.ndarray | None = None
    masks: np.ndarray | None = None
    group: str = ""


@dataclass
class VideoSource:
    """A named video whose data is read only when ``load()`` is called."""

    name: str
    load: Callable[[], EvalVideo]
    group: str = ""


def iter_videos(spec: str | Path, max_videos: int | None = None) -> Iterator[VideoSource]:
    """Evaluation videos of ``spec`` (see module docstring), at most ``max_videos`` of them.

    A missing, unknown or malformed dataset file (a pickle or a single ``.npz``: every video's keys and shapes
    are checked here) raises here; in a folder, a broken video raises only from its ``load()``.
    """
    return itertools.islice(_sources(str(spec)), max_videos)


def _sources(spec: str) -> Iterator[VideoSource]:
    if spec.startswith("synthetic:"):
        return _synthetic_sources(parse_synthetic_spec(spec))
    path = Path(spec)
    if path.is_dir():
        files = sorted(path.rglob("*.npz"))
        if not files:
            raise FileNotFoundError(f"{path} holds no .npz evaluation videos; give a TAP-Vid .pkl, an .npz, a "
                                    "folder of .npz files or synthetic:K")
        return iter([_npz_source(f, path) for f in files])
    if not path.exists():
        raise FileNotFoundError(f"dataset {path} does not exist; give a TAP-Vid .pkl, an .npz, a folder of .npz "
                                "files or synthetic:K")
    if path.suffix == ".npz":  # the whole dataset: read (and so checked) before any method runs
        source = _npz_source(path, path.parent)
        video = source.load()
        return iter([VideoSource(source.name, lambda: video, source.group)])
    if path.suffix in (".pkl", ".pickle"):
        return _pickle_sources(path)
    raise ValueError(f"unknown dataset file type {path.suffix!r} for {path}; expected .pkl, .npz, a folder or "
                     "synthetic:K")


def _npz_source(path: Path, root: Path) -> VideoSource:
    group = str(path.parent.relative_to(root)) if path.parent != root else root.name
    name = path.stem if group in ("", ".") else f"{group}/{path.stem}"
    return VideoSource(name, lambda: load_npz_video(path, name, group), group)


def load_npz_video(path: str | Path, name: str | None = None, group: str = "") -> EvalVideo:
    """Read one per-video ``.npz`` (format in the module docstring); errors name the file and the key."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
        fields = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"cannot read evaluation file {path}: {err}; re-create or remove it") from err
    missing = [key for key in ("video", "points", "occluded") if key not in fields]
    if missing:
        raise ValueError(f"{path} lacks key(s) {missing}; an evaluation .npz needs video, points, occluded")
    video = _check_video(fields["video"], path)
    height, width = video.shape[1:3]
    tracks = raster_to_pixels(fields["points"], height, width, raster_hw=(height, width)).astype(np.float32)
    valid = fields["valid"].astype(bool) if "valid" in fields else None
    masks = fields["masks"].astype(bool) if "masks" in fields else None
    return _make_video(name or path.stem, video, tracks, fields["occluded"], valid, masks, group, path)


def _pickle_sources(path: Path) -> Iterator[VideoSource]:
    """The videos of a TAP-Vid pickle, every one checked (keys and shapes) before any is yielded."""
    with open(path, "rb") as handle:
        try:
            data = pickle.load(handle)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as err:
            raise ValueError(f"cannot unpickle TAP-Vid file {path}: {err}") from err
    if isinstance(data, dict):
        items = [(str(name), example) for name, example in data.items()]
    elif isinstance(data, (list, tuple)):
        items = [(f"{i:04d}", example) for i, example in enumerate(data)]
    else:
        raise ValueError(f"{path} is not a TAP-Vid dataset: its top level is of type "
                         f"{type(data).__name__}, not a dict of videos (name -> {{video, points, occluded}}) or a list")
    if not items:
        raise ValueError(f"{path} is not a TAP-Vid dataset: it holds no videos")
    for name, example in items:
        problem = _tapvid_example_problem(example)
        if problem:
            raise ValueError(f"{path} is not a TAP-Vid dataset: video {name!r} {problem}")
    return iter([VideoSource(name, _pickle_loader(example, name, path), path.stem) for name, example in items])


def _tapvid_example_problem(example: Any) -> str:
    """What is wrong with one TAP-Vid example (``""`` if nothing): its type, keys and array shapes."""
    if not isinstance(example, dict):
        return f"is of type {type(example).__name__}, not a dict with video, points, occluded"
    missing = [key for key in ("video", "points", "occluded") if key not in example]
    if missing:
        return f"lacks key(s) {missing}"
    points, occluded = np.shape(example["points"]), np.shape(example["occluded"])
    if len(points) != 3 or points[2] != 2:
        return f"has points of shape {points}, expected [N, T, 2]"
    if occluded != points[:2]:
        return f"has occluded of shape {occluded}, expected {points[:2]} (as points [N, T])"
    video = example["video"]
    if isinstance(video, np.ndarray):
        if video.ndim != 4 or video.shape[-1] != 3:
            return f"has video of shape {video.shape}, expected [T, H, W, 3]"
        frames = video.shape[0]
    elif isinstance(video, (list, tuple)) and all(isinstance(f, (bytes, np.ndarray)) for f in video):
        frames = len(video)
    else:
        return f"has a video of type {type(video).__name__}, expected a uint8 array or a list of JPEG bytes"
    if frames != points[1]:
        return f"has {frames} video frames but points for {points[1]}"
    return ""


def _pickle_loader(example: dict[str, Any], name: str, path: Path) -> Callable[[], EvalVideo]:
    def load() -> EvalVideo:
        video = _resize_frames(_decode_frames(example["video"]), EVAL_SIZE)
        tracks = normalized_to_pixels(np.asarray(example["points"]), EVAL_SIZE, EVAL_SIZE).astype(np.float32)
        return _make_video(name, _check_video(video, path), tracks, example["occluded"], None, None, path.stem,
                           path)
    return load


def _decode_frames(frames) -> np.ndarray:
    """uint8 [T, H, W, 3] from an array, or from a list of JPEG bytes (TAP-Vid Kinetics)."""
    if isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4:
        return frames
    decoded = []
    for frame in frames:
        image = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("a video frame is neither an RGB array nor decodable JPEG/PNG bytes")
        decoded.append(image[..., ::-1])
    return np.stack(decoded)


def _resize_frames(video: np.ndarray, size: int) -> np.ndarray:
    if video.shape[1:3] == (size, size):
        return video
    return np.stack([cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA) for frame in video])


def _check_video(video: np.ndarray, path: Path) -> np.ndarray:
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"{path}: video must be uint8 [T, H, W, 3], got {video.dtype} {video.shape}")
    return video


def _make_video(name, video, tracks, occluded, valid, masks, group, path) -> EvalVideo:
    occluded = np.asarray(occluded, dtype=bool)
    expected = (occluded.shape[0], video.shape[0])
    if occluded.shape != expected or tracks.shape != expected + (2,):
        raise ValueError(f"{path} ({name}): points {tracks.shape} / occluded {occluded.shape} do not match "
                         f"[N, {video.shape[0]}(, 2)] for the video's {video.shape[0]} frames")
    for label, array, shape in (("valid", valid, occluded.shape), ("masks", masks, video.shape[:3])):
        if array is not None and array.shape != shape:
            raise ValueError(f"{path} ({name}): {label} has shape {array.shape}, expected {shape}")
    unknown = ~np.isfinite(tracks).all(axis=-1)
    scored = ~occluded if valid is None else ~occluded & valid
    if (unknown & scored).any():
        raise ValueError(f"{path} ({name}): ground truth is NaN on {int((unknown & scored).sum())} visible "
                         "annotated frames; mark them occluded (or not valid)")
    tracks = np.where(unknown[..., None], 0.0, tracks).astype(np.float32)
    return EvalVideo(name, video, tracks, occluded, valid, masks, group)


_SYNTHETIC_DEFAULTS = {"frames": 50, "size": 256, "sprites": 3, "points": 64, "motion": "mixed", "seed": 0}


def parse_synthetic_spec(spec: str) -> dict[str, Any]:
    """``synthetic:K[,key=value...]`` -> options with ``count`` and the defaults above filled in."""
    head, *pairs = spec[len("synthetic:"):].split(",")
    options: dict[str, Any] = dict(_SYNTHETIC_DEFAULTS)
    try:
        options["count"] = int(head)
        for pair in pairs:
            key, value = pair.split("=", 1)
            if key not in _SYNTHETIC_DEFAULTS:
                raise ValueError(f"unknown option {key!r}")
            options[key] = value if key == "motion" else int(value)
    except ValueError as err:
        raise ValueError(f"bad synthetic dataset {spec!r} ({err}); write synthetic:K or e.g. "
                         "synthetic:8,frames=50,size=256,sprites=3,points=64,motion=mixed,seed=0") from err
    if options["count"] < 1:
        raise ValueError(f"synthetic:K needs K >= 1, got {spec!r}")
    return options


def _synthetic_sources(options: dict[str, Any]) -> Iterator[VideoSource]:
    for index in range(options["count"]):
        seed = options["seed"] + index
        yield VideoSource(f"synthetic_{seed:03d}", _synthetic_loader(options, seed), "synthetic")


def _synthetic_loader(options: dict[str, Any], seed: int) -> Callable[[], EvalVideo]:
    def load() -> EvalVideo:
        from omnimotion.synthetic import make_clip, sample_queries

        clip = make_clip(options["frames"], options["size"], options["size"], options["sprites"],
                         options["motion"], seed)
        # One ground-truth track per sampled point; the evaluation then samples its own queries from them.
        tracks, occluded = clip.track(sample_queries(clip, options["points"], seed, "strided"))
        return EvalVideo(f"synthetic_{seed:03d}", clip.video, tracks, occluded, group="synthetic")
    return load
