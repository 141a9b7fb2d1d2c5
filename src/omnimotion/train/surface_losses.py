"""Training losses of the fast single-surface variant (``method = surface``, docs/method.md#single-surface-variant).

No RGB term and no ray samples: one step maps the batch's pixels with ``SurfaceModel.correspondences`` and
evaluates
* ``flow`` / ``flow_grad``: the faithful method's robust L1 on the mapped pixels and on differences of
  consecutive points (``losses.flow_loss``, ``losses.consecutive_difference_loss``);
* ``depth_consistency``: ``|depth_j - surface_depth_j|`` on covisible correspondences that land inside frame j
  (a visible point must lie on the target's surface, otherwise the depth test means nothing);
* ``occlusion_hinge``: ``relu(2 * tolerance - (depth_j - surface_depth_j))`` on occluded-but-reliable
  correspondences, pushing them behind the target's surface by twice the occlusion tolerance;
* ``depth_smooth``: mean absolute difference of neighbouring cells of every frame's depth grid;
* ``temporal_smooth``: mean |p(t-1) - 2 p(t) + p(t+1)| px of the trajectories through the first
  ``SMOOTH_POINTS`` batch points' canonical points, t each point's frame j (the acceleration that TAP-Vid's
  temporal coherence measures; chained flow has little of it, an unconstrained fit more).

Occluded-but-reliable pairs are recognised from the batch alone: the sampler draws pixels of pairs more than
one frame apart only where the flow is reliable or occluded-but-reliable, and reverse-direction points keep
a weight only when covisible, so ``weight > 0 & ~covisible & |j - i| >= 2`` is exactly that set.

``SurfaceLosses`` bundles them for the trainer, with the learning rates of the model's parameter groups and the
depth initialisation from user depth maps (``depth_init``).

Shapes: ``n`` correspondences; points ``(x, y)`` px of the fitted frames; depths in local-volume units.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from omnimotion.io.datadir import DataDir
from omnimotion.io.depth_maps import depth_dir, load_depth_maps
from omnimotion.model.surface import SurfaceModel, normalize_depth_maps
from omnimotion.train.losses import VariantLosses, consecutive_difference_loss, flow_loss, inside_image
from omnimotion.train.options import TrainConfig
from omnimotion.train.sampler import CorrespondenceBatch

__all__ = ["SurfaceLosses", "surface_loss_terms", "surface_loss_weights", "depth_grid_smoothness", "masked_mean",
           "trajectory_acceleration", "SMOOTH_POINTS"]

log = logging.getLogger(__name__)

SMOOTH_POINTS = 256
"""Batch points whose trajectories the temporal-smoothness term follows (two extra inverse maps each)."""


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values [n]`` where ``mask [n]``; 0 (with a gradient path) when the mask is empty."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def depth_grid_smoothness(cells: Tensor) -> Tensor:
    """Mean absolute difference of horizontally and vertically neighbouring cells of ``cells [T, gh, gw]``."""
    dx = (cells[:, :, 1:] - cells[:, :, :-1]).abs()
    dy = (cells[:, 1:, :] - cells[:, :-1, :]).abs()
    return (dx.sum() + dy.sum()) / max(dx.numel() + dy.numel(), 1)


def trajectory_acceleration(model: SurfaceModel, canonical: Tensor, frame: Tensor) -> Tensor:
    """|p(t-1) - 2 p(t) + p(t+1)| px ``[n]`` of canonical points ``[n, 3]`` around frames ``frame [n]``.

    Frames at the ends of the clip are moved inward by one, so every point has both neighbours.
    """
    centre = frame.clamp(1, max(model.num_frames - 2, 1))
    before, now, after = (model.project(model.bijection.inverse(canonical, centre + offset))[0]
                          for offset in (-1, 0, 1))
    return (before - 2 * now + after).norm(dim=-1)


def surface_loss_terms(model: SurfaceModel, batch: CorrespondenceBatch, image_hw: tuple[int, int],
                       max_padding: float = 0.0, temporal_smooth: bool = True) -> dict[str, Tensor]:
    """Every unweighted loss term of one step; keys match ``surface_loss_weights``.

    ``temporal_smooth=False`` leaves that term out (it costs two inverse maps: skip it at weight 0).
    """
    corr = model.correspondences(batch.pts_i, batch.frame_i, batch.frame_j)
    valid_j = inside_image(corr.points_j, image_hw, max_padding)
    gap = corr.depth_j - corr.surface_depth_j
    covisible = batch.covisible & inside_image(corr.points_j, image_hw)
    occluded = (batch.weights > 0) & ~batch.covisible & ((batch.frame_j - batch.frame_i).abs() >= 2)
    tolerance = model.cfg.depth_tolerance
    terms = {
        "flow": flow_loss(corr.points_j, batch.pts_j, batch.weights, valid_j),
        "flow_grad": consecutive_difference_loss(corr.points_j[valid_j], batch.pts_j[valid_j],
                                                 batch.weights[valid_j]),
        "depth_consistency": masked_mean(gap.abs(), covisible.float()),
        "occlusion_hinge": masked_mean(torch.relu(2 * tolerance - gap), occluded.float()),
        "depth_smooth": depth_grid_smoothness(model.depth.cells()),
    }
    if temporal_smooth:
        terms["temporal_smooth"] = _temporal_smooth(model, corr.canonical, batch.frame_j)
    return terms


def _temporal_smooth(model: SurfaceModel, canonical: Tensor, frame: Tensor) -> Tensor:
    if model.num_frames < 3:
        return canonical.sum() * 0.0
    return trajectory_acceleration(model, canonical[:SMOOTH_POINTS], frame[:SMOOTH_POINTS]).mean()


def surface_loss_weights(cfg: TrainConfig) -> dict[str, float]:
    """Constant weights of the surface terms (no schedule: nothing needs a warm-up without RGB and rays)."""
    return {"flow": 1.0, "flow_grad": 0.1, "depth_consistency": cfg.depth_consistency_weight,
            "occlusion_hinge": cfg.occlusion_hinge_weight, "depth_smooth": cfg.depth_smooth_weight,
            "temporal_smooth": cfg.temporal_smooth_weight}


class SurfaceLosses(VariantLosses):
    """The objective of ``SurfaceModel``: ``surface_loss_terms`` at the constant ``surface_loss_weights``."""

    def learning_rates(self) -> dict[str, float]:
        tcfg = self.tcfg
        return {"heads": tcfg.lr_heads, "grids": tcfg.lr_grids, "depth": tcfg.lr_depth}

    def terms(self, model: SurfaceModel, batch: CorrespondenceBatch, step: int) -> dict[str, Tensor]:
        return surface_loss_terms(model, batch, self.image_hw, self.tcfg.max_padding,
                                  temporal_smooth=self.tcfg.temporal_smooth_weight > 0)

    def weights(self, step: int) -> dict[str, float]:
        return surface_loss_weights(self.tcfg)

    def initialise(self, model: SurfaceModel, data: DataDir) -> None:
        """Start the depth from ``depth/<frame>.npy`` as ``depth_init`` says (``auto``: when the folder exists)."""
        choice = self.tcfg.depth_init
        folder = depth_dir(data)
        if choice == "off" or (choice == "auto" and not folder.is_dir()):
            return
        maps = load_depth_maps(data)[: self.num_frames]
        cfg = model.cfg
        model.init_depth(normalize_depth_maps(maps, (cfg.min_depth, cfg.max_depth),
                                              is_disparity=self.tcfg.depth_is_disparity))
        log.info("depth initialised from %d user depth maps in %s", len(maps), folder)
