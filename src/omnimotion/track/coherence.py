"""Coherent continuation: where the flow stops vouching for a point, it moves on with the neighbours that moved
with it until then.

A query point's chained flow from its query frame q is reliable (``omnimotion.track.evidence``) up to some
frame b, then it breaks: the point was hidden for a moment, or the flow slipped onto another surface (a fence
post passing in front of a rider's leg takes the leg's chain with it). Its neighbours in frame q whose chains
stayed reliable up to b, and whose offset from the point stayed within ``AGREEMENT_PX`` of their offset in
frame q at every frame from q to b, moved with the point's surface. After b the point moves frame by frame by
their weighted mean motion (Gaussian weights of their distance to the point in frame q, scale ``SIGMA_PX``),
counting at each step only the neighbours the flow still vouches for at both frames. The continuation stops
where fewer than ``MIN_SUPPORT`` of them are left, or where the data directory has no files for the pair.

This is the spatial coherence that OmniMotion's smooth bijections are meant to supply, read off the chained
flows of the whole neighbourhood rather than learned.

Shapes and units: queries ``[N, 3]`` (t, x, y) and positions ``[N, T, 2]`` (x, y) in pixels of the data
directory's frames; ``reliable [N, T]`` and ``points [N, T, 2]`` as :class:`omnimotion.track.evidence.FlowEvidence`.
"""

from __future__ import annotations

import numpy as np

from omnimotion.io.datadir import DataDir

__all__ = ["coherent_continuation", "RADIUS_PX", "AGREEMENT_PX", "SIGMA_PX", "MIN_SUPPORT"]

RADIUS_PX = 24  # neighbours of the point in its query frame, at 256 px (scaled with the longer image side)
AGREEMENT_PX = 3.0  # largest change of a neighbour's offset from the point while both were vouched for
SIGMA_PX = 10.0  # Gaussian weight scale of a neighbour's distance to the point, at 256 px
MIN_SUPPORT = 3  # fewer vouched-for neighbours than this end the continuation
MIN_HISTORY = 2  # frames the flow must have vouched for the point, so that its neighbours' motion could differ


def coherent_continuation(data: DataDir, queries: np.ndarray, reliable: np.ndarray,
                          points: np.ndarray) -> np.ndarray:
    """Positions ``[N, T, 2]`` where the flow does not vouch for query n at frame k but its coherent
    neighbours carry it on (NaN elsewhere, and at every frame the flow vouches for)."""
    queries = np.asarray(queries, np.float32).reshape(-1, 3)
    carried = np.full((len(queries), data.num_frames, 2), np.nan, np.float32)
    frames = queries[:, 0].astype(np.int64)
    for source in np.unique(frames):
        rows = np.flatnonzero(frames == source)
        for direction in (1, -1):
            part = carried[rows]
            _carry(data, int(source), direction, queries[rows, 1:], reliable[rows], points[rows], part)
            carried[rows] = part
    return carried


class _Neighbours:
    """The pixels of frame q within the radius of each point: ``owner [M]`` (which point), ``pixel [M, 2]``
    (x, y) integer positions, ``offset [M, 2]`` from the point, ``weight [M]``."""

    def __init__(self, xy: np.ndarray, image_hw: tuple[int, int]):
        height, width = image_hw
        scale = max(image_hw) / 256
        radius = max(1, int(round(RADIUS_PX * scale)))
        dy, dx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
        disc = dx ** 2 + dy ** 2 <= radius ** 2
        steps = np.stack([dx[disc], dy[disc]], -1)
        centre = np.rint(xy).astype(np.int64)
        pixel = (centre[:, None, :] + steps[None]).reshape(-1, 2)
        owner = np.repeat(np.arange(len(xy)), len(steps))
        inside = (pixel[:, 0] >= 0) & (pixel[:, 0] < width) & (pixel[:, 1] >= 0) & (pixel[:, 1] < height)
        self.owner, self.pixel = owner[inside], pixel[inside]
        self.offset = (self.pixel - xy[self.owner]).astype(np.float32)
        sigma = SIGMA_PX * scale
        self.weight = np.exp(-(self.offset ** 2).sum(-1) / (2 * sigma ** 2)).astype(np.float32)

    def follow(self, flow: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``[M, 2]`` and reliability ``[M]`` of the neighbours under one (q -> k) flow and mask."""
        xs, ys = self.pixel[:, 0], self.pixel[:, 1]
        return self.pixel + flow[ys, xs], mask[ys, xs]


def _carry(data: DataDir, source: int, direction: int, xy: np.ndarray, reliable: np.ndarray,
           points: np.ndarray, carried: np.ndarray) -> None:
    """Fill ``carried [n, T, 2]`` for the points ``xy [n, 2]`` of frame ``source`` going one way."""
    count = len(xy)
    neighbours = _Neighbours(xy, data.image_hw)
    drift = np.zeros(len(neighbours.owner), np.float32)  # largest offset change while the point was vouched for
    previous, previous_ok = neighbours.pixel.astype(np.float32), np.ones(len(neighbours.owner), bool)
    position = xy.astype(np.float32).copy()
    following = np.zeros(count, bool)  # the point is carried by its neighbours now
    ended = np.zeros(count, bool)  # not carried (any more); it waits for the flow to vouch again
    history = np.zeros(count, np.int64)  # frames in a row the flow has vouched for the point, before this one
    supporters = np.zeros(len(neighbours.owner), bool)
    for target in range(source + direction, data.num_frames if direction > 0 else -1, direction):
        if not data.mask_path(source, target).exists():
            return
        at, ok = neighbours.follow(data.load_flow(source, target), data.load_mask(source, target)[0])
        vouched = reliable[:, target]
        held = vouched[neighbours.owner] & ok
        own = np.where(vouched[:, None], points[:, target], 0)[neighbours.owner]
        drift[held] = np.maximum(drift[held], np.linalg.norm(at[held] - own[held] - neighbours.offset[held], axis=-1))
        breaking = ~vouched & ~following & ~ended
        ended |= breaking & (history < MIN_HISTORY)
        breaking &= ~ended
        history = np.where(vouched, history + 1, 0)
        supporters[breaking[neighbours.owner]] = ((drift < AGREEMENT_PX) & previous_ok)[breaking[neighbours.owner]]
        following = (following | breaking) & ~vouched
        using = supporters & following[neighbours.owner] & ok & previous_ok
        step, support = _weighted_mean_step(neighbours, using, at - previous, count)
        ended = (ended | (following & (support < MIN_SUPPORT))) & ~vouched
        following &= ~ended
        position = np.where(vouched[:, None], points[:, target], position)
        position[following] += step[following]
        carried[following, target] = position[following]
        previous, previous_ok = at, ok


def _weighted_mean_step(neighbours: _Neighbours, using: np.ndarray, motion: np.ndarray,
                        count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per point: the weighted mean ``[n, 2]`` of its used neighbours' motion, and how many were used ``[n]``."""
    owner, weight = neighbours.owner[using], neighbours.weight[using]
    total = np.bincount(owner, weight, minlength=count)
    step = np.stack([np.bincount(owner, weight * motion[using, axis], minlength=count) for axis in (0, 1)], -1)
    support = np.bincount(owner, minlength=count)
    return (step / np.maximum(total, 1e-12)[:, None]).astype(np.float32), support
