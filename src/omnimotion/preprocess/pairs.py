"""Exhaustive optical flow over all ordered frame pairs, resumable and parallel (docs/method.md#all-pairs-flow).

For N frames every ordered pair (i, j), i != j (or only ``|i - j| <= max_gap``) gets
``raft_exhaustive/{name_i}_{name_j}.npy``: float32 ``[H, W, 2]``, (dx, dy) pixels from frame i to frame j
(the official name is kept whatever the backend). Pairs are visited in the official order: forward
i = 0..N-2 with j increasing, then backward i = N-1..1 with j decreasing.

Resume: a pair whose file passes ``DataDir.has_valid_flow`` is reused; a missing, truncated or corrupt
file is recomputed. Each file is written atomically, so Ctrl-C loses at most the pairs in flight.
Memory: a worker holds the frames (read once) and one flow at a time; flows are never gathered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from tqdm import tqdm

from omnimotion.flow.base import FlowBackend
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.workers import resolve_workers, run_in_workers

__all__ = ["pair_schedule", "compute_exhaustive_flows", "FlowRunSummary", "DEFAULT_CHUNK_PAIRS", "ChunkMap"]

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_PAIRS = 8
"""Pairs per task sent to a worker: small enough for a smooth progress bar, large enough to amortise."""

Chunk = tuple[int, list[int]]
ChunkMap = Callable[[Callable[[Chunk], tuple[int, int]], list[Chunk]], Iterable[tuple[int, int]]]
"""``map_chunks(func, chunks)`` -> ``func(chunk)`` (computed, reused) for every chunk ``(i, [j, ...])``, in any
order: runs the chunks elsewhere, e.g. as Ray tasks on several machines (``omnimotion.batch``). Each chunk writes
its own flow files (atomically), so a failed or repeated chunk only redoes its pairs."""


@dataclass(frozen=True)
class FlowRunSummary:
    """What one ``compute_exhaustive_flows`` call did: pairs in the schedule, computed, reused."""

    total: int
    computed: int
    reused: int


def pair_schedule(num_frames: int, max_gap: int | None = None) -> list[tuple[int, list[int]]]:
    """Runs ``(i, [j, ...])`` in the official order, each run's targets moving away from i.

    Forward runs for i = 0..N-2 (j = i+1, i+2, ...), then backward runs for i = N-1..1 (j = i-1, ...).
    With ``max_gap`` only ``|i - j| <= max_gap``. Covers each ordered pair exactly once.
    """
    if max_gap is not None and max_gap < 1:
        raise ValueError(f"max_gap must be at least 1 frame, got {max_gap}")
    gap = num_frames - 1 if max_gap is None else min(max_gap, num_frames - 1)
    forward = [(i, list(range(i + 1, min(i + gap, num_frames - 1) + 1))) for i in range(num_frames - 1)]
    backward = [(i, list(range(i - 1, max(i - gap, 0) - 1, -1))) for i in range(num_frames - 1, 0, -1)]
    return forward + backward


def compute_exhaustive_flows(data: DataDir, backend: FlowBackend, max_gap: int | None = None,
                             workers: int | None = None, progress: bool = True,
                             chunk_pairs: int = DEFAULT_CHUNK_PAIRS,
                             map_chunks: ChunkMap | None = None) -> FlowRunSummary:
    """Compute and save every missing or invalid flow of ``data``; return what was done.

    ``workers`` processes (default ``os.cpu_count()``; 1 runs in this process) each receive a pickled
    copy of ``backend`` and read the frames from ``data.color_dir`` themselves. ``map_chunks``, if given,
    runs the chunks of ``chunk_pairs`` pairs instead (``workers`` is then unused).
    """
    num_frames = data.num_frames
    if num_frames < 2:
        raise ValueError(f"{data.color_dir} holds {num_frames} frame; OmniMotion needs at least 2")
    tasks = [(i, js[k:k + chunk_pairs]) for i, js in pair_schedule(num_frames, max_gap)
             for k in range(0, len(js), chunk_pairs)]
    total = sum(len(js) for _, js in tasks)
    present = sum(1 for i, js in tasks for j in js if data.flow_path(i, j).exists())
    if present:
        logger.info("resuming: %d of %d flow files already exist in %s; valid ones are reused, "
                    "truncated or corrupt ones recomputed", present, total, data.flow_dir)
    workers = resolve_workers(workers, len(tasks))
    computed = 0
    with tqdm(total=total, desc=f"flow ({backend.name})", unit="pair", disable=not progress,
              smoothing=0.1) as bar:
        for done, reused in _run_tasks(data.root, backend, tasks, workers, map_chunks):
            computed += done
            bar.update(done + reused)
            bar.set_postfix(computed=computed, refresh=False)
    summary = FlowRunSummary(total=total, computed=computed, reused=total - computed)
    logger.info("flow: %d pairs computed, %d reused (already valid), %d in total",
                summary.computed, summary.reused, summary.total)
    return summary


def _run_tasks(root: Path, backend: FlowBackend, tasks: list[Chunk], workers: int, map_chunks: ChunkMap | None):
    """Yield (computed, reused) per task; through ``map_chunks``, in this process for one worker, else in
    worker processes (``preprocess.workers``)."""
    if map_chunks is not None:
        yield from map_chunks(_PairWorker(root, backend).run_chunk, tasks)
        return
    if workers == 1:
        worker = _PairWorker(root, backend)
        for i, js in tasks:
            yield worker.run(i, js)
        return
    yield from run_in_workers(_run_in_worker, tasks, workers, initializer=_init_worker, initargs=(root, backend))


class _PairWorker:
    """Computes the flows of one task: frames are read on first use and kept (uint8, bounded by N)."""

    def __init__(self, root: Path, backend: FlowBackend):
        self.data = DataDir(root)
        self.backend = backend
        self.frames: dict[int, np.ndarray] = {}

    def frame(self, index: int) -> np.ndarray:
        if index not in self.frames:
            self.frames[index] = self.data.load_frame(index)
        return self.frames[index]

    def run(self, i: int, js: list[int]) -> tuple[int, int]:
        computed = 0
        for j in js:
            if self.data.has_valid_flow(i, j):
                continue
            self.data.save_flow(i, j, self.backend(self.frame(i), self.frame(j)))
            computed += 1
        return computed, len(js) - computed

    def run_chunk(self, chunk: Chunk) -> tuple[int, int]:
        return self.run(*chunk)


_WORKER: _PairWorker | None = None  # one per worker process, set by _init_worker


def _init_worker(root: Path, backend: FlowBackend) -> None:
    global _WORKER
    _WORKER = _PairWorker(root, backend)


def _run_in_worker(i: int, js: list[int]) -> tuple[int, int]:
    assert _WORKER is not None, "worker process was not initialised"
    return _WORKER.run(i, js)
