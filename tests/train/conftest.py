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


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    """A tiny prepared sequence (8 frames, 32x32, translating sprite) with exact flows; shared, read-only."""
    from omnimotion.synthetic import make_clip

    clip = make_clip(num_frames=8, height=32, width=32, num_sprites=1, motion="translate", seed=3)
    data = write_prepared_dir(tmp_path_factory.mktemp("synthetic") / "clip", clip.video, synthetic_pair_fn(clip))
    return data, clip
