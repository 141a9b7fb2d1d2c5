"""Last-frame score of sparsely annotated files: how far a tracker has drifted by the end of the video.

Files with a ``valid`` mask (``davis_fulllength``: frames 0..31 and T-1; BADJA: about every 5th frame) are
scored by TAP-Vid's metrics over all annotated frames, where the many short-range frames outweigh the long-range
one. This score reads the *last annotated frame* alone (T-1 in ``davis_fulllength``), over the tracks scored
there (evaluation mask of the query mode, annotated):

- ``last_delta``: <delta^x_avg at that frame (mean fraction within 1, 2, 4, 8, 16 raster px) over the tracks
  visible there; ``last_errors``: their errors (raster px, 256x256), for the median and for pooling;
- ``last_OA``: occlusion accuracy over the tracks annotated there;
- ``last_visible``, ``last_annotated``: the two counts (weights when pooling over videos).

Inputs in TAP-Vid raster pixels (``omnimotion.eval.tapvid.pixels_to_raster``): tracks ``[Q, T, 2]``, occluded
and the scored mask ``[Q, T]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from omnimotion.eval.metrics import within_fraction

__all__ = ["last_frame_scores"]


def last_frame_scores(gt_tracks: np.ndarray, gt_occluded: np.ndarray, pred_tracks: np.ndarray,
                      pred_occluded: np.ndarray, scored: np.ndarray, valid: np.ndarray) -> dict[str, Any]:
    """Scores at the last frame any track is annotated (``valid [Q, T]``); see the module docstring.

    ``scored [Q, T]``: the frames the metrics score (evaluation mask and ``valid``). Means are NaN where their
    count is 0; ``last_frame`` is -1 when nothing is annotated.
    """
    annotated_frames = np.flatnonzero(np.asarray(valid, bool).any(axis=0))
    if annotated_frames.size == 0:
        return {"last_frame": -1, "last_visible": 0, "last_annotated": 0, "last_errors": [],
                "last_delta": float("nan"), "last_median_px": float("nan"), "last_OA": float("nan")}
    frame = int(annotated_frames[-1])
    annotated = np.asarray(scored, bool)[:, frame]
    visible = annotated & ~np.asarray(gt_occluded, bool)[:, frame]
    errors = np.linalg.norm(np.asarray(pred_tracks, np.float64)[visible, frame]
                            - np.asarray(gt_tracks, np.float64)[visible, frame], axis=-1)
    agree = np.asarray(pred_occluded, bool)[annotated, frame] == np.asarray(gt_occluded, bool)[annotated, frame]
    return {"last_frame": frame, "last_visible": int(visible.sum()), "last_annotated": int(annotated.sum()),
            "last_errors": errors.tolist(),
            "last_delta": float(within_fraction(errors).mean()) if errors.size else float("nan"),
            "last_median_px": float(np.median(errors)) if errors.size else float("nan"),
            "last_OA": float(agree.mean()) if agree.size else float("nan")}
