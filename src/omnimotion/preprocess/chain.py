"""Chaining of cycle-consistent consecutive flows into long-range correspondences (docs/method.md#chaining).

Conventions as ``preprocess.filter``: flows float32 ``[H, W, 2]`` (dx, dy) px over the pixels of the start
frame i; masks bool ``[H, W]``; bilinear zero-padded sampling from ``preprocess.warp``.

For a start frame i and targets j = i+1, i+2, ... (forward pass; backward pass j = i-1, i-2, ...) an
accumulated flow ``A`` and validity ``V`` start from ``flow_{i->i+1}`` and its reliable mask. At each j,
with the direct flow ``D = flow_{i->j}`` and its masks ``C`` (reliable) and ``O`` (occluded-but-reliable):

1. appearance: ``V`` pixels stay valid only where the features (cosine > threshold) and the RGB colour
   (``|I_i(p) - I_j(q)| < 0.3``, RGB in [0, 1]) agree at ``q = p + A(p)``.
2. (only for pairs at most ``direct_max_gap`` apart; default: all, as official)
   ``prefer="direct"`` (official): ``A = D`` where ``C | O``; valid = chained-valid outside ``C | O``, plus
   ``C``; ch1 = ``O``. ``prefer="chain"``: where the chain is still valid its flow is kept (a direct flow
   only fills pixels where the chain broke); valid = chained-valid ``| C``; ch1 = ``O`` minus those pixels.
3. write ``raft_exhaustive/{i}_{j}.npy = A`` (all pixels) and the mask; count ``valid | ch1``.
4. advance: ``A += flow_{j->j+1}(q)``; ``V`` keeps pixels whose four neighbours at q are reliable in
   ``mask_{j->j+1}`` and inside the image (the official "sampled mask == 1", with a float tolerance).

Gap-1 pairs come out identical to their input (``A = D``, valid = ``C``), so they are not rewritten.

Caveat (not idempotent): chaining overwrites the direct flows in place, as the official code does, so a
second run, or filtering after chaining, would start from chained flows. ``omnimotion prepare`` keeps a
stage record so chaining runs once; re-run the flow stage before chaining again.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterator, NamedTuple

import numpy as np
from tqdm import tqdm

from omnimotion.coords import pixel_grid
from omnimotion.io.datadir import DataDir, DataDirError
from omnimotion.preprocess.appearance import Appearance, FeatureStore, resolve_appearance
from omnimotion.preprocess.filter import run_per_frame
from omnimotion.preprocess.warp import sample_bilinear

__all__ = ["ChainLink", "chain_links", "chain_flows", "RGB_THRESHOLD", "PREFER_CHOICES"]

logger = logging.getLogger(__name__)

RGB_THRESHOLD = 0.3
"""Largest RGB distance (colours in [0, 1]) between p in frame i and its chained match in frame j."""
PREFER_CHOICES = ("direct", "chain")
_MASK_ONE = 1.0 - 1e-5  # "sampled mask == 1" without float rounding dropping interior pixels

# (j, accumulated_flow) -> (direct_flow, reliable, occluded) of pair (i, j), or None if it does not exist
DirectSource = Callable[[int], "tuple[np.ndarray, np.ndarray, np.ndarray] | None"]
# (j, points [n, 2], pixel indices of those points in frame i) -> bool [n] appearance agreement
AppearanceCheck = Callable[[int, np.ndarray, np.ndarray], np.ndarray]
# j -> (flow_{j->next}, reliable_{j->next})
StepSource = Callable[[int], "tuple[np.ndarray, np.ndarray]"]


class ChainLink(NamedTuple):
    """The chained result for the pair (i, j); arrays over the pixels of frame i."""

    j: int
    flow: np.ndarray
    """float32 ``[H, W, 2]`` (dx, dy) px, every pixel (valid or not), as the official file."""
    reliable: np.ndarray
    """bool ``[H, W]``, mask channel 0."""
    occluded: np.ndarray
    """bool ``[H, W]``, mask channel 1 (occluded but reliable direct flow)."""


def chain_links(targets: list[int], start_flow: np.ndarray, start_reliable: np.ndarray,
                direct: DirectSource, step: StepSource, check: AppearanceCheck | None,
                prefer: str = "direct", direct_max_gap: int | None = None) -> Iterator[ChainLink]:
    """Yield a ChainLink per target j (in order) whose direct flow exists or lies beyond ``direct_max_gap``;
    pure given the callables.

    ``targets`` are i+1, i+2, ... (or i-1, i-2, ...); ``step(j)`` gives the consecutive flow and mask from
    j to the next target. Targets within ``direct_max_gap`` without a direct flow are chained through but
    not yielded. ``direct_max_gap``: direct flows of pairs farther apart are not read (the output is the
    chain alone, so they need not exist); None trusts all (official). 1 gives pure checked chains.
    """
    if prefer not in PREFER_CHOICES:
        raise ValueError(f"prefer must be one of {PREFER_CHOICES}, got {prefer!r}")
    grid = pixel_grid(*start_flow.shape[:2])
    flow = start_flow.astype(np.float32, copy=True)
    valid = start_reliable.copy()
    for position, j in enumerate(targets):
        if check is not None and valid.any():
            index = np.flatnonzero(valid)
            points = grid.reshape(-1, 2)[index] + flow.reshape(-1, 2)[index]
            valid.reshape(-1)[index] = check(j, points, index)
        if _chain_only(position, direct_max_gap):
            yield ChainLink(j, flow.copy(), valid.copy(), np.zeros_like(valid))
        elif (pair := direct(j)) is not None:
            direct_flow, reliable, occluded = pair
            use_direct = reliable | occluded
            if prefer == "chain":
                use_direct &= ~valid
            flow[use_direct] = direct_flow[use_direct]
            valid = (valid & ~use_direct) | (reliable & use_direct)
            yield ChainLink(j, flow.copy(), valid.copy(), occluded & use_direct)
        if position + 1 < len(targets):
            next_flow, next_reliable = step(j)
            points = grid + flow
            flow += sample_bilinear(next_flow, points)
            valid &= sample_bilinear(next_reliable.astype(np.float32), points) >= _MASK_ONE


def chain_flows(data: DataDir, appearance: Appearance | str | None = None, workers: int | None = None,
                progress: bool = True, prefer: str = "direct", direct_max_gap: int | None = None,
                max_gap: int | None = None) -> None:
    """Chain all existing pairs of ``data`` in place: flows, masks, count maps and flow_stats.

    Needs the filter's masks and every consecutive flow. ``appearance`` as in ``filter_flows``;
    ``prefer`` and ``direct_max_gap`` as in ``chain_links`` (defaults: official behaviour). With
    ``direct_max_gap``, every pair at most ``max_gap`` apart (None: all) is written, whether or not its
    direct flow exists: the flow stage need only compute the pairs within ``direct_max_gap``.
    See the module docstring for the not-idempotent caveat.
    """
    if prefer not in PREFER_CHOICES:
        raise ValueError(f"prefer must be one of {PREFER_CHOICES}, got {prefer!r}")
    num = data.num_frames
    for i in range(num - 1):
        for a, b in ((i, i + 1), (i + 1, i)):
            if not data.flow_path(a, b).exists() or not data.mask_path(a, b).exists():
                raise DataDirError(f"chaining needs the consecutive flow and mask {data.pair_name(a, b)}; "
                                   f"run the flow and filter stages first ('omnimotion prepare')")
    store = resolve_appearance(data, appearance, progress)
    if direct_max_gap is not None and direct_max_gap < 1:
        raise ValueError(f"direct_max_gap must be at least 1 (or None), got {direct_max_gap}")
    tasks = [(data, i, direction, store, prefer, direct_max_gap, max_gap) for direction in (1, -1)
             for i in (range(num - 1) if direction == 1 else range(num - 1, 0, -1))]
    total = sum(_count_outputs(data, i, direction, direct_max_gap, max_gap)
                for _, i, direction, *_ in tasks)
    counts = np.zeros((num,) + data.image_hw, np.uint32)
    stats: dict[str, dict[str, int]] = {}
    with tqdm(total=total, desc=f"chain ({prefer})", unit="pair", disable=not progress) as bar:
        for i, count, row in run_per_frame(chain_start, tasks, workers):
            counts[i] += count
            if row:
                stats.setdefault(data.frame_names[i], {}).update(row)
            bar.update(len(row))
    for i in range(num):
        data.save_count_map(i, np.minimum(counts[i], np.iinfo(np.uint16).max))
    data.save_flow_stats(stats)
    logger.info("chained %d pairs of %s (prefer %s)", total, data.root, prefer)


def chain_start(data: DataDir, i: int, direction: int, store: FeatureStore | None, prefer: str,
                direct_max_gap: int | None = None, max_gap: int | None = None
                ) -> tuple[int, np.ndarray, dict[str, int]]:
    """One pass from start frame i (direction +1 forward, -1 backward); writes its pairs' outputs.

    ``max_gap``: with ``direct_max_gap``, chain to every frame at most this far (None: to the video's end).
    """
    targets, existing = _targets(data, i, direction, direct_max_gap, max_gap)
    image_i = data.load_frame(i).reshape(-1, 3).astype(np.float32) / 255.0
    grid = pixel_grid(*data.image_hw).reshape(-1, 2)

    def direct(j: int):
        if j not in existing:
            return None
        return (data.load_flow(i, j),) + data.load_mask(i, j)

    def step(j: int):
        return data.load_flow(j, j + direction), data.load_mask(j, j + direction)[0]

    def check(j: int, points: np.ndarray, index: np.ndarray) -> np.ndarray:
        colour = sample_bilinear(data.load_frame(j).astype(np.float32) / 255.0, points)
        ok = np.linalg.norm(image_i[index] - colour, axis=-1) < RGB_THRESHOLD
        if store is not None:
            ok[ok] = store.agree(i, grid[index[ok]], j, points[ok])
        return ok

    count = np.zeros(data.image_hw, np.uint32)
    stats: dict[str, int] = {}
    start_flow = data.load_flow(i, i + direction)
    start_reliable = data.load_mask(i, i + direction)[0]
    for j, flow, reliable, occluded in chain_links(targets, start_flow, start_reliable, direct, step,
                                                   check, prefer, direct_max_gap):
        if abs(j - i) > 1:  # gap-1 outputs equal their inputs (module docstring)
            data.save_flow(i, j, flow)
            data.save_mask(i, j, reliable, occluded)
        count += reliable | occluded
        stats[data.frame_names[j]] = int((reliable | occluded).sum())
    return i, count, stats


def _targets(data: DataDir, i: int, direction: int, direct_max_gap: int | None = None,
             max_gap: int | None = None) -> tuple[list[int], set[int]]:
    """Targets from i in ``direction`` and those with an existing direct pair.

    Official (no ``direct_max_gap``): up to the farthest existing direct pair. With ``direct_max_gap``:
    every frame at most ``max_gap`` away (chains need no direct flow there).
    """
    end = data.num_frames if direction == 1 else -1
    candidates = list(range(i + direction, end, direction))
    existing = {j for j in candidates if data.flow_path(i, j).exists() and data.mask_path(i, j).exists()}
    if direct_max_gap is not None:
        return candidates[:max_gap], existing
    if not existing:
        return [], existing
    farthest = max(existing, key=lambda j: abs(j - i))
    return candidates[:candidates.index(farthest) + 1], existing


def _chain_only(position: int, direct_max_gap: int | None) -> bool:
    """Whether the target ``position + 1`` frames away takes the chain alone, reading no direct flow."""
    return direct_max_gap is not None and position + 1 > direct_max_gap


def _count_outputs(data: DataDir, i: int, direction: int, direct_max_gap: int | None, max_gap: int | None) -> int:
    """How many pairs the pass from frame i writes (the links ``chain_links`` yields; for the progress bar)."""
    targets, existing = _targets(data, i, direction, direct_max_gap, max_gap)
    return sum(1 for position, j in enumerate(targets) if _chain_only(position, direct_max_gap) or j in existing)
