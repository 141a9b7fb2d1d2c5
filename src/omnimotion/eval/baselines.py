"""Optical-flow baselines for comparison: chained flow ("RAFT-C") and direct flow ("RAFT-D").

Both take ``video`` uint8 ``[T, H, W, 3]`` and queries ``[N, 3]`` = (t, x, y) pixels (``omnimotion.coords``)
and return tracks float32 ``[N, T, 2]`` (x, y) pixels and occluded bool ``[N, T]`` (True = occluded). Every
flow is ``flow[y, x] = (dx, dy)`` pixels from frame i to frame j, sampled bilinearly at float positions
(positions are clamped into the image first, so a point at the border reads the border's flow).

- Chained: from each query frame, step frame to frame with the consecutive flows, forwards and backwards.
- Direct: one flow from the query frame q straight to every frame j.

Occlusion, for both as in the OmniMotion paper's flow baselines: a point is occluded at frame j when going
back from its position at j to frame q (through the reverse consecutive flows for chain, the reverse flow
``F_{j->q}`` for direct) misses the query point by more than ``cycle_th_px``, or when it lies outside the
image. The query frame itself is never occluded.

Each needed flow is computed once per call (:class:`FlowCache`); consecutive flows may be read from a prepared
data directory (its long-range ``raft_exhaustive`` flows may have been overwritten by chaining during
preprocessing, so only gap-1 flows are reused and direct flow recomputes the rest).

Default threshold: the paper's 48 px. Lower thresholds trade occlusion accuracy for a little AJ; <delta_avg and
TC do not depend on it (a sweep: ``benchmarks/bench_eval_baselines.py``, figures in benchmarks/NOTES.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnimotion.coords import inside_image
from omnimotion.flow import get_backend
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.warp import sample_bilinear

__all__ = ["FlowCache", "chain_tracks", "direct_tracks", "CYCLE_TH_PX"]

CYCLE_TH_PX = 48.0


class FlowCache:
    """Flows of one video, computed on first use and kept: ``cache(i, j)`` -> float32 ``[H, W, 2]``.

    ``backend`` is a flow backend (``omnimotion.flow.get_backend``); with ``datadir``, gap-1 flows found in its
    ``raft_exhaustive/`` folder are loaded instead of computed.
    """

    def __init__(self, video: np.ndarray, backend, datadir: str | Path | None = None):
        self.video = video
        self.backend = backend
        self.datadir = DataDir(datadir) if datadir is not None else None
        self._flows: dict[tuple[int, int], np.ndarray] = {}
        self.num_computed = 0
        self.num_loaded = 0

    def __call__(self, i: int, j: int) -> np.ndarray:
        key = (int(i), int(j))
        if key not in self._flows:
            self._flows[key] = self._load_or_compute(*key)
        return self._flows[key]

    def _load_or_compute(self, i: int, j: int) -> np.ndarray:
        if self.datadir is not None and abs(i - j) == 1 and self.datadir.flow_path(i, j).exists():
            flow = self.datadir.load_flow(i, j)
            if flow.shape[:2] == self.video.shape[1:3]:
                self.num_loaded += 1
                return flow
        self.num_computed += 1
        return self.backend(self.video[i], self.video[j])


def _advect(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Move pixel points ``[M, 2]`` by the flow sampled at their (clamped) positions."""
    height, width = flow.shape[:2]
    clamped = np.clip(points, 0, [width - 1, height - 1])
    return points + sample_bilinear(flow, clamped)


def _check_inputs(video: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
        raise ValueError(f"video must be uint8 [T, H, W, 3], got {video.dtype} {video.shape}")
    queries = np.asarray(queries, dtype=np.float64)
    if queries.ndim != 2 or queries.shape[1] != 3:
        raise ValueError(f"queries must be [N, 3] rows of (t, x, y), got {queries.shape}")
    frames = np.round(queries[:, 0])
    if queries.size and (frames.min() < 0 or frames.max() >= len(video)):
        raise ValueError(f"query frames must lie in [0, {len(video) - 1}], got [{frames.min()}, {frames.max()}]")
    return queries


def _setup(video: np.ndarray, queries: np.ndarray, flows: FlowCache | None
           ) -> tuple[np.ndarray, FlowCache, np.ndarray]:
    """Checked queries, the flow source (default: DIS on demand) and each query's integer frame."""
    queries = _check_inputs(video, queries)
    flows = flows if flows is not None else FlowCache(video, get_backend("dis"))
    return queries, flows, np.round(queries[:, 0]).astype(int)


def chain_tracks(video: np.ndarray, queries: np.ndarray, flows: FlowCache | None = None,
                 cycle_th_px: float = CYCLE_TH_PX) -> tuple[np.ndarray, np.ndarray]:
    """Chained consecutive flows from each query frame, forwards and backwards (see module docstring).

    ``flows``: where flows come from (default: DIS flow computed on demand).
    """
    queries, flows, start = _setup(video, queries, flows)
    num_frames, height, width = video.shape[:3]
    rows = np.arange(len(queries))
    tracks = np.zeros((len(queries), num_frames, 2))
    tracks[rows, start] = queries[:, 1:]
    frames = np.arange(num_frames)
    # Each sweep moves every (query, frame) path that is at frame t one frame on, all at once: first the
    # tracks away from their query frames, then the return paths from every frame back to the query frame.
    for t in range(num_frames - 1):
        _advect_paths(tracks, (start <= t)[:, None] & (frames == t + 1)[None], t, t + 1, flows, source=t)
    for t in range(num_frames - 1, 0, -1):
        _advect_paths(tracks, (start >= t)[:, None] & (frames == t - 1)[None], t, t - 1, flows, source=t)
    returned = tracks.copy()
    for t in range(num_frames - 1, 0, -1):  # paths from frames j >= t after the query frame, now at t
        _advect_paths(returned, (start < t)[:, None] & (frames >= t)[None], t, t - 1, flows)
    for t in range(num_frames - 1):  # paths from frames j <= t before the query frame, now at t
        _advect_paths(returned, (start > t)[:, None] & (frames <= t)[None], t, t + 1, flows)
    error = np.linalg.norm(returned - queries[:, None, 1:], axis=-1)
    return tracks.astype(np.float32), _occlusion(error, tracks, start, cycle_th_px, height, width)


def _advect_paths(points: np.ndarray, mask: np.ndarray, t: int, nxt: int, flows: FlowCache,
                  source: int | None = None) -> None:
    """Advect the selected paths ``points[mask]`` from frame t to ``nxt`` in place.

    With ``source``, the selected entries are new frames filled from the same row's frame ``source``.
    """
    if not mask.any():
        return
    rows, cols = np.nonzero(mask)
    origin = points[rows, source] if source is not None else points[rows, cols]
    points[rows, cols] = _advect(flows(t, nxt), origin)


def _occlusion(error: np.ndarray, tracks: np.ndarray, start: np.ndarray, cycle_th_px: float, height: int,
               width: int) -> np.ndarray:
    """Occluded where the q -> j -> q cycle misses by more than the threshold or the point left the image."""
    occluded = (error > cycle_th_px) | ~inside_image(tracks, height, width)
    occluded[np.arange(len(start)), start] = False
    return occluded


def direct_tracks(video: np.ndarray, queries: np.ndarray, flows: FlowCache | None = None,
                  cycle_th_px: float = CYCLE_TH_PX) -> tuple[np.ndarray, np.ndarray]:
    """Flow from each query frame straight to every frame, with a cycle check (see module docstring).

    ``flows``: where flows come from (default: DIS flow computed on demand).
    """
    queries, flows, start = _setup(video, queries, flows)
    num_frames, height, width = video.shape[:3]
    tracks = np.zeros((len(queries), num_frames, 2))
    error = np.zeros((len(queries), num_frames))
    for frame in np.unique(start):
        group = np.flatnonzero(start == frame)
        points = queries[group, 1:]
        tracks[group, frame] = points
        for j in range(num_frames):
            if j != frame:
                tracks[group, j] = _advect(flows(frame, j), points)
                returned = _advect(flows(j, frame), tracks[group, j])
                error[group, j] = np.linalg.norm(returned - points, axis=-1)
    return tracks.astype(np.float32), _occlusion(error, tracks, start, cycle_th_px, height, width)
