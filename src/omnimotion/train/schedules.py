"""Step-dependent weights and windows of the official training schedule (docs/method.md#schedules).

All functions are pure functions of the step; ``TrainConfig.schedule_scale`` stretches or compresses the
loss-weight ramps (1.0 = official) and ``interval_growth_steps`` the frame-gap window growth.
"""

from __future__ import annotations

import math

from omnimotion.train.options import TrainConfig

__all__ = ["ramp", "loss_weights", "max_interval", "pair_weight"]


def ramp(step: int, start: float, slope: float, low: float, high: float) -> float:
    """clip(slope * (step - start), low, high), and 0 while step <= start (official weight_scheduler)."""
    if step <= start:
        return 0.0
    return float(min(max(slope * (step - start), low), high))


def loss_weights(step: int, cfg: TrainConfig) -> dict[str, float]:
    """The weight of every loss term at ``step``; keys match ``losses.compute_losses``.

    Official: rgb ramps 0 -> 10 over 50k steps, flow-gradient 0 -> 0.1 over 50k, distortion starts at
    40k and reaches 10 at 60k; flow 1, depth range 10, scene-flow smoothness 20.
    """
    rgb = ramp(step, 0.0, 1.0 / cfg.steps(5000), 0.0, 10.0)
    return {
        "flow": 1.0,
        "rgb": rgb,
        "rgb_grad": rgb,
        "depth_range": 10.0,
        "distortion": ramp(step, cfg.steps(40000), 1.0 / cfg.steps(2000), 0.0, 10.0),
        "scene_flow_smooth": 20.0,
        "flow_grad": ramp(step, 0.0, 1.0 / cfg.steps(500000), 0.0, 0.1),
    }


def max_interval(step: int, cfg: TrainConfig, num_frames: int) -> int:
    """Largest frame gap sampled at ``step``: min(start_interval + step // growth, N - 1), at least 1."""
    grown = cfg.start_interval + step // max(cfg.interval_growth_steps, 1)
    return max(1, min(grown, num_frames - 1))


def pair_weight(gap: int, window: int) -> float:
    """Flow-loss weight of a pair |i - j| = gap under window M: cos((gap - 1) / M * pi / 2)."""
    return math.cos((abs(gap) - 1) / window * math.pi / 2)
