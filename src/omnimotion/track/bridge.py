"""Bridging flows: flows between frames a few apart (``BRIDGE_GAPS``), which pick a point up again where its
chain broke.

A chain of consecutive flows stops vouching for a point when one step fails its cycle check: a thin post
passes in front of it for a frame, or motion blur spoils one pair. A flow that skips that frame, from the last
frame the chain vouched for to the frame after the failed one, often still finds the point; where its own
forward-backward check passes (``BRIDGE_CYCLE_PX``), the point is vouched for again there and its chain goes on
from that frame (``omnimotion.track.evidence``). What it gains is measured in the README ("Measured results").

The flows are computed on first use with the data directory's own flow backend and options (its stage record),
and kept in ``bridge_flows/`` beside ``raft_exhaustive/`` (float32 ``[H, W, 2]``, (dx, dy) px from the first
frame to the second, the official naming; in memory where that folder cannot be written), so later tracking
reuses them. A data directory without a stage record (prepared elsewhere) gets no bridges.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from omnimotion.coords import inside_image
from omnimotion.flow import get_backend
from omnimotion.io.atomic import save_npy
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.pipeline import StageRecord
from omnimotion.preprocess.warp import round_trip

__all__ = ["BridgeFlows", "BRIDGE_GAPS", "BRIDGE_CYCLE_PX", "BRIDGE_DIR"]

logger = logging.getLogger(__name__)

BRIDGE_GAPS = (2,)  # frames a bridge spans, tried shortest first
BRIDGE_CYCLE_PX = 1.0  # largest forward-backward error of a bridge at 256 px (scaled with the longer side)
BRIDGE_DIR = "bridge_flows"


class BridgeFlows:
    """``bridges.cross(a, b, points [n, 2])`` -> (positions in frame b ``[n, 2]``, passed ``[n]`` bool) for frames
    a bridge apart; flows come from ``backend(frame_a, frame_b)`` and are cached in ``bridge_flows/``."""

    def __init__(self, data: DataDir, backend):
        self.data = data
        self.backend = backend
        self.folder = Path(data.root) / BRIDGE_DIR
        self._kept: dict[tuple[int, int], np.ndarray] = {}  # flows that could not be saved (read-only folder)

    @classmethod
    def for_data(cls, data: DataDir) -> "BridgeFlows | None":
        """Bridges with the flow backend recorded in ``data``'s stage record; None without a record."""
        record = StageRecord(data)
        if not record.exists or not record["flow"].get("backend"):
            return None
        flow = record["flow"]
        return cls(data, get_backend(flow["backend"], **flow.get("options", {})))

    def flow(self, a: int, b: int) -> np.ndarray:
        """float32 ``[H, W, 2]`` flow from frame a to frame b (cached)."""
        if (a, b) in self._kept:
            return self._kept[(a, b)]
        path = self.folder / f"{self.data.pair_name(a, b)}.npy"
        if path.exists():
            try:
                flow = np.load(path, allow_pickle=False)
                if flow.shape == self.data.image_hw + (2,) and np.isfinite(flow).all():
                    return flow
            except (ValueError, OSError, EOFError):
                pass
            logger.warning("recomputing unreadable bridging flow %s", path)
        flow = np.ascontiguousarray(self.backend(self.data.load_frame(a), self.data.load_frame(b)), np.float32)
        try:
            save_npy(path, flow)
        except OSError as err:
            logger.warning("cannot keep bridging flow %s (%s); it will be recomputed next time", path, err)
            self._kept[(a, b)] = flow
        return flow

    def cross(self, a: int, b: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where ``points [n, 2]`` of frame a land in frame b, and whether the flow back returns within
        ``BRIDGE_CYCLE_PX`` and the landing point is inside the image."""
        height, width = self.data.image_hw
        there, miss = round_trip(self.flow(a, b), self.flow(b, a), points)
        limit = BRIDGE_CYCLE_PX * max(height, width) / 256
        return there, inside_image(there, height, width) & (miss < limit)
