"""Per-video pictures: predicted vs ground-truth tracks of a few queries, drawn over a frame (matplotlib Agg).

Inputs in our conventions (``omnimotion.coords``): frame uint8 ``[H, W, 3]``, tracks ``[Q, T, 2]`` (x, y)
pixels, occluded ``[Q, T]``. Matplotlib's ``imshow`` puts pixel centres at integers too, so tracks are drawn
without any shift.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnimotion.eval.tapvid import QuerySet

__all__ = ["plot_tracks", "pick_plot_queries"]


def pick_plot_queries(queries: QuerySet, count: int = 8) -> np.ndarray:
    """Indices of up to ``count`` queries spread over the query list, preferring the earliest query frame."""
    frames = queries.queries[:, 0]
    first = np.flatnonzero(frames == frames.min()) if len(frames) else np.zeros(0, int)
    if len(first) < count:
        first = np.arange(len(frames))
    return first[np.linspace(0, len(first) - 1, min(count, len(first))).round().astype(int)]


def plot_tracks(path: str | Path, frame: np.ndarray, queries: QuerySet, tracks: np.ndarray,
                occluded: np.ndarray, title: str = "", count: int = 8) -> Path:
    """Save a PNG: GT tracks (solid with dots, visible annotated frames), predictions (dashed; x where
    predicted occluded).

    Each query has its own colour; the circle marks the query point, drawn over ``frame``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from omnimotion.io.atomic import atomic_open

    chosen = pick_plot_queries(queries, count)
    height, width = frame.shape[:2]
    figure, axes = plt.subplots(figsize=(6, 6 * height / width), dpi=110)
    axes.imshow(frame)
    colours = plt.cm.tab10(np.arange(len(chosen)) % 10)
    for colour, index in zip(colours, chosen):
        hidden_gt = queries.occluded[index] | ~queries.valid[index]  # unannotated frames hold no ground truth
        gt = np.where(hidden_gt[:, None], np.nan, queries.tracks[index])
        axes.plot(gt[:, 0], gt[:, 1], "-", color=colour, linewidth=2.0)
        axes.plot(gt[:, 0], gt[:, 1], ".", color=colour, markersize=5)  # sparse annotations stay visible
        axes.plot(tracks[index, :, 0], tracks[index, :, 1], "--", color=colour, linewidth=1.2)
        hidden = occluded[index]
        axes.plot(tracks[index, hidden, 0], tracks[index, hidden, 1], "x", color=colour, markersize=4)
        axes.plot(queries.queries[index, 1], queries.queries[index, 2], "o", color=colour, markersize=6,
                  markeredgecolor="white")
    axes.set_xlim(-0.5, width - 0.5)
    axes.set_ylim(height - 0.5, -0.5)
    axes.set_title(title + "  (solid: ground truth, dashed: prediction, x: predicted occluded)", fontsize=7)
    axes.axis("off")
    figure.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
    return path
