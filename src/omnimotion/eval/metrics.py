"""TAP-Vid point-tracking metrics and OmniMotion's temporal coherence; pure numpy.

Conventions here are TAP-Vid's, not ``omnimotion.coords``' (convert with ``omnimotion.eval.tapvid``):

- ``query_points [B, N, 3]`` = (t, y, x); only t is used, rounded to the nearest frame.
- ``gt_tracks``, ``pred_tracks`` ``[B, N, T, 2]`` = (x, y) raster pixels of the 256x256 evaluation frame.
- ``gt_occluded``, ``pred_occluded`` ``[B, N, T]`` bool, True = occluded.

Every metric is computed per video (the B axis; per track with ``get_trackwise_metrics``) and a dataset score
is the plain mean over videos. Thresholds are strict: an error of exactly theta pixels is a miss.

Empty denominators (0/0: no evaluated frame, or no visible evaluated frame, or no valid TC triple) give NaN,
as the reference's plain numpy division does; we only silence numpy's warning. NaN means "undefined for this
video" and :func:`mean_over_videos` skips it. We deliberately do not follow the OmniTrackFast TC variant that
returns 0 there, since 0 is the best possible TC and would flatter a method on a video it was never scored on.
"""

from __future__ import annotations

import numpy as np

__all__ = ["THRESHOLDS_PX", "compute_tapvid_metrics", "temporal_coherence", "mean_over_videos",
           "evaluation_mask", "within_fraction"]

THRESHOLDS_PX = (1, 2, 4, 8, 16)


def evaluation_mask(query_frames: np.ndarray, num_frames: int, query_mode: str) -> np.ndarray:
    """Bool ``[..., T]``: which frames are scored for queries at ``query_frames [...]``
    (docs/method.md#tap-vid-metrics).

    ``first``: frames strictly after the query frame. ``strided``: every frame except the query frame.
    """
    eye = np.eye(num_frames, dtype=np.int32)
    if query_mode == "first":
        frame_table = np.cumsum(eye, axis=1) - eye  # row q: ones at j > q
    elif query_mode == "strided":
        frame_table = 1 - eye
    else:
        raise ValueError(f"query_mode must be 'first' or 'strided', got {query_mode!r}")
    frames = np.round(np.asarray(query_frames)).astype(np.int32)
    if frames.size and (frames.min() < 0 or frames.max() >= num_frames):
        raise ValueError(f"query frames must lie in [0, {num_frames - 1}], got range "
                         f"[{frames.min()}, {frames.max()}]")
    return frame_table[frames] > 0


def within_fraction(error_px: np.ndarray) -> np.ndarray:
    """Per point: the fraction of ``THRESHOLDS_PX`` its error ``[...]`` (raster px) lies strictly within.

    Its mean over a set of visible points is that set's <delta^x_avg (each threshold's fraction shares the
    denominator), so sets can be pooled by point counts.
    """
    error_px = np.asarray(error_px, dtype=np.float64)
    return np.mean([error_px < threshold for threshold in THRESHOLDS_PX], axis=0)


def compute_tapvid_metrics(
    query_points: np.ndarray,
    gt_occluded: np.ndarray,
    gt_tracks: np.ndarray,
    pred_occluded: np.ndarray,
    pred_tracks: np.ndarray,
    query_mode: str,
    get_trackwise_metrics: bool = False,
    *,
    valid: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """TAP-Vid metrics per video ``[B]`` (or per track ``[B, N]`` with ``get_trackwise_metrics``).

    Keys: ``occlusion_accuracy``, ``pts_within_{1,2,4,8,16}``, ``jaccard_{1,2,4,8,16}``,
    ``average_jaccard`` (AJ) and ``average_pts_within_thresh`` (<delta^x_avg), all fractions in [0, 1].

    ``valid [B, N, T]`` (optional, not in the reference): frames without annotation (BADJA scores only clicked
    frames) are removed from the evaluation mask. Without it the result equals the reference exactly.
    """
    gt_occluded = np.asarray(gt_occluded, dtype=bool)
    pred_occluded = np.asarray(pred_occluded, dtype=bool)
    gt_tracks = np.asarray(gt_tracks, dtype=np.float64)
    pred_tracks = np.asarray(pred_tracks, dtype=np.float64)
    _check_shapes(query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks)
    summing_axis = (2,) if get_trackwise_metrics else (1, 2)
    evaluated = evaluation_mask(np.asarray(query_points)[..., 0], gt_tracks.shape[2], query_mode)
    if valid is not None:
        evaluated = evaluated & np.asarray(valid, dtype=bool)

    def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sum(numerator, axis=summing_axis) / np.sum(denominator, axis=summing_axis)

    metrics = {"occlusion_accuracy": ratio((pred_occluded == gt_occluded) & evaluated, evaluated)}
    visible = ~gt_occluded
    pred_visible = ~pred_occluded
    # NaN ground truth (occluded or unannotated frames) compares False below, so it is never "within".
    with np.errstate(invalid="ignore"):
        squared_error = np.sum(np.square(pred_tracks - gt_tracks), axis=-1)
    for threshold in THRESHOLDS_PX:
        with np.errstate(invalid="ignore"):
            within = squared_error < threshold ** 2
        correct = within & visible
        metrics[f"pts_within_{threshold}"] = ratio(correct & evaluated, visible & evaluated)
        true_positives = np.sum(correct & pred_visible & evaluated, axis=summing_axis)
        false_positives = ((~visible & pred_visible) | (~within & pred_visible)) & evaluated
        denominator = np.sum(visible & evaluated, axis=summing_axis) + np.sum(false_positives, axis=summing_axis)
        with np.errstate(invalid="ignore", divide="ignore"):
            metrics[f"jaccard_{threshold}"] = true_positives / denominator
    metrics["average_jaccard"] = np.mean([metrics[f"jaccard_{t}"] for t in THRESHOLDS_PX], axis=0)
    metrics["average_pts_within_thresh"] = np.mean([metrics[f"pts_within_{t}"] for t in THRESHOLDS_PX], axis=0)
    return metrics


def temporal_coherence(gt_tracks: np.ndarray, gt_occluded: np.ndarray, pred_tracks: np.ndarray,
                       valid: np.ndarray | None = None) -> np.ndarray:
    """OmniMotion's TC per video (docs/method.md#temporal-coherence): shapes ``[B, N, T, 2]``, ``[B, N, T]``;
    result ``[B]``.

    Mean over (n, t), t = 1..T-2, of ``|a_pred - a_gt|_2`` with ``a[t] = x[t+1] - 2 x[t] + x[t-1]``, over
    triples where the ground truth is visible (and ``valid``, if given) at t-1, t and t+1. Pixels/frame^2 in the
    units of the tracks; lower is better. No evaluation mask: query frames and frames before them count.
    """
    gt_tracks = np.asarray(gt_tracks, dtype=np.float64)
    pred_tracks = np.asarray(pred_tracks, dtype=np.float64)
    visible = ~np.asarray(gt_occluded, dtype=bool)
    if valid is not None:
        visible = visible & np.asarray(valid, dtype=bool)
    if gt_tracks.shape != pred_tracks.shape or gt_tracks.shape[:-1] != visible.shape:
        raise ValueError(f"temporal_coherence: tracks {gt_tracks.shape} / {pred_tracks.shape} and occlusion "
                         f"{visible.shape} must be [B, N, T, 2] and [B, N, T]")
    if gt_tracks.shape[2] < 3:
        return np.full(gt_tracks.shape[0], np.nan)
    triple = visible[..., :-2] & visible[..., 1:-1] & visible[..., 2:]

    def acceleration(tracks: np.ndarray) -> np.ndarray:
        return tracks[..., 2:, :] - 2 * tracks[..., 1:-1, :] + tracks[..., :-2, :]

    with np.errstate(invalid="ignore"):
        error = np.linalg.norm(acceleration(pred_tracks) - acceleration(gt_tracks), axis=-1)
    error = np.where(triple, error, 0.0)  # NaN ground truth sits only on non-triple frames
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(error, axis=(1, 2)) / np.sum(triple, axis=(1, 2))


def mean_over_videos(values: list[float] | np.ndarray) -> float:
    """Dataset score: plain mean over the videos where the metric is defined (NaN skipped); NaN if none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _check_shapes(query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks) -> None:
    query_points = np.asarray(query_points)
    batch = gt_occluded.shape
    problems = []
    if gt_occluded.ndim != 3:
        problems.append(f"gt_occluded {gt_occluded.shape} is not [B, N, T]")
    if pred_occluded.shape != batch:
        problems.append(f"pred_occluded {pred_occluded.shape} != gt_occluded {batch}")
    for label, tracks in (("gt_tracks", gt_tracks), ("pred_tracks", pred_tracks)):
        if tracks.shape != batch + (2,):
            problems.append(f"{label} {tracks.shape} != {batch + (2,)}")
    if query_points.shape != batch[:2] + (3,):
        problems.append(f"query_points {query_points.shape} != {batch[:2] + (3,)} (t, y, x)")
    if problems:
        raise ValueError("compute_tapvid_metrics: " + "; ".join(problems))
