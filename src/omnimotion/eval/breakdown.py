"""Where the error is: the scored point-frames of one video split by what the flow knows and by occlusion.

Over the point-frames the TAP-Vid metrics score (evaluation mask of the query mode, annotated):

- **vouched / not vouched**: visible ground-truth point-frames where the data directory's flows vouch for the
  query point (``omnimotion.track.evidence.flow_evidence``: a path of cycle-consistent flows from the query
  frame to that frame) and where they do not; the count and <delta^x_avg of each part (NaN without a data directory);
- **occlusion errors**: false positives (predicted occluded, truly visible) and false negatives (predicted
  visible, truly occluded), with the visible and occluded counts they are rates of;
- **after occlusion**: visible point-frames that lie beyond a ground-truth occlusion as seen from the query
  frame (the track was hidden at an annotated frame in between): re-acquisition; count and <delta^x_avg.

Every mean comes with its count, so videos pool by point-frames (``omnimotion.eval.report``). Inputs are in
TAP-Vid raster pixels: tracks ``[Q, T, 2]``, masks ``[Q, T]``, query frames ``[Q]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnimotion.coords import resize_points
from omnimotion.eval.metrics import within_fraction
from omnimotion.io.datadir import DataDir
from omnimotion.track.evidence import flow_evidence

__all__ = ["error_breakdown", "flow_vouched", "is_data_dir"]


def error_breakdown(gt_tracks: np.ndarray, gt_occluded: np.ndarray, pred_tracks: np.ndarray,
                    pred_occluded: np.ndarray, scored: np.ndarray, valid: np.ndarray, query_frames: np.ndarray,
                    vouched: np.ndarray | None = None) -> dict[str, float]:
    """Counts and <delta_avg of the parts in the module docstring; ``vouched [Q, T]`` from :func:`flow_vouched`."""
    gt_occluded = np.asarray(gt_occluded, bool)
    pred_occluded = np.asarray(pred_occluded, bool)
    scored = np.asarray(scored, bool)
    score = within_fraction(np.linalg.norm(np.asarray(pred_tracks, np.float64)
                                           - np.asarray(gt_tracks, np.float64), axis=-1))
    visible = scored & ~gt_occluded
    hidden = scored & gt_occluded
    parts = {"visible": visible, "reacquired": visible & _beyond_occlusion(gt_occluded & valid, query_frames)}
    if vouched is not None:
        parts.update(vouched=visible & vouched, unvouched=visible & ~vouched)
    result = {"occluded_frames": float(hidden.sum()), "occ_fp": float((visible & pred_occluded).sum()),
              "occ_fn": float((hidden & ~pred_occluded).sum())}
    for name in ("visible", "reacquired", "vouched", "unvouched"):
        part = parts.get(name)
        result[f"{name}_frames"] = float(part.sum()) if part is not None else float("nan")
        result[f"delta_{name}"] = float(score[part].mean()) if part is not None and part.any() else float("nan")
    return result


def _beyond_occlusion(hidden: np.ndarray, query_frames: np.ndarray) -> np.ndarray:
    """Bool ``[Q, T]``: a hidden frame lies strictly between the query frame and this frame."""
    seen = np.cumsum(hidden, axis=1)  # hidden frames up to and including t
    rows = np.arange(len(hidden))
    at_query = seen[rows, np.asarray(query_frames, np.int64)][:, None]
    frames = np.arange(hidden.shape[1])[None]
    # after the query: hidden in (q, t] (t itself counts only if hidden, and such t are not visible anyway);
    # before it: hidden in (t, q), i.e. up to q minus up to t (the query frame is visible, so never hidden)
    return np.where(frames > query_frames[:, None], seen - at_query, at_query - seen) > 0


def is_data_dir(path: str | Path) -> bool:
    """``path`` holds a prepared data directory (frames and flow masks)."""
    path = Path(path)
    return (path / "color").is_dir() and (path / "raft_masks").is_dir()


def flow_vouched(data_dir: str | Path, queries: np.ndarray, video_thw: tuple[int, int, int]) -> np.ndarray:
    """Bool ``[Q, T]``: the data directory's flows vouch for query q at frame t (``flow_evidence``).

    ``queries [Q, 3]`` (t, x, y) in pixels of a video of ``video_thw`` = (T, H, W) (the data directory's frames
    may have another size). Raises ValueError when the data directory has another number of frames.
    """
    data = DataDir(data_dir)
    if data.num_frames != video_thw[0]:
        raise ValueError(f"data directory {data.root} has {data.num_frames} frames but the video {video_thw[0]}")
    queries = np.asarray(queries, np.float32).copy()
    queries[:, 1:] = resize_points(queries[:, 1:], tuple(video_thw[1:]), data.image_hw)
    return flow_evidence(data, queries, progress=False).reliable
