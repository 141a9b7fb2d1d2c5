"""Tracking with a fitted model: query points -> ``Tracks`` (tracks [N, T, 2] px, occluded [N, T]), export.

Conventions: ``omnimotion.coords`` (queries (t, x, y), pixel centres at integers, True = occluded);
file formats: ``omnimotion.track.export``.
"""

from omnimotion.track.evidence import FLOW_EVIDENCE_MODES, apply_flow_evidence, flow_evidence
from omnimotion.track.export import from_tapvid, load_csv, load_tracks, save_tracks, to_tapvid
from omnimotion.track.queries import (QueryError, dense_queries, grid_queries, load_mask, mask_queries,
                                      points_from_file, points_from_strings)
from omnimotion.track.tracker import DenseFlow, Tracker
from omnimotion.track.tracks import Tracks

__all__ = ["Tracker", "Tracks", "DenseFlow", "QueryError", "points_from_strings", "points_from_file",
           "grid_queries", "mask_queries", "dense_queries", "load_mask", "save_tracks", "load_tracks",
           "load_csv", "to_tapvid", "from_tapvid", "FLOW_EVIDENCE_MODES", "flow_evidence",
           "apply_flow_evidence"]
