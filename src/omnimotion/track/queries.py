"""Query points ``[N, 3]`` float32 = (t, x, y): t a frame index, (x, y) pixels (``omnimotion.coords``).

Sources: explicit points (``"120,80@0"`` strings, a CSV or JSON file), a regular grid, every pixel of a
binary mask (track a region) and every pixel of a frame (dense). All pixels are in the frame size passed as
``image_hw`` (the video the user sees); a query may lie anywhere in the frame's extent, pixel edges included
(``coords.inside_extent``: x in [-0.5, W-0.5]); every builder validates its result and raises ``QueryError`` (a
``ValueError``) with a one-line message naming the bad query and what is allowed.

Text formats
    point string   ``"X,Y@T"`` (e.g. ``"120,80@0"``) or ``"X,Y"`` (frame ``default_frame``).
    CSV file       a header naming columns ``x``, ``y`` and optionally ``t`` (or ``frame``); one query per row.
    JSON file      a list whose items are point strings, ``{"x", "y", "t"|"frame"}`` objects or ``[t, x, y]``.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from omnimotion.coords import inside_extent

__all__ = ["QueryError", "parse_point", "points_from_strings", "points_from_file", "grid_queries",
           "mask_queries", "dense_queries", "load_mask", "validate_queries"]

_POINT_RE = re.compile(r"^\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*(?:@\s*([-+0-9]+)\s*)?$")


class QueryError(ValueError):
    """A query the user gave cannot be tracked (malformed, outside the frame, no such frame, empty mask)."""


def parse_point(text: str, default_frame: int = 0) -> tuple[int, float, float]:
    """``"120,80@3"`` -> ``(3, 120.0, 80.0)``; without ``@T`` the frame is ``default_frame``."""
    match = _POINT_RE.match(text)
    try:
        if match is None:
            raise ValueError
        x, y = float(match.group(1)), float(match.group(2))
        t = int(match.group(3)) if match.group(3) is not None else default_frame
    except ValueError:
        raise QueryError(f"cannot read the point {text!r}; write it as X,Y@FRAME, e.g. 120,80@0") from None
    return t, x, y


def points_from_strings(texts: Iterable[str], image_hw: tuple[int, int], num_frames: int,
                        default_frame: int = 0) -> np.ndarray:
    """Queries from point strings (module docstring), validated."""
    rows = [parse_point(text, default_frame) for text in texts]
    return validate_queries(_as_queries(rows), image_hw, num_frames)


def points_from_file(path: str | Path, image_hw: tuple[int, int], num_frames: int,
                     default_frame: int = 0) -> np.ndarray:
    """Queries from a ``.csv`` or ``.json`` file (module docstring), validated."""
    path = Path(path)
    if not path.is_file():
        raise QueryError(f"query file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _rows_from_csv(path, default_frame)
    elif suffix == ".json":
        rows = _rows_from_json(path, default_frame)
    else:
        raise QueryError(f"{path}: query files must be .csv or .json, not {suffix or 'without suffix'}")
    if not rows:
        raise QueryError(f"{path} holds no query points")
    return validate_queries(_as_queries(rows), image_hw, num_frames)


def grid_queries(image_hw: tuple[int, int], step: int, frame: int = 0, num_frames: int | None = None,
                 mask: np.ndarray | None = None) -> np.ndarray:
    """A regular grid every ``step`` pixels (first point at ``step // 2``), optionally only where ``mask``.

    ``mask``: bool ``[H, W]``, True where points are wanted. Points are in raster order (row by row).
    """
    if int(step) < 1:
        raise QueryError(f"the grid step must be a positive number of pixels, got {step}")
    h, w = image_hw
    step = int(step)
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    keep = np.ones(xs.shape, bool) if mask is None else _check_mask(mask, image_hw)[ys, xs]
    if not keep.any():
        raise QueryError(f"no grid point (step {step}) falls inside the mask; use a smaller step")
    xy = np.stack([xs[keep], ys[keep]], axis=-1)
    return _at_frame(xy, frame, image_hw, num_frames)


def mask_queries(mask: np.ndarray, frame: int = 0, num_frames: int | None = None) -> np.ndarray:
    """Every pixel where the bool ``mask [H, W]`` is True, in raster order (track a region)."""
    mask = _check_mask(mask, mask.shape[:2])
    ys, xs = np.nonzero(mask)
    return _at_frame(np.stack([xs, ys], axis=-1), frame, mask.shape[:2], num_frames)


def dense_queries(image_hw: tuple[int, int], frame: int = 0, num_frames: int | None = None) -> np.ndarray:
    """Every pixel of frame ``frame``, in raster order: ``H * W`` queries."""
    return grid_queries(image_hw, 1, frame, num_frames)


def load_mask(path: str | Path, image_hw: tuple[int, int]) -> np.ndarray:
    """Read a binary mask image -> bool ``[H, W]`` at ``image_hw``.

    Grey or colour images: True where any channel is non-zero. RGBA images (e.g. cut-outs from remove.bg):
    True where alpha is 255, as the official viz. A mask of another size but the same aspect ratio is
    resized (nearest neighbour); a different aspect ratio is an error.
    """
    path = Path(path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise QueryError(f"cannot read the mask image {path}; give a PNG or JPEG file")
    if image.ndim == 3 and image.shape[2] == 4:
        mask = image[..., 3] == 255
    else:
        mask = (image.reshape(image.shape[0], image.shape[1], -1) > 0).any(axis=-1)
    h, w = image_hw
    if mask.shape != (h, w):
        if abs(mask.shape[1] / mask.shape[0] - w / h) > 0.01 * w / h:
            raise QueryError(f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but the video is {w}x{h}; "
                             "make the mask from a frame of this video")
        mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    if not mask.any():
        raise QueryError(f"mask {path} is empty (no non-zero pixels); nothing to track")
    return mask


def validate_queries(queries: np.ndarray, image_hw: tuple[int, int], num_frames: int | None) -> np.ndarray:
    """Check ``queries [N, 3]``; return them as float32. Raises QueryError naming the first bad one."""
    queries = np.asarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != 3:
        raise QueryError(f"queries must be an [N, 3] array of (t, x, y), got shape {queries.shape}")
    if len(queries) == 0:
        raise QueryError("no query points given")
    h, w = image_hw
    t, x, y = queries[:, 0], queries[:, 1], queries[:, 2]
    bad_t = (t != np.round(t)) | (t < 0) | ((t >= num_frames) if num_frames is not None else False)
    if bad_t.any():
        i = int(np.argmax(bad_t))
        limit = f"0..{num_frames - 1}" if num_frames is not None else "a whole number >= 0"
        raise QueryError(f"query {i} ({_fmt(queries[i])}) asks for frame {t[i]:g}; the video has frames {limit}")
    bad_xy = ~(np.isfinite(x) & np.isfinite(y) & inside_extent(queries[:, 1:], h, w))
    if bad_xy.any():
        i = int(np.argmax(bad_xy))
        raise QueryError(f"query {i} ({_fmt(queries[i])}) is outside the {w}x{h} frame; x must be in "
                         f"[-0.5, {w - 0.5:g}] and y in [-0.5, {h - 0.5:g}] pixels (pixel centres at integers)")
    return queries


def _at_frame(xy: np.ndarray, frame: int, image_hw: tuple[int, int], num_frames: int | None) -> np.ndarray:
    queries = np.concatenate([np.full((len(xy), 1), frame, np.float32), xy.astype(np.float32)], axis=1)
    return validate_queries(queries, image_hw, num_frames)


def _check_mask(mask: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    mask = np.asarray(mask).astype(bool)
    if mask.shape != tuple(image_hw):
        raise QueryError(f"the mask is {mask.shape[1]}x{mask.shape[0]} pixels but the frame is "
                         f"{image_hw[1]}x{image_hw[0]}")
    if not mask.any():
        raise QueryError("the mask is empty (no True pixels); nothing to track")
    return mask


def _as_queries(rows: list[tuple[int, float, float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, 3)


def _rows_from_csv(path: Path, default_frame: int) -> list[tuple[int, float, float]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = {name.strip().lower(): name for name in reader.fieldnames or []}
        if "x" not in fields or "y" not in fields:
            raise QueryError(f"{path}: the first line must name the columns, e.g. 't,x,y'; "
                             f"found {reader.fieldnames}")
        frame_key = fields.get("t", fields.get("frame"))
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                t = row[frame_key] if frame_key else default_frame
                rows.append((_whole(t), float(row[fields["x"]]), float(row[fields["y"]])))
            except (TypeError, ValueError):
                raise QueryError(f"{path}, line {line}: cannot read a query from {row}") from None
    return rows


def _rows_from_json(path: Path, default_frame: int) -> list[tuple[int, float, float]]:
    try:
        items = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise QueryError(f"{path} is not valid JSON: {err}") from None
    if isinstance(items, dict) and "queries" in items:
        items = items["queries"]
    if not isinstance(items, list):
        raise QueryError(f"{path}: expected a list of queries such as [\"120,80@0\", {{\"x\": 1, \"y\": 2, \"t\": 0}}]")
    return [_row_from_json_item(item, i, path, default_frame) for i, item in enumerate(items)]


def _row_from_json_item(item: Any, i: int, path: Path, default_frame: int) -> tuple[int, float, float]:
    try:
        if isinstance(item, str):
            return parse_point(item, default_frame)
        if isinstance(item, dict):
            t = item.get("t", item.get("frame", default_frame))
            return _whole(t), float(item["x"]), float(item["y"])
        if isinstance(item, (list, tuple)) and len(item) == 3:
            return _whole(item[0]), float(item[1]), float(item[2])
    except (KeyError, TypeError, ValueError):
        pass
    raise QueryError(f"{path}: query {i} ({item!r}) is not \"X,Y@T\", {{\"x\", \"y\", \"t\"}} or [t, x, y]")


def _whole(value: Any) -> int:
    number = float(value)
    if number != round(number):
        raise ValueError(f"frame {value} is not a whole number")
    return int(round(number))


def _fmt(query: np.ndarray) -> str:
    return f"{query[1]:g},{query[2]:g}@{query[0]:g}"
