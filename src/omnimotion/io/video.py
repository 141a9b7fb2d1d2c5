"""Read videos or frame folders into uint8 ``[T, H, W, 3]`` RGB arrays, and write videos.

Sources: a video file (mp4, mov, webm, avi, mkv, gif; decoded with PyAV through imageio), a folder of
``.jpg``/``.png`` frames (sorted file name order is time order), or an official data directory (its
``color/`` folder is used). Frames are picked with ``start``/``end``/``stride`` (Python slice semantics on
the frame index) and shrunk so the longest side is at most ``max_side`` pixels (aspect kept, INTER_AREA),
as the official preprocessing expects 480p input.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from omnimotion.io.atomic import OutputNotWritableError
from omnimotion.io.datadir import FRAME_EXTENSIONS, CorruptFileError
from omnimotion.io.images import read_image

__all__ = ["read_frames", "write_video", "video_fps", "native_frame_hw", "resize_longest_side",
           "VIDEO_EXTENSIONS", "frame_files"]

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".avi", ".mkv", ".m4v", ".gif")
_WRITE_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".m4v": "libx264",
                 ".avi": "mpeg4", ".webm": "libvpx-vp9"}
_SOURCE_HINT = "give a video file (mp4, mov, webm, avi, gif) or a folder of .jpg/.png frames"


def read_frames(source: str | Path, start: int = 0, end: int | None = None, stride: int = 1,
                max_side: int | None = 480) -> np.ndarray:
    """Frames ``start:end:stride`` of ``source`` as uint8 ``[T, H, W, 3]`` RGB, T >= 2.

    Raises FileNotFoundError (missing path), CorruptFileError (unreadable file) or ValueError (empty
    video, fewer than 2 frames selected, frames of different sizes, bad range), each naming the problem.
    """
    path = Path(source).expanduser()
    if start < 0 or stride < 1 or (end is not None and end < 0):
        raise ValueError(f"bad frame range start={start} end={end} stride={stride}: start and end must be "
                         ">= 0 and stride >= 1")
    if not path.exists():
        raise FileNotFoundError(f"input {path} does not exist; {_SOURCE_HINT}")
    if path.is_dir():
        frames, total = _read_folder(path, start, end, stride)
    elif path.suffix.lower() in VIDEO_EXTENSIONS:
        if path.stat().st_size == 0:
            raise ValueError(f"video {path} is empty (0 bytes); {_SOURCE_HINT}")
        frames, total = _read_video(path, start, end, stride)
    else:
        raise ValueError(f"input {path} is neither a folder nor a video ({', '.join(VIDEO_EXTENSIONS)}); "
                         f"{_SOURCE_HINT}")
    if len(frames) < 2:
        raise ValueError(f"{path} gives {len(frames)} frame(s) with start={start} end={end} stride={stride} "
                         f"(the source has {total}); OmniMotion needs at least 2 frames: widen the range")
    return np.stack([resize_longest_side(frame, max_side) for frame in frames])


def frame_files(folder: Path) -> list[Path]:
    """Sorted ``.jpg``/``.png`` files of ``folder``, or of ``folder/color`` for an official data directory."""
    if (folder / "color").is_dir():
        folder = folder / "color"
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in FRAME_EXTENSIONS and not p.name.startswith("."))


def _read_folder(folder: Path, start: int, end: int | None, stride: int) -> tuple[list[np.ndarray], int]:
    files = frame_files(folder)
    if not files:
        raise ValueError(f"folder {folder} holds no .jpg/.png frames; {_SOURCE_HINT}")
    frames = []
    for path in files[start:end:stride]:
        image = read_image(path, cv2.IMREAD_COLOR)
        if frames and image.shape != frames[0].shape:
            raise ValueError(f"frame {path.name} is {image.shape[1]}x{image.shape[0]} but the first selected "
                             f"frame is {frames[0].shape[1]}x{frames[0].shape[0]}; all frames in {path.parent} "
                             "must have one size (resize them first)")
        frames.append(image[..., ::-1])
    return frames, len(files)


def _iter_video(path: Path) -> Iterator[np.ndarray]:
    import imageio.v3 as iio

    for frame in iio.imiter(path, plugin="pyav", format="rgb24"):
        yield frame


def _read_video(path: Path, start: int, end: int | None, stride: int) -> tuple[list[np.ndarray], int]:
    frames, total = [], 0
    try:
        for index, frame in enumerate(_iter_video(path)):
            total = index + 1
            if end is not None and index >= end:
                break
            if index >= start and (index - start) % stride == 0:
                frames.append(np.ascontiguousarray(frame[..., :3]))
    except Exception as err:  # PyAV/imageio raise many types for broken files; report them as one
        raise CorruptFileError(f"cannot decode video {path} after {total} frame(s) ({type(err).__name__}: "
                               f"{err}); check that it plays, or convert it (e.g. ffmpeg -i IN OUT.mp4)") from err
    if total == 0:
        raise ValueError(f"video {path} contains no frames; {_SOURCE_HINT}")
    return frames, total


def resize_longest_side(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink ``[H, W, C]`` so ``max(H, W) <= max_side`` (aspect kept, INTER_AREA); never enlarges."""
    height, width = frame.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return frame
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def native_frame_hw(source: str | Path) -> tuple[int, int]:
    """(H, W) of the first frame of a video file or frame folder, before any resizing."""
    path = Path(source)
    if path.is_dir():
        first = frame_files(path)[0]
        return read_image(first, cv2.IMREAD_UNCHANGED).shape[:2]
    frame = next(_iter_video(path))
    return frame.shape[:2]


def video_fps(source: str | Path) -> float | None:
    """Frame rate of a video file, or None for a frame folder or when the container does not say."""
    path = Path(source)
    if path.is_dir():
        return None
    import imageio.v3 as iio

    try:
        fps = iio.immeta(path, plugin="pyav").get("fps")
    except Exception as err:
        raise CorruptFileError(f"cannot read the metadata of video {path} ({err})") from err
    return float(fps) if fps else None


def write_video(frames: np.ndarray, path: str | Path, fps: float = 10.0) -> Path:
    """Write uint8 ``[T, H, W, 3]`` RGB to ``path`` (mp4/mov/mkv: H.264, webm: VP9, avi: MPEG-4, gif).

    Odd sizes are padded by one edge row/column (H.264 needs even sizes). Written atomically.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be uint8 [T, H, W, 3] with T >= 1, got {frames.dtype} {frames.shape}")
    suffix = path.suffix.lower()
    if suffix not in _WRITE_CODECS and suffix != ".gif":
        raise ValueError(f"cannot write video {path}: use one of {', '.join(sorted(_WRITE_CODECS))}, .gif")
    tmp = path.with_name(f".{path.stem}.tmp{suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _encode(frames, tmp, suffix, fps)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputNotWritableError(f"cannot write video {path}: {err.strerror or err}; "
                                     "choose a writable output path") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _encode(frames: np.ndarray, path: Path, suffix: str, fps: float) -> None:
    import imageio.v3 as iio

    if suffix == ".gif":
        iio.imwrite(path, frames, duration=1000.0 / fps, loop=0)
        return
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    iio.imwrite(path, frames, plugin="pyav", codec=_WRITE_CODECS[suffix], fps=fps)
