"""Correspondence sampling for training with hard-example mining (docs/method.md#sampling,
docs/method.md#hard-example-mining).

One step draws ``num_pairs`` frame pairs and ``num_pts`` pixels per pair. Batches are flattened in pair
order: ``n = num_pairs * num_pts``. Points are ``(x, y)`` pixels at integer pixel centres (coords.py);
targets are ``p + flow_{i->j}(p)``; colours are float in [0, 1].

Memory: frames, count maps, the pair-statistics matrix and (when mining) the error maps are held in
memory from the start. Flows and masks are read on demand through an LRU cache of
``TrainConfig.flow_cache_size`` pairs kept in float32 (exact targets; about 0.66 MB per pair at 256x256), since
all pairs of a 50-frame 256x256 clip would take 1.3 GB.

A data directory prepared with ``--max_gap`` G holds only the pairs at most G frames apart: the window of
partner frames then stops growing at G.

All randomness comes from one numpy Generator whose state is returned by ``state_dict`` so that a resumed
run draws exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import cv2
import numpy as np
import torch
from torch import Tensor

from omnimotion import coords
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.pipeline import prepared_max_gap
from omnimotion.train.options import TrainConfig
from omnimotion.train.schedules import max_interval, pair_weight

__all__ = ["CorrespondenceBatch", "CorrespondenceSampler", "target_probabilities", "eligible_pixels",
           "count_map_probabilities", "error_map_from_flows"]


class CorrespondenceBatch(NamedTuple):
    """frame_i, frame_j long [n]; pts_i, pts_j float [n,2] px; rgb_i, rgb_j float [n,3] in [0,1];
    weights float [n] flow-loss weight; covisible bool [n] (cycle-consistent in the drawn direction)."""

    frame_i: Tensor
    frame_j: Tensor
    pts_i: Tensor
    pts_j: Tensor
    rgb_i: Tensor
    rgb_j: Tensor
    weights: Tensor
    covisible: Tensor

    def to(self, device: torch.device | str) -> "CorrespondenceBatch":
        return CorrespondenceBatch(*(t.to(device) for t in self))


def target_probabilities(source: int, window: int, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Partner frames of ``source`` within the window and their probabilities.

    stats ``[T, T]`` valid-pixel counts. P(j) is proportional to stats[source, j]; after normalising,
    the adjacent frames are set to 0.5 and the vector is renormalised (official). Returns (frames, p).
    """
    num_frames = stats.shape[0]
    frames = np.array([j for j in range(max(0, source - window), min(num_frames, source + window + 1))
                       if j != source])
    counts = stats[source, frames].astype(np.float64)
    prob = counts / counts.sum() if counts.sum() > 0 else np.full(len(frames), 1.0 / len(frames))
    prob[np.abs(frames - source) <= 1] = 0.5
    return frames, prob / prob.sum()


def eligible_pixels(reliable: np.ndarray, occluded: np.ndarray, gap: int) -> tuple[np.ndarray, bool]:
    """Bool ``[H, W]`` of pixels that may be sampled, and whether the pair is usable at all.

    Adjacent pairs use every pixel; others use reliable or occluded-but-reliable pixels. With none,
    every pixel is returned and the pair is marked unusable (its weight becomes 0).
    """
    if abs(gap) == 1:
        return np.ones_like(reliable, dtype=bool), True
    eligible = reliable | occluded
    if not eligible.any():
        return np.ones_like(reliable, dtype=bool), False
    return eligible, True


def count_map_probabilities(count_map: np.ndarray) -> np.ndarray:
    """Unnormalised per-pixel sampling weights ``[H, W]``: 1 / sqrt(count + 1)."""
    return 1.0 / np.sqrt(count_map.astype(np.float64) + 1.0)


def error_map_from_flows(pred_flow: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Hard-mining error ``[H, W]``: 5x5 Gaussian-blurred end-point error of predicted vs input flow."""
    epe = np.linalg.norm(pred_flow.astype(np.float32) - flow.astype(np.float32), axis=-1)
    return cv2.GaussianBlur(epe, (5, 5), 0)


class CorrespondenceSampler:
    """Draws CorrespondenceBatch-es from a prepared data directory; holds the data and the RNG."""

    def __init__(self, data: DataDir, cfg: TrainConfig, num_frames: int | None = None):
        self.data = data
        self.cfg = cfg
        self.num_frames = min(num_frames or data.num_frames, data.num_frames)
        if self.num_frames < 2:
            raise ValueError(f"{data.color_dir} has {data.num_frames} frame(s); training needs at least 2")
        frames = data.load_frames()[: self.num_frames]
        self.frames = torch.from_numpy(frames).float().div_(255.0)  # [T,H,W,3]
        self.image_hw = tuple(frames.shape[1:3])
        self.stats = self._stats_matrix(data.load_flow_stats())
        self.max_gap = prepared_max_gap(data)
        self.count_maps = (np.stack([data.load_count_map(i) for i in range(self.num_frames)])
                           if cfg.use_count_map else None)
        self.error_maps: np.ndarray | None = None  # [T,H,W] float32, set by set_error_maps
        self.frame_errors: np.ndarray | None = None  # [T]
        self.rng = np.random.Generator(np.random.PCG64(cfg.loader_seed))
        self._cache: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    # ----- data -----------------------------------------------------------------------------------
    def _stats_matrix(self, stats: dict[str, dict[str, int]]) -> np.ndarray:
        names = self.data.frame_names[: self.num_frames]
        index = {name: i for i, name in enumerate(names)}
        matrix = np.zeros((self.num_frames, self.num_frames), np.int64)
        for name_i, row in stats.items():
            for name_j, count in row.items():
                if name_i in index and name_j in index:
                    matrix[index[name_i], index[name_j]] = int(count)
        return matrix

    def pair(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(flow float32 [H,W,2], reliable bool [H,W], occluded bool [H,W]) through the LRU cache."""
        key = (i, j)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        reliable, occluded = self.data.load_mask(i, j)
        entry = (self.data.load_flow(i, j), reliable, occluded)
        self._cache[key] = entry
        while len(self._cache) > max(self.cfg.flow_cache_size, 1):
            self._cache.popitem(last=False)
        return entry

    def check_files(self) -> None:
        """Fail early, naming the first missing flow or mask of the pairs training can draw."""
        reach = self.max_gap or self.num_frames
        for i in range(self.num_frames):
            for j in range(max(i - reach, 0), min(i + reach + 1, self.num_frames)):
                if i != j and not (self.data.flow_path(i, j).exists() and self.data.mask_path(i, j).exists()):
                    self.data.load_flow(i, j)  # raises DataDirError naming the file and the command
                    self.data.load_mask(i, j)

    def set_error_maps(self, error_maps: np.ndarray) -> None:
        """Enable hard mining with per-frame error maps ``[T, H, W]`` (from error_map_from_flows)."""
        self.error_maps = np.asarray(error_maps, np.float32)
        self.frame_errors = self.error_maps.reshape(self.num_frames, -1).mean(axis=1)

    # ----- sampling -------------------------------------------------------------------------------
    def sample(self, step: int) -> CorrespondenceBatch:
        """The batch for optimisation step ``step`` (the window depends on it)."""
        window = min(max_interval(step, self.cfg, self.num_frames), self.max_gap or self.num_frames)
        parts = [self._sample_pair(window) for _ in range(self.cfg.num_pairs)]
        fields = list(zip(*parts))
        return CorrespondenceBatch(*(torch.cat(f) for f in fields))

    def _source_frame(self) -> int:
        if self.frame_errors is not None and self.frame_errors.sum() > 0:
            return int(self.rng.choice(self.num_frames, p=self.frame_errors / self.frame_errors.sum()))
        return int(self.rng.integers(self.num_frames))

    def _sample_pair(self, window: int) -> tuple[Tensor, ...]:
        i = self._source_frame()
        frames, prob = target_probabilities(i, window, self.stats)
        j = int(self.rng.choice(frames, p=prob))
        flow, reliable, occluded = self.pair(i, j)
        eligible, usable = eligible_pixels(reliable, occluded, j - i)
        flat = self._choose_pixels(i, eligible, flow)
        height, width = self.image_hw
        ys, xs = np.divmod(flat, width)
        pts_i = np.stack([xs, ys], axis=-1).astype(np.float32)
        pts_j = pts_i + flow[ys, xs]
        weight = pair_weight(j - i, window) if usable else 0.0
        weights = np.full(len(flat), weight, np.float32)
        covisible = reliable[ys, xs]
        rgb_i = self.frames[i][torch.from_numpy(ys), torch.from_numpy(xs)]
        rgb_j = bilinear(self.frames[j], torch.from_numpy(pts_j))
        pts_i, pts_j = torch.from_numpy(pts_i), torch.from_numpy(pts_j)
        frame_i = torch.full((len(flat),), i, dtype=torch.long)
        frame_j = torch.full((len(flat),), j, dtype=torch.long)
        if self.rng.random() < 0.5:
            # Reverse direction: only cycle-consistent points are trusted backwards (docs/method.md#sampling).
            frame_i, frame_j, pts_i, pts_j, rgb_i, rgb_j = frame_j, frame_i, pts_j, pts_i, rgb_j, rgb_i
            weights = weights * covisible
        return (frame_i, frame_j, pts_i, pts_j, rgb_i, rgb_j, torch.from_numpy(weights),
                torch.from_numpy(covisible))

    def _choose_pixels(self, i: int, eligible: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """Flat pixel indices ``[num_pts]`` among the eligible pixels."""
        candidates = np.flatnonzero(eligible)
        num = self.cfg.num_pts
        num_motion = int(round(self.cfg.motion_share * num))
        chosen = []
        if num_motion > 0:
            magnitude = np.linalg.norm(flow.reshape(-1, 2)[candidates], axis=-1) + 1e-3
            chosen.append(self._draw(candidates, magnitude, num_motion))
        rest = num - num_motion
        if self.error_maps is not None and self.cfg.use_error_map:
            chosen.append(self._hard_mined(candidates, self.error_maps[i].reshape(-1), rest))
        elif self.count_maps is not None:
            chosen.append(self._draw(candidates, count_map_probabilities(self.count_maps[i]).reshape(-1)
                                     [candidates], rest))
        else:
            chosen.append(self._draw(candidates, None, rest))
        return np.concatenate(chosen)

    def _draw(self, candidates: np.ndarray, weights: np.ndarray | None, num: int) -> np.ndarray:
        """``num`` of ``candidates`` with p proportional to ``weights``; without replacement if possible."""
        prob = None if weights is None or weights.sum() <= 0 else weights / weights.sum()
        replace = len(candidates) < num or (prob is not None and np.count_nonzero(prob) < num)
        return self.rng.choice(candidates, size=num, replace=replace, p=prob)

    def _hard_mined(self, candidates: np.ndarray, error: np.ndarray, num: int) -> np.ndarray:
        """Half hard, half uniform: ``num`` hard + ``num`` uniform draws, then ``num`` of their union."""
        hard = self._draw(candidates, error[candidates], num)
        uniform = self._draw(candidates, None, num)
        union = np.unique(np.concatenate([hard, uniform]))
        return self.rng.choice(union, size=num, replace=len(union) < num)

    # ----- checkpointing --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """RNG state and mining maps; the window is a function of the step and needs no state."""
        return {"rng": self.rng.bit_generator.state,
                "error_maps": None if self.error_maps is None else torch.from_numpy(self.error_maps)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        if state.get("error_maps") is not None:
            self.set_error_maps(state["error_maps"].numpy())


def bilinear(image: Tensor, points: Tensor) -> Tensor:
    """Sample ``image [H,W,C]`` at ``points [n,2]`` (x, y) px, align_corners (border clamped) -> ``[n,C]``."""
    height, width = image.shape[:2]
    grid = coords.normalize_coords(points, height, width).view(1, 1, -1, 2)
    sampled = torch.nn.functional.grid_sample(image.permute(2, 0, 1)[None], grid, mode="bilinear",
                                              padding_mode="border", align_corners=True)
    return sampled[0, :, 0].T.contiguous()

