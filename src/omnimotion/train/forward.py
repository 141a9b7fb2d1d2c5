"""The model evaluations of one training step, fused into one bijection pass each way.

The official step maps the source samples to canonical space three times (once for the correspondence,
once for each neighbour of the scene-flow smoothness term) and back three times. Here the canonical samples
of the correspondence are reused for the smoothness points, and the three inverse maps (to frame j, to
i-1, to i+1) run as one batched call: same values (tests compare it with ``model.correspondences`` +
``model.map_between``), fewer and larger matrix multiplies.

Shapes: ``n`` rays of the batch, ``m`` smoothness rays (a subset), ``k`` samples per ray.
"""

from __future__ import annotations

import torch
from torch import Tensor

from omnimotion.model import OmniMotionModel
from omnimotion.model.render import composite, depth_range_mask, project
from omnimotion.train.losses import LossInputs
from omnimotion.train.sampler import CorrespondenceBatch

__all__ = ["training_forward"]


def training_forward(model: OmniMotionModel, batch: CorrespondenceBatch, smooth_index: Tensor,
                     mask_near: bool = False, generator: torch.Generator | None = None) -> LossInputs:
    """Stratified correspondences of ``batch`` and the smoothness samples of rays ``smooth_index [m]``
    (whose source frames must have both neighbours), packed as loss inputs."""
    cfg = model.cfg
    samples_i, depths = model.lift(batch.pts_i, stratified=True, generator=generator)
    canonical = model.to_canonical(samples_i, batch.frame_i)
    weights, rgb = model.ray_weights(canonical, mask_near)
    rgb_i = composite(weights, rgb)  # unmasked weights, as officially
    source = batch.frame_i[smooth_index]
    picked = canonical[smooth_index]
    mapped = model.from_canonical(torch.cat([canonical, picked, picked]),
                                  torch.cat([batch.frame_j, source - 1, source + 1]))
    n, m = batch.frame_j.shape[0], smooth_index.shape[0]
    samples_j, prev, nxt = mapped[:n], mapped[n:n + m], mapped[n + m:]
    weights = weights * depth_range_mask(samples_j[..., 2], cfg.min_depth, cfg.max_depth)
    pred_j, _ = project(composite(weights, samples_j), model.height, model.width)
    smooth = (samples_i[smooth_index], prev, nxt) if m else (None, None, None)
    return LossInputs(pred_j, batch.pts_j, batch.weights, rgb_i, batch.rgb_i, batch.pts_i,
                      samples_j[..., 2], depths, weights, *smooth)
