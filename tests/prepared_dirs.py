"""Prepared data directories with exact flows and masks, written directly (no preprocessing run), and how far a
fitted model's flow is from those exact flows. Imported by name, as ``track/track_doubles.py``; the fixtures
``prepared_dir_factory`` and ``synthetic_dir`` in ``tests/conftest.py`` build on it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from omnimotion.io.datadir import DataDir
from omnimotion.train.mining import predicted_flow

FlowFn = Callable[[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


def write_prepared_dir(root: Path, video: np.ndarray, pair_fn: FlowFn) -> DataDir:
    """Write frames ``[T,H,W,3]`` uint8 and, for every ordered pair, ``pair_fn(i, j)`` ->
    (flow [H,W,2], reliable [H,W], occluded_reliable [H,W]); count maps and stats follow from the masks."""
    data = DataDir(root)
    data.color_dir.mkdir(parents=True)
    import cv2
    for t, frame in enumerate(video):
        cv2.imwrite(str(data.color_dir / f"{t:05d}.png"), frame[..., ::-1])
    num = len(video)
    counts = np.zeros((num,) + video.shape[1:3], np.uint16)
    stats: dict[str, dict[str, int]] = {}
    for i in range(num):
        stats[data.frame_names[i]] = {}
        for j in range(num):
            if i == j:
                continue
            flow, reliable, occluded = pair_fn(i, j)
            data.save_flow(i, j, flow.astype(np.float32))
            data.save_mask(i, j, reliable, occluded)
            valid = reliable | occluded
            counts[i] += valid.astype(np.uint16)
            stats[data.frame_names[i]][data.frame_names[j]] = int(valid.sum())
    for i in range(num):
        data.save_count_map(i, counts[i])
    data.save_flow_stats(stats)
    return data


def synthetic_pair_fn(clip) -> FlowFn:
    """Exact flows of an ``omnimotion.synthetic`` clip; occluded points that stay in frame count as
    occluded-but-reliable for gaps < 3 (as the official filter keeps them), others are unreliable."""
    from omnimotion.coords import inside_image

    def pair(i, j):
        flow, occluded = clip.flow(i, j)
        grid = np.stack(np.meshgrid(np.arange(clip.width), np.arange(clip.height)), -1)
        landed_inside = inside_image(grid + flow, clip.height, clip.width)
        occluded_reliable = occluded & landed_inside & (abs(i - j) < 3)
        return flow, ~occluded, occluded_reliable
    return pair


def endpoint_errors(model, clip, pairs: list[tuple[int, int]]) -> tuple[float, float]:
    """(model, zero motion): mean end-point error in pixels of the model's (max-weight) flow i -> j and of zero
    motion against the exact flow of ``clip``, over the pixels visible in j, averaged over ``pairs``."""
    device = next(model.parameters()).device
    model_err, zero_err = [], []
    for i, j in pairs:
        gt, occluded = clip.flow(i, j)
        pred = predicted_flow(model, i, j, (clip.height, clip.width), 1, 4096, device)
        model_err.append(np.linalg.norm(pred - gt, axis=-1)[~occluded].mean())
        zero_err.append(np.linalg.norm(gt, axis=-1)[~occluded].mean())
    return float(np.mean(model_err)), float(np.mean(zero_err))
