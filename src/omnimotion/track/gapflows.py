"""Gap flows: flows between frames a few apart (``EVIDENCE_GAPS``), the extra paths of the flow evidence
(``omnimotion.track.evidence``).

A chain of consecutive flows stops vouching for a point when one step fails its cycle check (a thin post passes
in front of it for a frame, motion blur spoils one pair) and drifts a little at every step. Flows that skip
frames give other paths to the same frame: around the failed step, and with fewer steps to drift.

Consecutive pairs come from the data directory (chaining never rewrites them). The other gaps are computed on
first use with the data directory's own flow backend and options (its stage record) and kept in ``gap_flows/``
beside ``raft_exhaustive/`` (float32 ``[H, W, 2]``, (dx, dy) px from the first frame to the second, the
official naming; in memory where that folder cannot be written), so later tracking reuses them. A data
directory without a stage record (prepared elsewhere) offers the pairs it holds itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from omnimotion.flow import get_backend
from omnimotion.io.atomic import save_npy
from omnimotion.io.datadir import CorruptFileError, DataDir, read_flow
from omnimotion.preprocess.pipeline import StageRecord

__all__ = ["GapFlows", "GAP_FLOW_DIR"]

logger = logging.getLogger(__name__)

GAP_FLOW_DIR = "gap_flows"


class GapFlows:
    """``flows.pair(a, b)`` -> (flow a -> b, flow b -> a), each float32 ``[H, W, 2]``, or None where there is
    no such pair; ``flows.stored_pair(a, b)``: the data directory's own (chained) flows only."""

    def __init__(self, data: DataDir, backend=None):
        self.data = data
        self.backend = backend
        self.folder = Path(data.root) / GAP_FLOW_DIR
        self._kept: dict[tuple[int, int], np.ndarray] = {}  # flows that could not be saved (read-only folder)

    @classmethod
    def for_data(cls, data: DataDir) -> "GapFlows":
        """Gap flows computed with the flow backend recorded in ``data``'s stage record (stored pairs only
        without a record)."""
        record = StageRecord(data)
        if not record.exists or not record["flow"].get("backend"):
            return cls(data)
        flow = record["flow"]
        return cls(data, get_backend(flow["backend"], **flow.get("options", {})))

    def compute(self, gaps: tuple[int, ...], progress: bool = True) -> None:
        """Compute (and keep) the flows of every pair of frames ``gaps`` apart not kept yet, with a progress bar;
        later calls of ``pair`` then only read them."""
        if self.backend is None:
            return
        num_frames = self.data.num_frames
        missing = [(a, a + sign * gap) for gap in gaps if gap > 1 for a in range(num_frames) for sign in (1, -1)
                   if 0 <= a + sign * gap < num_frames and not self._kept_or_saved(a, a + sign * gap)]
        for a, b in tqdm(missing, desc="gap flows", unit="flow", disable=not progress or not missing):
            self._flow(a, b)

    def pair(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray] | None:
        if abs(a - b) == 1 or self.backend is None:
            return self.stored_pair(a, b)
        return self._flow(a, b), self._flow(b, a)

    def stored_pair(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray] | None:
        if not (self.data.flow_path(a, b).exists() and self.data.flow_path(b, a).exists()):
            return None
        return self.data.load_flow(a, b), self.data.load_flow(b, a)

    def _path(self, a: int, b: int) -> Path:
        return self.folder / f"{self.data.pair_name(a, b)}.npy"

    def _kept_or_saved(self, a: int, b: int) -> bool:
        return (a, b) in self._kept or self._path(a, b).exists()

    def _flow(self, a: int, b: int) -> np.ndarray:
        if (a, b) in self._kept:
            return self._kept[(a, b)]
        path = self._path(a, b)
        if path.exists():
            try:
                return read_flow(path, self.data.image_hw)
            except CorruptFileError as err:
                logger.warning("recomputing a gap flow: %s", err)
        flow = np.ascontiguousarray(self.backend(self.data.load_frame(a), self.data.load_frame(b)), np.float32)
        try:
            save_npy(path, flow)
        except OSError as err:
            logger.warning("cannot keep gap flow %s (%s); it will be recomputed next time", path, err)
            self._kept[(a, b)] = flow
        return flow
