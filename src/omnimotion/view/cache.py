"""The viewer's bounded caches: tracks per query, and the flow files the flow evidence reads.

Both only spare repeated work: what they return equals what would be computed or read again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from omnimotion.io.datadir import DataDir
from omnimotion.track.tracks import Tracks

__all__ = ["TrackCache", "CachedDataDir", "CACHE_POINTS", "CACHE_FLOW_BYTES"]

CACHE_POINTS = 200_000
"""Tracks kept for reuse (about 9 bytes per point and frame: 58 MB at 32 frames)."""
CACHE_FLOW_BYTES = 256 * 2**20
"""Flows and masks kept in memory: the files of 8 query frames of a 32-frame 256x256 run."""


class TrackCache:
    """Least-recently-used store of per-query tracks: (t, x, y) -> (track ``[T, 2]``, occluded ``[T]``)."""

    def __init__(self, capacity: int = CACHE_POINTS):
        self.capacity = int(capacity)
        self._rows: OrderedDict[tuple[float, float, float], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()  # the server's threads share it

    def get(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        key = _key(query)
        with self._lock:
            row = self._rows.get(key)
            if row is not None:
                self._rows.move_to_end(key)
        return row

    def put(self, tracks: Tracks) -> None:
        with self._lock:
            for query, track, occluded in zip(tracks.queries, tracks.tracks, tracks.occluded):
                self._rows[_key(query)] = (track, occluded)
                self._rows.move_to_end(_key(query))
            while len(self._rows) > self.capacity:
                self._rows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._rows)


class CachedDataDir(DataDir):
    """A ``DataDir`` that keeps the flows and masks it loaded (least recently used first out, at most
    ``max_bytes``), read-only, so that the flow evidence of a second point on a frame reads no file.

    A click costs about 2/3 of its time reading and decoding the flow files of its query frame (profiled on
    a 32-frame 256x256 run), and people click several points on the frame they stopped at.
    """

    def __init__(self, root: str | Path, max_bytes: int = CACHE_FLOW_BYTES):
        super().__init__(root)
        self.max_bytes = int(max_bytes)
        self._arrays: OrderedDict[tuple, tuple[np.ndarray, ...]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def load_flow(self, i: int, j: int) -> np.ndarray:
        return self._cached(("flow", i, j), lambda: (super(CachedDataDir, self).load_flow(i, j),))[0]

    def load_mask(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        return self._cached(("mask", i, j), lambda: super(CachedDataDir, self).load_mask(i, j))

    def _cached(self, key: tuple, load) -> tuple[np.ndarray, ...]:
        with self._lock:
            if key in self._arrays:
                self._arrays.move_to_end(key)
                return self._arrays[key]
        arrays = tuple(load())
        for array in arrays:
            array.setflags(write=False)
        with self._lock:
            if key not in self._arrays:
                self._arrays[key] = arrays
                self._bytes += sum(array.nbytes for array in arrays)
            while self._bytes > self.max_bytes and len(self._arrays) > 1:
                _, dropped = self._arrays.popitem(last=False)
                self._bytes -= sum(array.nbytes for array in dropped)
        return arrays


def _key(query: np.ndarray) -> tuple[float, float, float]:
    return float(query[0]), float(query[1]), float(query[2])
