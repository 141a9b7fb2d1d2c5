"""TAP-Vid conventions and query sampling: the only place our coordinates meet TAP-Vid's.

Ours (``omnimotion.coords``): points (x, y) in pixels of a ``H x W`` frame with pixel centres at integers;
queries ``[N, 3]`` = (t, x, y); tracks ``[N, T, 2]``; occluded ``[N, T]``, True = occluded.

TAP-Vid: points (x, y) in *raster* pixels of the 256x256 evaluation frame, (0, 0) being the top-left corner
of the top-left pixel, so pixel centres sit at ``i + 0.5``; queries ``[N, 3]`` = (t, y, x). Stored TAP-Vid
points are normalised raster coordinates in [0, 1] (raster pixels = normalised * size).

Conversion, for a frame of ``W x H`` pixels: ``raster_256 = (ours + 0.5) * 256 / W`` (and H for y), i.e. at
256x256 simply ``ours = raster - 0.5``. The half pixel is applied in the frame's own pixels (where centres
are defined), then the raster coordinates are scaled. Files whose points are raster pixels of the stored video
itself (the ``.npz`` evaluation files) convert with ``raster_hw`` = the video's (H, W): ``ours = raster - 0.5``.

Query sampling (docs/method.md#query-sampling) works on ground truth in either convention (it only copies points):
``first`` queries each track once, at its first visible frame; ``strided`` queries every track visible at
frames 0, stride, 2*stride, ..., duplicating its ground truth per query and recording ``trackgroup``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from omnimotion.coords import resize_points

__all__ = ["EVAL_SIZE", "QuerySet", "pixels_to_raster", "raster_to_pixels", "normalized_to_pixels",
           "queries_to_tapvid", "queries_from_tapvid", "sample_queries", "sample_queries_first",
           "sample_queries_strided"]

EVAL_SIZE = 256  # TAP-Vid scores every benchmark in 256x256 raster pixels


class QuerySet(NamedTuple):
    """Queries sampled from ground truth, in our conventions.

    queries ``[Q, 3]`` (t, x, y) float32; tracks ``[Q, T, 2]`` ground truth of each query's track;
    occluded ``[Q, T]``; trackgroup ``[Q]`` index of the source track; valid ``[Q, T]`` annotated frames
    (all True when the dataset has no such mask).
    """

    queries: np.ndarray
    tracks: np.ndarray
    occluded: np.ndarray
    trackgroup: np.ndarray
    valid: np.ndarray


def pixels_to_raster(points: np.ndarray, height: int, width: int,
                     raster_hw: tuple[int, int] = (EVAL_SIZE, EVAL_SIZE)) -> np.ndarray:
    """Our pixels ``[..., 2]`` (x, y) of a ``H x W`` frame -> TAP-Vid raster pixels of a ``raster_hw`` frame."""
    # Raster coordinates are our pixel coordinates of the resized frame, plus half a pixel.
    return resize_points(np.asarray(points, dtype=np.float64), (height, width), tuple(raster_hw)) + 0.5


def raster_to_pixels(points: np.ndarray, height: int, width: int,
                     raster_hw: tuple[int, int] = (EVAL_SIZE, EVAL_SIZE)) -> np.ndarray:
    """TAP-Vid raster pixels ``[..., 2]`` (x, y) of a ``raster_hw`` frame -> our pixels of a ``H x W`` frame."""
    return resize_points(np.asarray(points, dtype=np.float64) - 0.5, tuple(raster_hw), (height, width))


def normalized_to_pixels(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Stored TAP-Vid points ``[..., 2]`` (x, y) in [0, 1] -> our pixels of a ``H x W`` frame."""
    return raster_to_pixels(points, height, width, raster_hw=(1, 1))


def queries_to_tapvid(queries: np.ndarray, height: int, width: int) -> np.ndarray:
    """Our queries ``[..., 3]`` (t, x, y) of a ``H x W`` frame -> TAP-Vid ``[..., 3]`` (t, y, x), 256 raster."""
    queries = np.asarray(queries, dtype=np.float64)
    xy = pixels_to_raster(queries[..., 1:3], height, width)
    return np.stack([queries[..., 0], xy[..., 1], xy[..., 0]], axis=-1)


def queries_from_tapvid(queries: np.ndarray, height: int, width: int) -> np.ndarray:
    """TAP-Vid queries ``[..., 3]`` (t, y, x), 256 raster -> ours ``[..., 3]`` (t, x, y) pixels of ``H x W``."""
    queries = np.asarray(queries, dtype=np.float64)
    xy = raster_to_pixels(queries[..., [2, 1]], height, width)
    return np.concatenate([queries[..., :1], xy], axis=-1)


def sample_queries_first(tracks: np.ndarray, occluded: np.ndarray,
                         valid: np.ndarray | None = None) -> QuerySet:
    """One query per track at its first visible (and annotated) frame; tracks never visible are dropped."""
    tracks, occluded, valid = _check_gt(tracks, occluded, valid)
    usable = ~occluded & valid
    keep = np.flatnonzero(usable.any(axis=1))
    frames = np.argmax(usable[keep], axis=1)
    return _make_query_set(tracks, occluded, valid, keep, frames)


def sample_queries_strided(tracks: np.ndarray, occluded: np.ndarray, valid: np.ndarray | None = None,
                           stride: int = 5) -> QuerySet:
    """A query at every frame ``0, stride, 2*stride, ...`` where the track is visible (and annotated)."""
    if stride < 1:
        raise ValueError(f"query stride must be >= 1, got {stride}")
    tracks, occluded, valid = _check_gt(tracks, occluded, valid)
    usable = ~occluded & valid
    track_ids, frames = [], []
    for frame in range(0, tracks.shape[1], stride):  # frame-major order, as the TAP-Vid reader
        ids = np.flatnonzero(usable[:, frame])
        track_ids.append(ids)
        frames.append(np.full(ids.shape, frame))
    return _make_query_set(tracks, occluded, valid, np.concatenate(track_ids).astype(np.int64),
                           np.concatenate(frames).astype(np.int64))


def sample_queries(tracks: np.ndarray, occluded: np.ndarray, query_mode: str,
                   valid: np.ndarray | None = None, stride: int = 5) -> QuerySet:
    """Dispatch on ``query_mode`` ("first" or "strided")."""
    if query_mode == "first":
        return sample_queries_first(tracks, occluded, valid)
    if query_mode == "strided":
        return sample_queries_strided(tracks, occluded, valid, stride)
    raise ValueError(f"query_mode must be 'first' or 'strided', got {query_mode!r}")


def _make_query_set(tracks, occluded, valid, track_ids: np.ndarray, frames: np.ndarray) -> QuerySet:
    points = tracks[track_ids, frames]
    queries = np.concatenate([frames[:, None].astype(np.float32), points.astype(np.float32)], axis=1)
    return QuerySet(queries.reshape(-1, 3), tracks[track_ids], occluded[track_ids], track_ids,
                    valid[track_ids])


def _check_gt(tracks, occluded, valid):
    tracks = np.asarray(tracks)
    occluded = np.asarray(occluded, dtype=bool)
    if tracks.ndim != 3 or tracks.shape[2] != 2 or occluded.shape != tracks.shape[:2]:
        raise ValueError(f"ground truth must be tracks [N, T, 2] and occluded [N, T], got {tracks.shape} and "
                         f"{occluded.shape}")
    valid = np.ones_like(occluded) if valid is None else np.asarray(valid, dtype=bool)
    if valid.shape != occluded.shape:
        raise ValueError(f"valid mask {valid.shape} must match occluded {occluded.shape}")
    return tracks, occluded, valid
