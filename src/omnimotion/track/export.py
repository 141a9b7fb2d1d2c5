"""Export ``Tracks`` to TAP-Vid-style arrays, CSV and JSON, and read them back.

Coordinate conventions of each format
    tracks.npz  pixels (x, y) of the video, integer pixel centres (``omnimotion.coords``); see ``Tracks``.
    TAP-Vid     ``points [N, T, 2]`` float32 normalised *raster* coordinates in [0, 1]: (0, 0) is the
                top-left corner of the top-left pixel and (1, 1) the bottom-right corner of the bottom-right
                pixel, so ``x_norm = (x + 0.5) / W`` and ``y_norm = (y + 0.5) / H``; ``occluded [N, T]`` bool,
                True = occluded (the layout of one example in ``tapvid_davis.pkl``, docs/method.md#tap-vid-files).
    CSV         a first line ``# frame size WxH px, F fps`` (the pixels x, y refer to), then one row per
                (point, frame), columns ``point_id, frame, x, y, visible``: x, y in pixels as in tracks.npz,
                ``visible`` 1 (seen) or 0 (occluded or outside the frame); rows sorted by point then frame.
                The CSV carries no query points (read it with ``pandas.read_csv(path, comment="#")``).
    JSON        ``{"format", "image_hw": [H, W], "fps", "num_frames", "points": [{"id", "query": [t, x, y],
                "xy": [[x, y], ...T], "occluded": [bool, ...T]}, ...]}``, pixels as in tracks.npz.

``save_tracks(tracks, path)`` / ``load_tracks(path)`` choose the format from the file suffix
(``.npz``, ``.csv``, ``.json``); CSV loads back as tracks and occlusion arrays only.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from omnimotion.coords import resize_points
from omnimotion.io.atomic import atomic_open, save_json
from omnimotion.io.datadir import CorruptFileError
from omnimotion.track.tracks import Tracks

__all__ = ["to_tapvid", "from_tapvid", "save_tracks", "load_tracks", "save_csv", "load_csv", "save_tracks_json",
           "load_tracks_json", "CSV_COLUMNS", "TRACK_SUFFIXES"]

CSV_COLUMNS = ("point_id", "frame", "x", "y", "visible")
TRACK_SUFFIXES = (".npz", ".csv", ".json")
JSON_FORMAT = "omnimotion-tracks-json-v1"
# The CSV's "visible" column is what people asked for (issue 5); everywhere else the package speaks of
# "occluded" (True = hidden), as TAP-Vid does.


def to_tapvid(tracks: Tracks) -> dict[str, np.ndarray]:
    """``{"points": [N, T, 2] normalised raster (x, y), "occluded": [N, T] bool}`` (module docstring)."""
    # normalised raster = raster pixels of a 1x1 frame (as omnimotion.eval.tapvid.pixels_to_raster)
    points = resize_points(tracks.tracks, tracks.image_hw, (1, 1)) + 0.5
    return {"points": points.astype(np.float32), "occluded": tracks.occluded.copy()}


def from_tapvid(points: np.ndarray, occluded: np.ndarray, queries: np.ndarray, image_hw: tuple[int, int],
                fps: float = 10.0) -> Tracks:
    """Inverse of :func:`to_tapvid`; ``queries [N, 3]`` are (t, x, y) in pixels of ``image_hw``."""
    pixels = resize_points(np.asarray(points, np.float32) - 0.5, (1, 1), image_hw)
    return Tracks(pixels, occluded, queries, image_hw, fps)


def save_tracks(tracks: Tracks, path: str | Path) -> None:
    """Write ``tracks`` in the format named by the suffix of ``path`` (.npz, .csv or .json)."""
    suffix = _suffix(path)
    if suffix == ".npz":
        tracks.save(path)
    elif suffix == ".csv":
        save_csv(tracks, path)
    else:
        save_tracks_json(tracks, path)


def load_tracks(path: str | Path) -> Tracks:
    """Read tracks.npz or the JSON export (the CSV lacks the query points: use :func:`load_csv`)."""
    suffix = _suffix(path)
    if suffix == ".csv":
        raise ValueError(f"{path}: a CSV holds no query points; read it with load_csv, "
                         "or export .npz/.json to load full Tracks")
    return Tracks.load(path) if suffix == ".npz" else load_tracks_json(path)


def save_csv(tracks: Tracks, path: str | Path) -> None:
    """One row per (point, frame); float32 positions written with 9 significant digits (exact round trip)."""
    n, t = tracks.occluded.shape
    point_id, frame = np.divmod(np.arange(n * t), t)
    xy = tracks.tracks.reshape(-1, 2)
    visible = (~tracks.occluded.reshape(-1)).astype(np.int64)
    height, width = tracks.image_hw
    with atomic_open(path, "w") as handle:
        handle.write(f"# frame size {width}x{height} px, {tracks.fps:g} fps\n")
        handle.write(",".join(CSV_COLUMNS) + "\n")
        # one vectorised write: a dense export has millions of rows, csv.writer would take minutes
        table = np.empty((n * t, 5), dtype=object)
        table[:, 0], table[:, 1], table[:, 4] = point_id, frame, visible
        table[:, 2], table[:, 3] = xy[:, 0], xy[:, 1]
        np.savetxt(handle, table, fmt=("%d", "%d", "%.9g", "%.9g", "%d"), delimiter=",")


def load_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV written by :func:`save_csv` -> ``(tracks [N, T, 2] float32, occluded [N, T] bool)``."""
    path = Path(path)
    text = "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("#"))
    header = next(csv.reader(io.StringIO(text)), [])
    if tuple(col.strip() for col in header) != CSV_COLUMNS:
        raise CorruptFileError(f"{path}: expected the columns {','.join(CSV_COLUMNS)}, found {','.join(header)}")
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    if len(table) == 0:
        raise CorruptFileError(f"{path} has no rows")
    ids, frames = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    n, t = ids.max() + 1, frames.max() + 1
    if len(table) != n * t or np.any(ids * t + frames != np.arange(n * t)):
        raise CorruptFileError(f"{path}: rows must cover every (point_id, frame) once, sorted by point then frame")
    tracks = table[:, 2:4].astype(np.float32).reshape(n, t, 2)
    occluded = (table[:, 4] == 0).reshape(n, t)
    return tracks, occluded


def save_tracks_json(tracks: Tracks, path: str | Path) -> None:
    """The JSON layout of the module docstring (float32 values converted exactly to Python floats)."""
    points = [{"id": i, "query": tracks.queries[i].tolist(), "xy": tracks.tracks[i].tolist(),
               "occluded": tracks.occluded[i].tolist()} for i in range(tracks.num_points)]
    save_json(path, {"format": JSON_FORMAT, "image_hw": list(tracks.image_hw), "fps": tracks.fps,
                     "num_frames": tracks.num_frames, "points": points})


def load_tracks_json(path: str | Path) -> Tracks:
    """Read a file written by :func:`save_tracks_json`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        points = data["points"]
        num_frames = int(data["num_frames"])
        tracks = np.asarray([p["xy"] for p in points], np.float32).reshape(len(points), num_frames, 2)
        occluded = np.asarray([p["occluded"] for p in points], bool).reshape(len(points), num_frames)
        queries = np.asarray([p["query"] for p in points], np.float32).reshape(len(points), 3)
        return Tracks(tracks, occluded, queries, tuple(data["image_hw"]), float(data["fps"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise CorruptFileError(f"{path} is not an omnimotion tracks JSON ({err!r}); re-export it") from err


def _suffix(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in TRACK_SUFFIXES:
        raise ValueError(f"{path}: unknown tracks format {suffix!r}; use one of {', '.join(TRACK_SUFFIXES)}")
    return suffix
