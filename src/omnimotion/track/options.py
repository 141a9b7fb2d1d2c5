"""TrackConfig: how a fitted model's tracks are made (``omnimotion.track.tracker.Tracker``).

A training run stores this section in its checkpoints, so ``omnimotion track``, ``omnimotion run``, the viewer
and the Python API track with the same settings from the same checkpoint unless told otherwise
(``TrackConfig.from_saved``). Field names are the config keys (``omnimotion.config``; ``occlusion_th`` is
``track_occlusion_th`` there, since the model sections have their own); a field's docstring is its ``--help``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from omnimotion.track.evidence import FLOW_EVIDENCE_MODES, check_flow_evidence_mode

__all__ = ["TrackConfig", "DEFAULT_CHUNK_SIZE", "FLOW_EVIDENCE_MODES"]

# On CPU, larger chunks were slower (their big buffers are re-mapped at every call) and use more memory
# (benchmarks/bench_dense_tracking.py); on a GPU pass a larger chunk_size.
DEFAULT_CHUNK_SIZE = 1024


@dataclass(frozen=True)
class TrackConfig:
    """Tracking settings; the defaults are those ``omnimotion run`` trains and tracks with."""

    flow_evidence: str = "positions"
    """Correct tracks with the prepared flows (omnimotion.track.evidence): none; visibility (visible wherever
    a path of cycle-consistent flows reaches the point); positions (also take the flow's position there, and
    occluded where no path reaches it)."""
    chunk_size: int = DEFAULT_CHUNK_SIZE
    """(point, frame) pairs per model call when tracking; lower it if memory runs out."""
    occlusion_th: float | None = field(default=None, metadata={"key": "track_occlusion_th"})
    """Occluded iff the model's occlusion score exceeds this; none: the model's own threshold (occlusion_th or
    surface_occlusion_th)."""

    def __post_init__(self) -> None:
        check_flow_evidence_mode(self.flow_evidence)
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of point-frame pairs, got {self.chunk_size}")

    @classmethod
    def from_saved(cls, config: dict[str, Any]) -> TrackConfig:
        """The tracking section of a configuration stored as a dict (a checkpoint's ``config``). Checkpoints of
        earlier versions kept ``flow_evidence`` under ``inference``; ones without it track without evidence,
        as they did."""
        saved = config.get("track")
        if saved is None:
            return cls(flow_evidence=config.get("inference", {}).get("flow_evidence", "none"))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in saved.items() if key in names})
