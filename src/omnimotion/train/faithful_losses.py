"""Training of the faithful model (``method = omnimotion``, docs/method.md#training): the official losses and schedule.

One step evaluates the fused forward pass (``forward.training_forward``: stratified correspondences and the
scene-flow smoothness samples) and every term of ``losses.compute_losses``, weighted by the official schedule
(``schedules.loss_weights``). The three networks train at the official learning rates.
"""

from __future__ import annotations

import torch
from torch import Tensor

from omnimotion.model import OmniMotionModel
from omnimotion.train.forward import training_forward
from omnimotion.train.losses import VariantLosses, compute_losses
from omnimotion.train.sampler import CorrespondenceBatch
from omnimotion.train.schedules import loss_weights

__all__ = ["FaithfulLosses", "MASK_NEAR_STEPS"]

MASK_NEAR_STEPS = 4000  # official: mask_near acts during the first 4k steps


class FaithfulLosses(VariantLosses):
    """The official objective of ``OmniMotionModel`` (see the module docstring)."""

    def learning_rates(self) -> dict[str, float]:
        tcfg = self.tcfg
        return {"feature_mlp": tcfg.lr_feature, "deform_mlp": tcfg.lr_deform, "color_mlp": tcfg.lr_color}

    def terms(self, model: OmniMotionModel, batch: CorrespondenceBatch, step: int) -> dict[str, Tensor]:
        mcfg = model.cfg
        inputs = training_forward(model, batch, self._smoothness_index(batch.frame_i),
                                  mask_near=mcfg.mask_near and step < MASK_NEAR_STEPS, generator=self.generator)
        return compute_losses(inputs, self.image_hw, mcfg.min_depth, mcfg.max_depth, self.tcfg.max_padding)

    def weights(self, step: int) -> dict[str, float]:
        return loss_weights(step, self.tcfg)

    def _smoothness_index(self, frame_i: Tensor) -> Tensor:
        """The first num_pts // 4 points of each pair whose source frame has both neighbours (official)."""
        per_pair = self.tcfg.num_pts
        first = torch.arange(max(per_pair // 4, 1), device=frame_i.device)
        index = (torch.arange(self.tcfg.num_pairs, device=frame_i.device)[:, None] * per_pair + first).reshape(-1)
        frames = frame_i[index]
        return index[(frames >= 1) & (frames <= self.num_frames - 2)]
