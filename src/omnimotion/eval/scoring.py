"""Score one method's predictions on one evaluation video: TAP-Vid metrics, TC and (BADJA) PCK; in detail also
the error breakdown and, for sparsely annotated files, the last-frame score.

Inputs are in our conventions (``omnimotion.coords``): query set from ``omnimotion.eval.tapvid.sample_queries``
(ground truth [Q, T, 2] pixels of the video), predicted tracks ``[Q, T, 2]`` pixels and occluded ``[Q, T]``.
AJ, <delta_avg, OA and TC are computed in 256x256 raster pixels, as the benchmark; PCK in pixels of the video
(its threshold comes from the video's own masks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from omnimotion.eval.breakdown import error_breakdown
from omnimotion.eval.datasets import EvalVideo
from omnimotion.eval.lastframe import last_frame_scores
from omnimotion.eval.metrics import THRESHOLDS_PX, compute_tapvid_metrics, evaluation_mask, temporal_coherence
from omnimotion.eval.tapvid import QuerySet, pixels_to_raster, queries_to_tapvid

__all__ = ["score_predictions", "score_in_detail", "pck", "check_predictions", "PCK_FRACTION"]

PCK_FRACTION = 0.2  # BADJA: correct when the error is below 0.2 * sqrt(segmentation area)


def check_predictions(tracks: np.ndarray, occluded: np.ndarray, num_queries: int, num_frames: int):
    """Validate a method's output; returns float64 tracks ``[Q, T, 2]`` and bool occluded ``[Q, T]``."""
    tracks = np.asarray(tracks, dtype=np.float64)
    occluded = np.asarray(occluded, dtype=bool)
    if tracks.shape != (num_queries, num_frames, 2) or occluded.shape != (num_queries, num_frames):
        raise ValueError(f"method returned tracks {tracks.shape} and occluded {occluded.shape}, expected "
                         f"({num_queries}, {num_frames}, 2) and ({num_queries}, {num_frames})")
    if not np.isfinite(tracks).all():
        raise ValueError(f"method returned {int((~np.isfinite(tracks)).sum())} non-finite track coordinates")
    return tracks, occluded


def score_predictions(video: EvalVideo, queries: QuerySet, tracks: np.ndarray, occluded: np.ndarray,
                      query_mode: str) -> dict[str, float]:
    """Metrics of one video as plain floats (fractions; TC in 256-raster px/frame^2; PCK NaN without masks)."""
    num_frames, height, width = video.video.shape[:3]
    tracks, occluded = check_predictions(tracks, occluded, len(queries.queries), num_frames)
    valid = queries.valid[None] if video.valid is not None else None
    gt = pixels_to_raster(queries.tracks, height, width)[None]
    pred = pixels_to_raster(tracks, height, width)[None]
    metrics = compute_tapvid_metrics(queries_to_tapvid(queries.queries, height, width)[None],
                                     queries.occluded[None], gt, occluded[None], pred, query_mode, valid=valid)
    scores = {"AJ": metrics["average_jaccard"][0], "delta_avg": metrics["average_pts_within_thresh"][0],
              "OA": metrics["occlusion_accuracy"][0],
              "TC": temporal_coherence(gt, queries.occluded[None], pred, valid=valid)[0]}
    for threshold in THRESHOLDS_PX:
        scores[f"jaccard_{threshold}"] = metrics[f"jaccard_{threshold}"][0]
        scores[f"pts_within_{threshold}"] = metrics[f"pts_within_{threshold}"][0]
    scores["PCK"] = pck(video, queries, tracks, query_mode) if video.masks is not None else float("nan")
    return {key: float(value) for key, value in scores.items()}


def score_in_detail(video: EvalVideo, queries: QuerySet, tracks: np.ndarray, occluded: np.ndarray,
                    query_mode: str, vouched: np.ndarray | None = None) -> dict[str, Any]:
    """:func:`score_predictions`, the error breakdown (``omnimotion.eval.breakdown``; ``vouched [Q, T]`` from
    ``flow_vouched``, or None) and, for files with a ``valid`` mask, the last-frame score
    (``omnimotion.eval.lastframe``)."""
    scores: dict[str, Any] = score_predictions(video, queries, tracks, occluded, query_mode)
    num_frames, height, width = video.video.shape[:3]
    gt = pixels_to_raster(queries.tracks, height, width)
    pred = pixels_to_raster(np.asarray(tracks, np.float64), height, width)
    scored = evaluation_mask(queries.queries[:, 0], num_frames, query_mode) & queries.valid
    occluded = np.asarray(occluded, bool)
    scores.update(error_breakdown(gt, queries.occluded, pred, occluded, scored, queries.valid,
                                  np.round(queries.queries[:, 0]).astype(np.int64), vouched))
    if video.valid is not None:
        scores.update(last_frame_scores(gt, queries.occluded, pred, occluded, scored, queries.valid))
    return scores


def pck(video: EvalVideo, queries: QuerySet, tracks: np.ndarray, query_mode: str) -> float:
    """Fraction of scored visible ground-truth points within ``0.2 * sqrt(mask area)`` of the prediction.

    Scored frames: the evaluation mask of ``query_mode`` (``first``: after the query frame), annotated
    (``valid``) and visible in the ground truth. Predicted occlusion is ignored. NaN if nothing is scored.
    """
    if video.masks is None:
        raise ValueError(f"{video.name} has no segmentation masks; PCK needs them")
    area = video.masks.reshape(video.masks.shape[0], -1).sum(axis=1)
    threshold = PCK_FRACTION * np.sqrt(area)  # [T] pixels of the video
    scored = evaluation_mask(queries.queries[:, 0], tracks.shape[1], query_mode) & ~queries.occluded
    scored &= queries.valid & (area > 0)[None]
    error = np.linalg.norm(np.asarray(tracks, np.float64) - queries.tracks, axis=-1)
    if not scored.any():
        return float("nan")
    return float(np.mean(error[scored] < threshold[None].repeat(len(error), 0)[scored]))
