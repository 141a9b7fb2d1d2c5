"""OmniMotion training losses (docs/method.md#losses) as pure functions, the one weighted sum, and
``VariantLosses``, the training side of a model variant (its learning rates, loss terms and weights).

Shapes: ``n`` correspondences (pairs x points, flattened in pair order), ``k`` samples per ray.
Points are ``(x, y)`` pixels of the prepared frames (integer pixel centres, coords.py); 3D samples are in
a frame's local volume ``[-1,1]^2 x [min_depth, max_depth]``; colours are in [0, 1].

"Robust L1" everywhere is the official one: the per-element error (mean over the last dimension) with
every element equal to the batch maximum dropped; in practice the single largest error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch
from torch import Tensor, nn

from omnimotion import coords
from omnimotion.io.datadir import DataDir
from omnimotion.train.options import TrainConfig
from omnimotion.train.sampler import CorrespondenceBatch

__all__ = ["VariantLosses", "LossInputs", "robust_l1", "flow_loss", "consecutive_difference_loss", "rgb_loss",
           "depth_range_loss", "distortion_loss", "scene_flow_smooth_loss", "compute_losses",
           "weighted_total", "inside_image"]


class LossInputs(NamedTuple):
    """What one step's losses need.

    pred_j [n,2] px, gt_j [n,2] px, weights [n] pair/point weights (0 = no flow supervision),
    pred_rgb_i / gt_rgb_i [n,3], pts_i [n,2] px, mapped_depths [n,k] depth of samples mapped to frame j,
    ray_depths [n,k] stratified sample depths in frame i, ray_weights [n,k] compositing weights,
    smooth_x / smooth_prev / smooth_next [m,k,3] samples in frame i mapped to i-1 and i+1 (or None).
    """

    pred_j: Tensor
    gt_j: Tensor
    weights: Tensor
    pred_rgb_i: Tensor
    gt_rgb_i: Tensor
    pts_i: Tensor
    mapped_depths: Tensor
    ray_depths: Tensor
    ray_weights: Tensor
    smooth_x: Tensor | None = None
    smooth_prev: Tensor | None = None
    smooth_next: Tensor | None = None


def robust_l1(pred: Tensor, gt: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean of ``weight * mean_last_dim(|pred - gt|)`` over elements strictly below the maximum error.

    pred, gt ``[n, d]``; weight ``[n]`` or None. Not normalised by the weights (official ``normalize=False``).
    When no element is below the maximum (n <= 1 or all equal) the loss is 0 with a gradient path.
    """
    err = (pred - gt).abs().mean(dim=-1)
    if err.numel() == 0:
        return pred.sum() * 0.0
    keep = err < err.detach().max()
    weighted = err if weight is None else err * weight
    return (weighted * keep).sum() / keep.sum().clamp(min=1)


def inside_image(points: Tensor, image_hw: tuple[int, int], padding: float = 0.0) -> Tensor:
    """Bool ``[n]``: (x, y) px lies within [-padding, W-1+padding] x [-padding, H-1+padding]."""
    height, width = image_hw
    # Shifting by the padding and enlarging the frame reuses the one definition in coords.py.
    return coords.inside_image(points + padding, height + 2 * padding, width + 2 * padding)


def flow_loss(pred_j: Tensor, gt_j: Tensor, weights: Tensor, valid: Tensor) -> Tensor:
    """Weighted robust L1 in pixels over ``valid`` predictions (those inside the frame)."""
    return robust_l1(pred_j[valid], gt_j[valid], weights[valid])


def consecutive_difference_loss(pred: Tensor, gt: Tensor, weights: Tensor | None = None) -> Tensor:
    """Robust L1 of (pred[m+1] - pred[m]) - (gt[m+1] - gt[m]), weighted by w[m] * w[m+1].

    Used for the optical-flow-gradient (on ``pred_j``) and rgb-gradient (on colours) terms: it compares
    relative positions / colours of consecutive, usually distant, sampled points.
    """
    if pred.shape[0] < 2:
        return pred.sum() * 0.0
    pair_weights = None if weights is None else weights[1:] * weights[:-1]
    return robust_l1(pred[1:] - pred[:-1], gt[1:] - gt[:-1], pair_weights)


def rgb_loss(pred_rgb: Tensor, gt_rgb: Tensor) -> Tensor:
    """Mean squared error of colours ``[n, 3]``."""
    return ((pred_rgb - gt_rgb) ** 2).mean()


def depth_range_loss(depths: Tensor, min_depth: float, max_depth: float) -> Tensor:
    """Squared excursion of mapped depths outside [min_depth, max_depth], summed / numel."""
    below = (depths - min_depth).clamp(max=0.0)
    above = (depths - max_depth).clamp(min=0.0)
    return (below ** 2 + above ** 2).sum() / max(depths.numel(), 1)


def distortion_loss(ray_depths: Tensor, ray_weights: Tensor) -> Tensor:
    """mip-NeRF 360 distortion with edges [z_1..z_K, z_K] (last interval has zero width), mean over rays."""
    edges = torch.cat([ray_depths, ray_depths[..., -1:]], dim=-1)
    mids = 0.5 * (edges[..., 1:] + edges[..., :-1])
    widths = edges[..., 1:] - edges[..., :-1]
    spread = (mids[..., :, None] - mids[..., None, :]).abs()
    inter = (ray_weights[..., :, None] * ray_weights[..., None, :] * spread).sum(dim=(-1, -2))
    intra = (ray_weights ** 2 * widths).sum(dim=-1) / 3.0
    return (inter + intra).mean()


def scene_flow_smooth_loss(x: Tensor, x_prev: Tensor, x_next: Tensor) -> Tensor:
    """Robust L1 of (x - x_prev) - (x_next - x) over all samples ``[m, k, 3]`` (constant 3D velocity)."""
    return robust_l1((x - x_prev).reshape(-1, 3), (x_next - x).reshape(-1, 3))


def compute_losses(inputs: LossInputs, image_hw: tuple[int, int], min_depth: float, max_depth: float,
                   max_padding: float = 0.0) -> dict[str, Tensor]:
    """Every loss term of one step, unweighted; keys match ``schedules.loss_weights``."""
    valid_j = inside_image(inputs.pred_j, image_hw, max_padding)
    valid_i = inside_image(inputs.pts_i, image_hw)
    terms = {
        "flow": flow_loss(inputs.pred_j, inputs.gt_j, inputs.weights, valid_j),
        "flow_grad": consecutive_difference_loss(inputs.pred_j[valid_j], inputs.gt_j[valid_j],
                                                 inputs.weights[valid_j]),
        "rgb": rgb_loss(inputs.pred_rgb_i[valid_i], inputs.gt_rgb_i[valid_i]),
        "rgb_grad": consecutive_difference_loss(inputs.pred_rgb_i[valid_i], inputs.gt_rgb_i[valid_i]),
        "depth_range": depth_range_loss(inputs.mapped_depths, min_depth, max_depth),
        "distortion": distortion_loss(inputs.ray_depths, inputs.ray_weights),
    }
    if inputs.smooth_x is not None and inputs.smooth_x.shape[0] > 0:
        terms["scene_flow_smooth"] = scene_flow_smooth_loss(inputs.smooth_x, inputs.smooth_prev,
                                                            inputs.smooth_next)
    else:
        terms["scene_flow_smooth"] = inputs.pred_j.sum() * 0.0
    return terms


def weighted_total(terms: dict[str, Tensor], weights: dict[str, float]) -> Tensor:
    """The training loss: sum of ``weights[name] * terms[name]``; terms with weight 0 are skipped.

    Raises KeyError naming a term that has no weight (so a new term cannot be silently dropped).
    """
    missing = sorted(set(terms) - set(weights))
    if missing:
        raise KeyError(f"loss terms without a weight: {missing}")
    total = None
    for name, term in terms.items():
        if weights[name] == 0.0:
            continue
        total = weights[name] * term if total is None else total + weights[name] * term
    if total is None:
        return next(iter(terms.values())) * 0.0
    return total


class VariantLosses(ABC):
    """How the models of one variant are trained, built per run (registered by method name in
    ``omnimotion.train.variant_losses``).

    ``tcfg`` is the run's training configuration, ``num_frames`` and ``image_hw`` (H, W) the fitted frames,
    ``generator`` the trainer's checkpointed generator for random choices inside a step.
    """

    def __init__(self, tcfg: TrainConfig, num_frames: int, image_hw: tuple[int, int],
                 generator: torch.Generator):
        self.tcfg = tcfg
        self.num_frames = num_frames
        self.image_hw = image_hw
        self.generator = generator

    @abstractmethod
    def learning_rates(self) -> dict[str, float]:
        """The learning rate of every parameter group the model variant names (``parameter_groups``)."""

    @abstractmethod
    def terms(self, model: nn.Module, batch: CorrespondenceBatch, step: int) -> dict[str, Tensor]:
        """Every unweighted loss term of one step at ``step`` for ``batch`` (on the model's device)."""

    @abstractmethod
    def weights(self, step: int) -> dict[str, float]:
        """The weight of every term ``terms`` returns, at ``step``."""

    def initialise(self, model: nn.Module, data: DataDir) -> None:
        """Set up a fresh model from the data directory before training starts (a resumed run then loads
        its checkpoint over it); nothing by default."""
