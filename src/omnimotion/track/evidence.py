"""Flow evidence: where the prepared flows vouch for a track, and how it corrects the model's output.

The data directory's mask of pair (t -> k) marks pixel p of frame t *reliable* when its (chained) flow to
frame k passed the forward-backward cycle check (``omnimotion.preprocess``): the flow followed the point
into frame k and back. Such a point is visible in frame k, whatever the model's occlusion test says: the
surface model's depth test often calls such points occluded, while true occlusions are rarely reliable
(benchmarks/NOTES.md).

Where the flow does not vouch, it can still testify to an occlusion: when the chained flow to frame k and the
chained flow back land far from where they started (``ROUND_TRIP_OCCLUSION``: 48 px at 256 px, the threshold of
the flow baselines and of the OmniMotion paper's RAFT-C), the point was lost in between, most often behind
something. Such frames are occluded in both correcting modes, whatever the model says. 48 px is the
established value, not one tuned on the benchmark (what it gains, and what lower thresholds would:
benchmarks/NOTES.md).

Modes (``FLOW_EVIDENCE_MODES``):

* ``none``: the model's tracks as they are;
* ``visibility``: a track is visible at frame k wherever the query pixel is reliable from its query frame
  to k, and occluded where the round trip misses (positions stay the model's, so tracks stay
  cycle-consistent);
* ``positions``: as ``visibility``, and at those frames the position is the flow's, query + flow(t -> k)
  (bilinear at the query position, over the neighbouring pixels that are reliable themselves and agree with the
  nearest one, ``NEIGHBOUR_AGREEMENT_PX``). At the other frames the track continues with the model's motion from
  the nearest such frame on the way back to the query frame, so it does not jump where the flow stops vouching.
  More precise where the model underfits its flows, but tracks are then only as cycle-consistent as the flow's
  cycle check.

A pair without files (a data directory prepared with ``--max_gap``) is bridged through the farthest frame
reached: the points the flow vouches for there go on from their flow positions, so the evidence reaches
beyond the window, as the chains of consecutive flows it was made of would. The reliable bit is read at the
point's nearest pixel.

Shapes and units: queries ``[N, 3]`` (t, x, y) and tracks ``[N, T, 2]`` (x, y) in pixels of
``Tracks.image_hw``; the data directory's frames may have another size (points are converted with
``coords.resize_points``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from omnimotion.coords import inside_image, resize_points
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.warp import round_trip, sample_bilinear
from omnimotion.track.bridge import BRIDGE_GAPS, BridgeFlows
from omnimotion.track.tracks import Tracks

__all__ = ["FLOW_EVIDENCE_MODES", "ROUND_TRIP_OCCLUSION", "FlowEvidence", "check_flow_evidence_mode",
           "flow_evidence", "apply_flow_evidence"]

FLOW_EVIDENCE_MODES = ("none", "visibility", "positions")
ROUND_TRIP_OCCLUSION = 48 / 256  # round-trip miss, as a fraction of the longer image side, that means "lost"
NEIGHBOUR_AGREEMENT_PX = 4.0  # a neighbouring pixel's flow further than this from the nearest one's is left out


class FlowEvidence(NamedTuple):
    """``reliable [N, T]`` bool: the flow vouches for query n at frame k (never at its own query frame);
    ``points [N, T, 2]`` float32 px of the data directory's frames where reliable (NaN elsewhere), or None
    when positions were not asked for; ``round_trip [N, T]`` float32 px: how far from the query point the
    chained flow to frame k and back lands (0 at the query frame and for pairs without a mask)."""

    reliable: np.ndarray
    points: np.ndarray | None
    round_trip: np.ndarray


def check_flow_evidence_mode(mode: str) -> None:
    """Raise ValueError naming the choices unless ``mode`` is one of ``FLOW_EVIDENCE_MODES``."""
    if mode not in FLOW_EVIDENCE_MODES:
        raise ValueError(f"flow_evidence {mode!r} is not one of {', '.join(FLOW_EVIDENCE_MODES)}")


def flow_evidence(data: DataDir, queries: np.ndarray, with_points: bool = False,
                  bridges: BridgeFlows | None = None) -> FlowEvidence:
    """The flow evidence for ``queries [N, 3]`` (t, x, y) in pixels of ``data``'s frames; with ``bridges``, points
    whose chain broke are picked up again where a bridging flow finds them (``omnimotion.track.bridge``)."""
    queries = np.asarray(queries, np.float32).reshape(-1, 3)
    num_frames = data.num_frames
    evidence = FlowEvidence(np.zeros((len(queries), num_frames), bool),
                            np.full((len(queries), num_frames, 2), np.nan, np.float32),
                            np.zeros((len(queries), num_frames), np.float32))
    frames = queries[:, 0].astype(np.int64)
    for source in np.unique(frames):
        rows = np.flatnonzero(frames == source)
        for direction in (1, -1):
            _Follower(data, int(source), direction, queries[rows, 1:], rows, evidence).run(bridges)
    return evidence if with_points else evidence._replace(points=None)


class _Follower:
    """Fills ``evidence`` at the frames after (direction 1) or before (-1) ``source`` for the points ``xy [n, 2]``
    of frame ``source`` (``rows`` of the evidence arrays).

    Each point follows the chained flow from its anchor frame: ``source`` at first. Where the pair (anchor ->
    target) has no files (a data directory prepared with ``--max_gap``), the point hops: the frame before the
    target becomes its anchor if the flow vouched for it there, from its flow position; otherwise its evidence
    ends, and where the pair (source -> target) exists again, the point is back at the source. Where a bridging
    flow picks a point up again, the bridge's target frame becomes its anchor for good."""

    def __init__(self, data: DataDir, source: int, direction: int, xy: np.ndarray, rows: np.ndarray,
                 evidence: FlowEvidence):
        self.data, self.source, self.direction, self.xy, self.rows, self.evidence = (
            data, source, direction, xy, rows, evidence)
        self.anchor = np.full(len(xy), source)
        self.at = xy.astype(np.float32).copy()
        self.known = np.ones(len(xy), bool)
        self.bridged = np.zeros(len(xy), bool)  # anchored where a bridge picked the point up

    def run(self, bridges: BridgeFlows | None) -> None:
        end = self.data.num_frames if self.direction > 0 else -1
        for target in range(self.source + self.direction, end, self.direction):
            self._hop_missing_pairs(target)
            if not self.known.any() and bridges is None:
                return
            for anchor in np.unique(self.anchor[self.known]):
                self._follow_pair(int(anchor), target, np.flatnonzero(self.known & (self.anchor == anchor)))
            if bridges is not None:
                self._bridge(bridges, target)

    def _hop_missing_pairs(self, target: int) -> None:
        if self.data.mask_path(self.source, target).exists():  # back to the source, but for bridged points
            home = ~self.bridged
            self.anchor[home], self.at[home], self.known[home] = self.source, self.xy[home], True
        previous = target - self.direction
        for anchor in np.unique(self.anchor[self.known]):
            if self.data.mask_path(anchor, target).exists():
                continue
            group = self.known & (self.anchor == anchor)
            hop = group & self.evidence.reliable[self.rows, previous]
            if anchor == previous or not self.data.mask_path(previous, target).exists():
                hop[:] = False
            self.known &= ~group | hop
            self.anchor[hop] = previous
            self.at[hop] = self.evidence.points[self.rows[hop], previous]

    def _follow_pair(self, anchor: int, target: int, members: np.ndarray) -> None:
        height, width = self.data.image_hw
        at, rows = self.at[members], self.rows[members]
        mask = self.data.load_mask(anchor, target)[0]
        flow = self.data.load_flow(anchor, target)
        hit = mask[_nearest_pixel(at[:, 1], height), _nearest_pixel(at[:, 0], width)]
        self.evidence.reliable[rows, target] = hit
        self.evidence.round_trip[rows, target] = round_trip(flow, self.data.load_flow(target, anchor), at)[1]
        self.evidence.points[rows[hit], target] = at[hit] + _reliable_bilinear(flow, mask, at[hit])

    def _bridge(self, bridges: BridgeFlows, target: int) -> None:
        """Points the flow lost at ``target`` but vouched for ``gap`` frames before cross a bridge, shortest
        first (``BRIDGE_GAPS``)."""
        for gap in BRIDGE_GAPS:
            before = target - gap * self.direction
            if (before - self.source) * self.direction < 0:
                return
            if before == self.source:
                lost, start = np.ones(len(self.xy), bool), self.xy
            else:
                lost, start = self.evidence.reliable[self.rows, before], self.evidence.points[self.rows, before]
            lost = lost & ~self.evidence.reliable[self.rows, target]
            if not lost.any():
                continue
            landed, passed = bridges.cross(before, target, start[lost].astype(np.float32))
            found = np.flatnonzero(lost)[passed]
            self.evidence.reliable[self.rows[found], target] = True
            self.evidence.points[self.rows[found], target] = landed[passed]
            self.anchor[found], self.at[found] = target, landed[passed]
            self.known[found], self.bridged[found] = True, True


def _reliable_bilinear(flow: np.ndarray, reliable: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """``flow [H, W, 2]`` at ``xy [n, 2]``, bilinear over those of the four neighbours that are reliable and
    whose flow is within ``NEIGHBOUR_AGREEMENT_PX`` of the nearest pixel's.

    A neighbour whose chain broke holds an unrelated flow, and a reliable neighbour can still have followed
    another surface (each step of both chains passed its cycle check, yet the chains end far apart): mixing
    either in moves points far off (examples: benchmarks/NOTES.md). The nearest pixel is reliable for every
    point asked about and has a bilinear weight of at least 1/4, so the normalising weight is never 0.
    """
    height, width = reliable.shape
    nearest = flow[_nearest_pixel(xy[:, 1], height), _nearest_pixel(xy[:, 0], width)]
    left_top = np.floor(xy).astype(np.int64)
    fraction = xy - left_top
    total = np.zeros_like(nearest)
    total_weight = np.zeros(len(xy), np.float32)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        xs = np.clip(left_top[:, 0] + dx, 0, width - 1)
        ys = np.clip(left_top[:, 1] + dy, 0, height - 1)
        weight = np.abs(1 - dx - fraction[:, 0]) * np.abs(1 - dy - fraction[:, 1])
        agrees = reliable[ys, xs] & (np.linalg.norm(flow[ys, xs] - nearest, axis=-1) <= NEIGHBOUR_AGREEMENT_PX)
        total += (weight * agrees)[:, None] * flow[ys, xs]
        total_weight += weight * agrees
    return total / total_weight[:, None]


def _nearest_pixel(coordinate: np.ndarray, size: int) -> np.ndarray:
    return np.clip(np.rint(coordinate).astype(np.int64), 0, size - 1)


def apply_flow_evidence(tracks: Tracks, data: DataDir, mode: str, *, bridges: bool = True) -> Tracks:
    """``tracks`` corrected by the flow evidence of ``data`` in ``mode`` (one of ``FLOW_EVIDENCE_MODES``).

    ``bridges``: pick up points whose chain broke with flows that skip a frame (``omnimotion.track.bridge``;
    needs the data directory's stage record)."""
    check_flow_evidence_mode(mode)
    if mode == "none":
        return tracks
    if tracks.num_frames != data.num_frames:
        raise ValueError(f"tracks have {tracks.num_frames} frames but {data.root} has {data.num_frames}")
    queries = tracks.queries.copy()
    queries[:, 1:] = resize_points(queries[:, 1:], tracks.image_hw, data.image_hw)
    evidence = flow_evidence(data, queries, with_points=mode == "positions",
                             bridges=BridgeFlows.for_data(data) if bridges else None)
    lost = evidence.round_trip > ROUND_TRIP_OCCLUSION * max(data.image_hw)
    occluded = (tracks.occluded | lost) & ~evidence.reliable
    positions = tracks.tracks
    if evidence.points is not None:
        flow_points = resize_points(evidence.points, data.image_hw, tracks.image_hw)
        positions = _stitch(tracks.tracks, flow_points, evidence.reliable, tracks.queries[:, 0].astype(np.int64))
        occluded |= ~inside_image(positions, *tracks.image_hw)
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
