"""Fixtures for training tests: prepared data directories with exact flows and masks."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from omnimotion.io.datadir import DataDir

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


@pytest.fixture
def prepared_dir_factory(tmp_path) -> Callable[..., DataDir]:
    def make(video: np.ndarray, pair_fn: FlowFn, name: str = "clip") -> DataDir:
        return write_prepared_dir(tmp_path / name, video, pair_fn)
    return make
