"""OmniMotionModel: the quasi-3D representation of one video and frame-to-frame correspondence
(docs/method.md#representation).

Conventions (see :mod:`omnimotion.coords`): pixels ``(x, y)`` with integer centres; a frame's local volume is
``[-1, 1]^2 x [min_depth, max_depth]`` seen by a fixed orthographic camera; frames are indices
``0 .. num_frames-1`` whose time input is ``t = (i + 1) / num_frames`` (so a model is tied to its frame count).
Shapes: ``n`` points/rays, ``k`` samples per ray; frame indices are long ``[n]``.

A correspondence reads as named steps: lift the pixel to k samples on its ray (:meth:`lift`) -> map them to
the canonical volume with frame i's code (:meth:`to_canonical`) -> query the canonical field and composite
along the ray (:meth:`ray_weights`) -> map the canonical samples into frame j (:meth:`from_canonical`) ->
composite (training) or take the max-weight sample (inference) -> project.

Submodules carry the official checkpoint names: ``feature_mlp`` (time GaborNet -> latent codes),
``deform_mlp`` (the bijection, including the affine pre-layer) and ``color_mlp`` (canonical GaborNet); the
official checkpoint keeps one state dict per submodule under those names.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from omnimotion.coords import pixel_grid
from omnimotion.model.bijection import Bijection
from omnimotion.model.canonical import CanonicalField
from omnimotion.model.config import ModelConfig
from omnimotion.model.gabor import GaborNet
from omnimotion.model.render import (alpha_composite, composite, depth_range_mask, occlusion_eps,
                                     occlusion_score_from_weights, project, sample_ray_depths,
                                     select_max_weight, unproject)
from omnimotion.model.variant import ModelVariant

__all__ = ["OmniMotionModel", "OmniMotionVariant", "Correspondence", "ModelConfig", "SUBMODULES"]

SUBMODULES = ("feature_mlp", "deform_mlp", "color_mlp")
"""The networks of the model, named as in the official checkpoint (one parameter group and entry each)."""

NEAR_MASK_FRACTION = 0.2  # share of nearest samples whose alpha ``mask_near`` zeroes (official value)


class Correspondence(NamedTuple):
    """Frame i -> frame j correspondences of ``n`` source pixels with ``k`` samples per ray."""

    points_j: Tensor
    """``[n, 2]`` predicted pixels (x, y) in frame j."""
    depth_j: Tensor
    """``[n]`` predicted depth in frame j's local volume."""
    weights: Tensor
    """``[n, k]`` compositing weights along the source ray (depth-range masked when stratified)."""
    samples_i: Tensor
    """``[n, k, 3]`` ray samples in frame i's local volume (normalised x, y; depth z)."""
    samples_j: Tensor
    """``[n, k, 3]`` the same samples mapped into frame j's local volume."""
    rgb_i: Tensor
    """``[n, 3]`` rendered colour of the source ray in ``[0, 1]`` (unmasked weights, as officially)."""
    ray_depths: Tensor
    """``[n, k]`` the sample depths ``z_k`` used (stratified in training), for the distortion loss."""
    canonical: Tensor
    """``[n, k, 3]`` the source samples in the canonical volume: ``from_canonical(canonical[idx], frames)`` maps
    them to further frames without repeating the forward map (same values and gradients as ``map_between``)."""


class OmniMotionModel(nn.Module):
    """Latent codes, bijection and canonical field of one video of ``num_frames`` frames of size ``image_hw``."""

    def __init__(self, cfg: ModelConfig, num_frames: int, image_hw: tuple[int, int]) -> None:
        super().__init__()
        if num_frames < 1 or min(image_hw) < 2:
            raise ValueError(f"need num_frames >= 1 and an image of at least 2x2 pixels, got "
                             f"num_frames={num_frames}, image_hw={tuple(image_hw)}")
        self.cfg = cfg
        self.num_frames = int(num_frames)
        self.height, self.width = int(image_hw[0]), int(image_hw[1])
        # creation order as in the official trainer, so a seed gives the official initialisation
        self.feature_mlp = GaborNet(1, cfg.time_hidden, cfg.code_dim, n_layers=cfg.time_layers,
                                    input_scale=cfg.input_scale, alpha=cfg.time_alpha)
        self.deform_mlp = Bijection(cfg.num_coupling_layers, cfg.code_dim, cfg.nvp_hidden, cfg.nvp_hidden_layers,
                                    cfg.pe_freq, cfg.use_affine, cfg.affine_num_layers)
        self.color_mlp = CanonicalField(cfg.canonical_hidden, cfg.canonical_layers, cfg.canonical_alpha,
                                        cfg.input_scale)

    @property
    def image_hw(self) -> tuple[int, int]:
        """(H, W) of the fitted frames in pixels."""
        return self.height, self.width

    # -- latent codes -------------------------------------------------------------------------------------------
    def frame_codes(self, frames: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Frames ``[n]`` -> (codes ``[u, d]``, times ``[u]``, index ``[n]``) for the ``u`` distinct frames.

        The code GaborNet runs once per distinct frame; ``index`` maps each entry of ``frames`` to its row.
        """
        if frames.dtype.is_floating_point or frames.dtype == torch.bool or frames.dim() != 1:
            raise TypeError(f"frame indices must be a 1-D integer tensor, got {frames.dtype} {tuple(frames.shape)}")
        unique, index = torch.unique(frames, return_inverse=True)
        if unique.numel() and (unique[0] < 0 or unique[-1] >= self.num_frames):
            raise ValueError(f"frame indices must lie in [0, {self.num_frames - 1}] for this model, got "
                             f"{unique[0].item()}..{unique[-1].item()}")
        times = (unique.to(torch.float32) + 1.0) / self.num_frames
        return self.feature_mlp(times[:, None]), times, index

    # -- named steps --------------------------------------------------------------------------------------------
    def lift(self, pixels: Tensor, stratified: bool,
             generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Pixels ``[n, 2]`` -> ray samples ``[n, k, 3]`` in their frame's local volume and depths ``[n, k]``.

        ``generator`` (on the pixels' device) drives the stratified jitter; ``None`` uses the global RNG.
        """
        if pixels.dim() != 2 or pixels.shape[1] != 2:
            raise ValueError(f"pixels must have shape [n, 2] (x, y), got {tuple(pixels.shape)}")
        cfg = self.cfg
        pixels = pixels.to(self.color_mlp.output_linear.weight.dtype)   # e.g. float64 from numpy
        depths = sample_ray_depths(pixels.shape[0], cfg.num_samples_ray, cfg.min_depth, cfg.max_depth,
                                   stratified, generator=generator, device=pixels.device, dtype=pixels.dtype)
        return unproject(pixels, depths, self.height, self.width), depths

    def to_canonical(self, x: Tensor, frames: Tensor) -> Tensor:
        """Local points ``[n, k, 3]`` of frames ``[n]`` -> canonical points ``[n, k, 3]``."""
        codes, times, index = self.frame_codes(frames)
        return self.deform_mlp(x, codes, times, index)

    def from_canonical(self, u: Tensor, frames: Tensor) -> Tensor:
        """Canonical points ``[n, k, 3]`` -> local points ``[n, k, 3]`` of frames ``[n]``."""
        codes, times, index = self.frame_codes(frames)
        return self.deform_mlp.inverse(u, codes, times, index)

    def map_between(self, x: Tensor, frame_i: Tensor, frame_j: Tensor) -> Tensor:
        """Local points ``[n, k, 3]`` of frames ``frame_i [n]`` -> local points of frames ``frame_j [n]``."""
        return self.from_canonical(self.to_canonical(x, frame_i), frame_j)

    def ray_weights(self, u: Tensor, mask_near: bool = False) -> tuple[Tensor, Tensor]:
        """Canonical samples ``[n, k, 3]`` of rays (near to far) -> weights ``[n, k]`` and colours ``[n, k, 3]``."""
        density, rgb = self.color_mlp.density_and_rgb(u)
        num_masked = int(self.cfg.num_samples_ray * NEAR_MASK_FRACTION) if mask_near else 0
        return alpha_composite(density, num_masked), rgb

    # -- the public operations ----------------------------------------------------------------------------------
    def correspondences(self, pts_i: Tensor, frame_i: Tensor, frame_j: Tensor, *, stratified: bool,
                        use_max_loc: bool = False, mask_near: bool = False,
                        generator: torch.Generator | None = None) -> Correspondence:
        """Where the pixels ``pts_i [n, 2]`` of frames ``frame_i [n]`` are in frames ``frame_j [n]``
        (docs/method.md#correspondence-between-frames).

        Training (``stratified=True``): jittered samples; weights of samples mapped outside
        ``[min_depth, max_depth]`` in frame j are zeroed and the rest composited without renormalisation.
        Inference (``stratified=False``, ``use_max_loc=True``): fixed samples, the max-weight sample's position.
        ``mask_near`` applies the official early-training trick (the trainer passes
        ``cfg.mask_near and step < 4000``); ``generator`` drives the stratified jitter.
        """
        if not (frame_i.shape == frame_j.shape == pts_i.shape[:1]):
            raise ValueError(f"frame_i {tuple(frame_i.shape)} and frame_j {tuple(frame_j.shape)} must both have "
                             f"shape [n] for pts_i {tuple(pts_i.shape)}")
        cfg = self.cfg
        samples_i, depths = self.lift(pts_i, stratified, generator)
        canonical = self.to_canonical(samples_i, frame_i)
        weights, rgb = self.ray_weights(canonical, mask_near)
        rgb_i = composite(weights, rgb)
        samples_j = self.from_canonical(canonical, frame_j)
        if stratified:
            weights = weights * depth_range_mask(samples_j[..., 2], cfg.min_depth, cfg.max_depth)
        point_j = select_max_weight(weights, samples_j) if use_max_loc else composite(weights, samples_j)
        points_j, depth_j = project(point_j, self.height, self.width)
        return Correspondence(points_j, depth_j, weights, samples_i, samples_j, rgb_i, depths, canonical)

    def occlusion_score(self, pts_j: Tensor, depth_j: Tensor, frame_j: Tensor) -> Tensor:
        """Light absorbed in front of each point along frame j's own ray, ``[n]`` (docs/method.md#occlusion).

        ``pts_j [n, 2]`` pixels and ``depth_j [n]`` local depths in frames ``frame_j [n]`` (as returned by
        :meth:`correspondences`). Weights of samples at ``z_k >= depth_j - eps`` are dropped, with
        ``eps = 1.1 (max_depth - min_depth) / K``; a point is occluded iff the score exceeds ``occlusion_th``.
        """
        cfg = self.cfg
        samples, depths = self.lift(pts_j, stratified=False)
        weights, _ = self.ray_weights(self.to_canonical(samples, frame_j))
        eps = occlusion_eps(cfg.min_depth, cfg.max_depth, cfg.num_samples_ray)
        return occlusion_score_from_weights(weights, depths, depth_j, eps)

    @torch.no_grad()
    def render_depth(self, frame: int, chunk_size: int = 8192) -> Tensor:
        """Pseudo-depth ``sum_k w_k z_k`` of every pixel of ``frame``: ``[H, W]`` (for visualisation)."""
        return self._render(frame, chunk_size)[..., 3]

    @torch.no_grad()
    def render_rgb(self, frame: int, chunk_size: int = 8192) -> Tensor:
        """Rendered colour of every pixel of ``frame``: ``[H, W, 3]`` in ``[0, 1]``."""
        return self._render(frame, chunk_size)[..., :3]

    def _render(self, frame: int, chunk_size: int) -> Tensor:
        """``[H, W, 4]``: rendered (r, g, b, depth) of every pixel of ``frame``, ``chunk_size`` rays at a time."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        device = self.color_mlp.output_linear.weight.device
        pixels = torch.from_numpy(pixel_grid(self.height, self.width)).reshape(-1, 2).to(device)
        out = []
        for chunk in pixels.split(chunk_size):
            samples, depths = self.lift(chunk, stratified=False)
            frames = torch.full((chunk.shape[0],), int(frame), dtype=torch.long, device=device)
            weights, rgb = self.ray_weights(self.to_canonical(samples, frames))
            out.append(torch.cat([composite(weights, rgb), composite(weights, depths[..., None])], dim=-1))
        return torch.nan_to_num(torch.cat(out)).reshape(self.height, self.width, 4)


class OmniMotionVariant(ModelVariant):
    """The faithful model: settings in the ``model`` section; one parameter group and one checkpoint entry
    per network (``SUBMODULES``, the official checkpoint's layout); renders colour."""

    config_class = ModelConfig
    config_section = "model"
    model_class = OmniMotionModel
    renders_color = True

    def build(self, cfg: ModelConfig, num_frames: int, image_hw: tuple[int, int]) -> OmniMotionModel:
        return OmniMotionModel(cfg, num_frames, image_hw)

    def parameter_groups(self, model: OmniMotionModel) -> dict[str, list[nn.Parameter]]:
        return {name: list(module.parameters()) for name, module in self.state_modules(model).items()}

    def state_modules(self, model: OmniMotionModel) -> dict[str, nn.Module]:
        return {name: getattr(model, name) for name in SUBMODULES}
