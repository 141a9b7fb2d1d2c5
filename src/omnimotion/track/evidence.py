"""Flow evidence: where the video's flows vouch for a track, and how it corrects the model's output.

A point is followed from its query frame through the frames after it (and before it) along many paths of
flows: at each frame t, the candidates come from the frames t - g (g in ``EVIDENCE_GAPS``, flows that skip
frames, ``omnimotion.track.gapflows``) and, where the data directory holds the pair, straight from the query
frame (its chained flow, or the direct flow where the chaining kept it). Each step is checked forward and
backward (``round_trip``); a step whose round trip misses by more than ``EVIDENCE_CYCLE_PX`` (at 256 px, scaled
with the longer image side; never less on smaller images), or lands outside the image, breaks its path, and so
does every later step of that path. Among the unbroken candidates, the one whose path has the smallest sum of
squared round-trip misses wins (the most self-consistent path, not the shortest); where every path is broken,
the point is not vouched for at that frame. This is the multi-flow tracking of Neoral et al. ("MFT", WACV 2024)
with the flows' own cycle error as uncertainty.

Given the model's tracks, a step that spans more than one frame must also agree with the model's motion: it breaks
when its displacement differs from the model's over the same frames by more than ``MODEL_CHECK_PX``. Long steps
on repetitive texture can be cycle-consistent and wrong by a period; the model's motion, smooth and fitted to the
whole video, tells them apart. Consecutive steps are not checked, so a model that is wrong cannot stop the flow
from vouching frame to frame.

So a point hidden for a few frames is picked up again by a path that skips them, and a chain that drifts is
overtaken by one with fewer or better steps. What it gains over the single chain is measured in the README.

Modes (``FLOW_EVIDENCE_MODES``):

* ``none``: the model's tracks as they are;
* ``visibility``: a track is visible at frame k wherever the flow vouches for it, and otherwise as the model
  says (positions stay the model's, so tracks stay cycle-consistent);
* ``positions``: the flow's position wherever it vouches. At the other frames the track continues with the
  model's motion from the nearest vouched frame on the way back to the query frame, so it does not jump where
  the flow stops vouching, and it is occluded unless two sources agree: the model sees the point, and the best
  of the broken paths ends within ``AGREEMENT_PX`` of that position with a last step that missed by less than
  ``AGREEMENT_MISS_PX`` (at an occlusion's first frame, the forward flow still lands on the point but the
  backward flow follows the occluder, so that step misses by far more).

Shapes and units: queries ``[N, 3]`` (t, x, y) and tracks ``[N, T, 2]`` (x, y) in pixels of
``Tracks.image_hw``; the data directory's frames may have another size (points are converted with
``coords.resize_points``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from omnimotion.coords import inside_image, resize_points
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.warp import round_trip
from omnimotion.track.gapflows import GapFlows
from omnimotion.track.tracks import Tracks

__all__ = ["FLOW_EVIDENCE_MODES", "EVIDENCE_GAPS", "EVIDENCE_CYCLE_PX", "MODEL_CHECK_PX", "AGREEMENT_PX",
           "AGREEMENT_MISS_PX", "FlowEvidence", "check_flow_evidence_mode",
           "flow_evidence", "apply_flow_evidence"]

FLOW_EVIDENCE_MODES = ("none", "visibility", "positions")
EVIDENCE_GAPS = (1, 2, 4, 8)  # frames a step of a path may span
EVIDENCE_CYCLE_PX = 1.0  # largest round-trip miss of a step at 256 px (scaled with the longer image side, never below)
MODEL_CHECK_PX = 16.0  # largest disagreement of a multi-frame step with the model's motion (at 256 px, as above)
AGREEMENT_PX = 4.0  # a broken path this close to the model-carried position (at 256 px, scaled) keeps it visible,
AGREEMENT_MISS_PX = 3.0  # if its last step missed by less than this (at 256 px): more is an occlusion's signature
_MISS_CAP = 10.0  # a broken step adds at most this miss (squared) to its path, at 256 px


class FlowEvidence(NamedTuple):
    """``reliable [N, T]`` bool: the flow vouches for query n at frame k (never at its own query frame);
    ``points [N, T, 2]`` float32 px of the data directory's frames: the best path's position (where not
    reliable, that of a broken path), or None when positions were not asked for; ``misses [N, T]`` float32: the
    round-trip miss (px at 256) of the step into frame k of that path (0 at the query frame)."""

    reliable: np.ndarray
    points: np.ndarray | None
    misses: np.ndarray


def check_flow_evidence_mode(mode: str) -> None:
    """Raise ValueError naming the choices unless ``mode`` is one of ``FLOW_EVIDENCE_MODES``."""
    if mode not in FLOW_EVIDENCE_MODES:
        raise ValueError(f"flow_evidence {mode!r} is not one of {', '.join(FLOW_EVIDENCE_MODES)}")


def flow_evidence(data: DataDir, queries: np.ndarray, with_points: bool = False, flows: GapFlows | None = None,
                  progress: bool = True, model: np.ndarray | None = None) -> FlowEvidence:
    """The flow evidence for ``queries [N, 3]`` (t, x, y) in pixels of ``data``'s frames; ``flows``: where the
    paths' flows come from (default ``GapFlows.for_data(data)``; flows not kept yet are computed first, with a
    progress bar unless ``progress`` is False); ``model [N, T, 2]``: the model's tracks of the queries in the same
    pixels, which multi-frame steps must agree with (None: no such check)."""
    queries = np.asarray(queries, np.float32).reshape(-1, 3)
    flows = GapFlows.for_data(data) if flows is None else flows
    flows.compute(EVIDENCE_GAPS, progress)
    shape = (len(queries), data.num_frames)
    evidence = FlowEvidence(np.zeros(shape, bool), np.zeros((*shape, 2), np.float32), np.zeros(shape, np.float32))
    frames = queries[:, 0].astype(np.int64)
    for source in np.unique(frames):
        rows = np.flatnonzero(frames == source)
        evidence.points[rows, source] = queries[rows, 1:]
        for direction in (1, -1):
            _follow(flows, int(source), direction, queries[rows, 1:], rows, evidence,
                    None if model is None else model[rows])
    return evidence if with_points else evidence._replace(points=None)


def _follow(flows: GapFlows, source: int, direction: int, xy: np.ndarray, rows: np.ndarray,
            evidence: FlowEvidence, model: np.ndarray | None) -> None:
    """Fills ``evidence`` at the frames after (direction 1) or before (-1) ``source`` for the points ``xy [n, 2]``
    of frame ``source`` (``rows`` of the evidence arrays; ``model [n, T, 2]`` their model tracks, or None)."""
    height, width = flows.data.image_hw
    scale = max(height, width) / 256
    limit = EVIDENCE_CYCLE_PX * max(scale, 1.0)  # below 1 px, bilinear sampling at motion edges fails exact flows
    at = {source: xy.astype(np.float32)}
    cost = {source: np.zeros(len(xy))}
    broken = {source: np.zeros(len(xy), bool)}
    end = flows.data.num_frames if direction > 0 else -1
    for target in range(source + direction, end, direction):
        point, total_best, failed = np.array(at[target - direction]), np.full(len(xy), np.inf), np.ones(len(xy), bool)
        step_miss = np.full(len(xy), np.inf)
        for start, pair in _candidate_pairs(flows, source, target, direction):
            there, miss = round_trip(*pair, at[start])
            fails = broken[start] | (miss > limit) | ~inside_image(there, height, width)
            if model is not None and abs(target - start) > 1:
                disagreement = (there - at[start]) - (model[:, target] - model[:, start])
                fails |= np.linalg.norm(disagreement, axis=-1) > MODEL_CHECK_PX * max(scale, 1.0)
            total = cost[start] + np.minimum(miss / scale, _MISS_CAP) ** 2
            better = (failed & ~fails) | ((failed == fails) & (total < total_best))
            point, total_best = np.where(better[:, None], there, point), np.where(better, total, total_best)
            failed, step_miss = np.where(better, fails, failed), np.where(better, miss / scale, step_miss)
        at[target], cost[target], broken[target] = point, total_best, failed
        evidence.reliable[rows, target] = ~failed
        evidence.points[rows, target] = point
        evidence.misses[rows, target] = step_miss


def _candidate_pairs(flows: GapFlows, source: int, target: int, direction: int):
    """(start frame, (flow start -> target, flow target -> start)) of each path's last step into ``target``: from
    ``EVIDENCE_GAPS`` frames before, and straight from ``source`` where the data directory holds that pair."""
    for gap in EVIDENCE_GAPS:
        start = target - gap * direction
        if (start - source) * direction >= 0 and (pair := flows.pair(start, target)) is not None:
            yield start, pair
    if abs(target - source) not in EVIDENCE_GAPS and (pair := flows.stored_pair(source, target)) is not None:
        yield source, pair


def apply_flow_evidence(tracks: Tracks, data: DataDir, mode: str, *, flows: GapFlows | None = None,
                        progress: bool = True) -> Tracks:
    """``tracks`` corrected by the flow evidence of ``data`` in ``mode`` (one of ``FLOW_EVIDENCE_MODES``);
    ``flows`` and ``progress`` as in ``flow_evidence``."""
    check_flow_evidence_mode(mode)
    if mode == "none":
        return tracks
    if tracks.num_frames != data.num_frames:
        raise ValueError(f"tracks have {tracks.num_frames} frames but {data.root} has {data.num_frames}")
    queries = tracks.queries.copy()
    queries[:, 1:] = resize_points(queries[:, 1:], tracks.image_hw, data.image_hw)
    model = resize_points(tracks.tracks, tracks.image_hw, data.image_hw)
    evidence = flow_evidence(data, queries, with_points=mode == "positions", flows=flows, progress=progress,
                             model=model)
    if evidence.points is None:
        return Tracks(tracks.tracks, tracks.occluded & ~evidence.reliable, tracks.queries, tracks.image_hw,
                      tracks.fps)
    flow_points = resize_points(evidence.points, data.image_hw, tracks.image_hw)
    query_frames = tracks.queries[:, 0].astype(np.int64)
    positions = _stitch(tracks.tracks, flow_points, evidence.reliable, query_frames)
    at_query = np.arange(tracks.num_frames)[None] == query_frames[:, None]
    # no floor of 1 px here (unlike the step checks): on small frames a floor would call covered points visible
    near = np.linalg.norm(flow_points - positions, axis=-1) < AGREEMENT_PX * max(tracks.image_hw) / 256
    agree = near & (evidence.misses < AGREEMENT_MISS_PX) & ~tracks.occluded
    occluded = ~(evidence.reliable | at_query | agree) | ~inside_image(positions, *tracks.image_hw)
    return Tracks(positions, occluded, tracks.queries, tracks.image_hw, tracks.fps)


def _stitch(model: np.ndarray, flow_points: np.ndarray, reliable: np.ndarray, query_frames: np.ndarray) -> np.ndarray:
    """Flow positions where ``reliable [N, T]``; elsewhere ``model [N, T, 2]`` shifted by its offset from the
    flow at the anchor, the nearest reliable frame between the query frame and this one (the query frame
    itself, where the model equals the query, when there is none)."""
    num_frames = reliable.shape[1]
    frames = np.arange(num_frames)[None]
    start = query_frames[:, None]
    anchors = reliable | (frames == start)
    later = np.maximum.accumulate(np.where(anchors & (frames >= start), frames, -1), axis=1)
    earlier = np.minimum.accumulate(np.where(anchors & (frames <= start), frames, num_frames)[:, ::-1], axis=1)
    anchor = np.where(frames >= start, later, earlier[:, ::-1])
    rows = np.arange(len(model))[:, None]
    at_anchor = np.where(reliable[..., None], flow_points, model)[rows, anchor]
    return (model + at_anchor - model[rows, anchor]).astype(np.float32)
