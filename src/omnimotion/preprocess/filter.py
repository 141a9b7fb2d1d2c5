"""Cycle-consistency and appearance filtering of all-pairs flow, as the official ``filter_raft.py``
(docs/method.md#cycle-and-appearance-filter).

Shapes and conventions (``omnimotion.coords``): flows are float32 ``[H, W, 2]`` holding (dx, dy) pixels,
``flow_ij[y, x]`` moves pixel (x, y) of frame i to (x+dx, y+dy) in frame j. Masks are bool ``[H, W]`` over
the pixels of frame i. Sampling is bilinear with zero padding (``preprocess.warp``), as the official
``grid_sample(align_corners=True)``.

Per ordered pair (i, j), with ``q = p + f(p)``:

- ``fb = |f(p) + b(q)|``; reliable = ``fb < cycle_th`` (strict, as the official code).
- For ``|i-j| >= 3`` reliable also needs appearance consistency (cosine of features > threshold).
- For ``|i-j| < 3`` a second cycle finds "occluded but reliable" pixels: with ``r = p + f(p) + b(q)``,
  ``|r + f(r) - q| < cycle_th`` and ``fb > 1.5 cycle_th`` and q inside the image.

Outputs (official formats, via ``DataDir``): ``raft_masks/{i}_{j}.png`` (ch0 reliable, ch1 occluded),
``count_maps/{i}.png`` (uint16, pixels of i valid in how many frames j) and ``flow_stats.json``
(valid pixel count per ordered pair). Only pairs whose two flow files exist are filtered and listed, so a
directory made with ``--max_gap`` gets stats for exactly its pairs.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

import numpy as np
from tqdm import tqdm

from omnimotion.coords import inside_image, pixel_grid
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.appearance import Appearance, FeatureStore, resolve_appearance
from omnimotion.preprocess.warp import sample_bilinear
from omnimotion.preprocess.workers import resolve_workers, run_in_workers

__all__ = ["cycle_masks", "filter_frame", "filter_flows", "existing_partners", "run_per_frame",
           "APPEARANCE_MIN_GAP", "OCCLUSION_MAX_GAP"]

logger = logging.getLogger(__name__)

APPEARANCE_MIN_GAP = 3
"""The appearance check applies to pairs at least this many frames apart (official: ``>= 3``)."""
OCCLUSION_MAX_GAP = 3
"""The occlusion second cycle applies to pairs fewer than this many frames apart (official: ``< 3``)."""


def cycle_masks(flow_ij: np.ndarray, flow_ji: np.ndarray, cycle_th: float, gap: int,
                appearance_ok: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(reliable, occluded_reliable), bool ``[H, W]`` each, for the pair i -> j ``gap`` frames apart.

    ``appearance_ok`` (bool ``[H, W]``) is and-ed into ``reliable`` only when ``gap >= 3``. The two masks
    are mutually exclusive (``fb < th`` against ``fb > 1.5 th``).
    """
    height, width = flow_ij.shape[:2]
    grid = pixel_grid(height, width)
    target = grid + flow_ij
    round_trip = flow_ij + sample_bilinear(flow_ji, target)
    fb_error = np.linalg.norm(round_trip, axis=-1)
    reliable = fb_error < cycle_th
    if appearance_ok is not None and gap >= APPEARANCE_MIN_GAP:
        reliable &= appearance_ok
    if gap >= OCCLUSION_MAX_GAP:
        return reliable, np.zeros_like(reliable)
    # Second cycle: an occluded pixel's backward flow lands on the occluder in frame i, whose forward
    # flow leads back to the same point q; then the forward flow of p is trusted though fb is large.
    returned = grid + round_trip
    fbf_error = np.linalg.norm(returned + sample_bilinear(flow_ij, returned) - target, axis=-1)
    occluded = (fbf_error < cycle_th) & (fb_error > 1.5 * cycle_th) & inside_image(target, height, width)
    return reliable, occluded


def existing_partners(data: DataDir, i: int) -> list[int]:
    """Frames j != i for which both ``flow_{i->j}`` and ``flow_{j->i}`` files exist."""
    return [j for j in range(data.num_frames)
            if j != i and data.flow_path(i, j).exists() and data.flow_path(j, i).exists()]


def filter_frame(data: DataDir, i: int, cycle_th: float, store: FeatureStore | None
                 ) -> tuple[int, np.ndarray, dict[str, int]]:
    """Filter every existing pair (i, j); write the masks; return (i, count_map uint16, stats row)."""
    height, width = data.image_hw
    count = np.zeros((height, width), np.uint32)
    stats: dict[str, int] = {}
    grid = pixel_grid(height, width).reshape(-1, 2)
    for j in existing_partners(data, i):
        flow_ij = data.load_flow(i, j)
        gap = abs(i - j)
        reliable, occluded = cycle_masks(flow_ij, data.load_flow(j, i), cycle_th, gap)
        if store is not None and gap >= APPEARANCE_MIN_GAP:
            # Same result as passing appearance_ok to cycle_masks, computed only where it can matter.
            index = np.flatnonzero(reliable)
            target = grid[index] + flow_ij.reshape(-1, 2)[index]
            reliable.reshape(-1)[index] = store.agree(i, grid[index], j, target)
        data.save_mask(i, j, reliable, occluded)
        valid = reliable | occluded
        count += valid
        stats[data.frame_names[j]] = int(valid.sum())
    return i, _to_uint16(count), stats


def filter_flows(data: DataDir, cycle_th: float = 3.0, appearance: Appearance | str | None = None,
                 workers: int | None = None, progress: bool = True) -> None:
    """Filter all existing flows of ``data``: write ``raft_masks/``, ``count_maps/``, ``flow_stats.json``.

    ``appearance``: an ``Appearance``, a kind for ``get_appearance`` ("auto", "embedded", "dino",
    "none") or None (= "auto": DINO features already in ``features/dino`` else the embedded check).
    Memory holds one frame's pairs at a time per worker; features are cached under ``features/``.
    """
    if cycle_th <= 0:
        raise ValueError(f"cycle_th must be a positive number of pixels, got {cycle_th}")
    store = resolve_appearance(data, appearance, progress)
    stats: dict[str, dict[str, int]] = {}
    frames = range(data.num_frames)
    total = sum(len(existing_partners(data, i)) for i in frames)
    with tqdm(total=total, desc="filter", unit="pair", disable=not progress) as bar:
        for i, count, row in run_per_frame(filter_frame, [(data, i, cycle_th, store) for i in frames],
                                           workers):
            data.save_count_map(i, count)
            if row:
                stats[data.frame_names[i]] = row
            bar.update(len(row))
    data.save_flow_stats(stats)
    logger.info("filtered %d pairs of %s (cycle_th %.2f px)", total, data.root, cycle_th)


def run_per_frame(function: Callable, tasks: list[tuple], workers: int | None) -> Iterable:
    """Yield ``function(*task)`` for each task (in completion order), in worker processes when more than one
    worker pays (``preprocess.workers``: Ctrl-C stops them at once, and they die with this process)."""
    workers = resolve_workers(workers, len(tasks))
    if workers <= 1:
        for task in tasks:
            yield function(*task)
        return
    yield from run_in_workers(function, tasks, workers)


def _to_uint16(count: np.ndarray) -> np.ndarray:
    return np.minimum(count, np.iinfo(np.uint16).max).astype(np.uint16)
