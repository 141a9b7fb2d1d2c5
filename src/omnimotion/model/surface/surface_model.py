"""``SurfaceModel``: the fast single-surface variant, with the tracker's model interface
(docs/method.md#single-surface-variant).

One 3D point per pixel: pixel ``p`` of frame i sits at ``(normalize(p), D_i(p))`` in frame i's local
volume, ``D_i`` a learnable low-resolution depth map (``FrameDepth``). A correspondence i -> j reads as
named steps: lift (pixel + depth) -> to canonical (``SurfaceBijection.forward`` with frame i) -> to frame j
(``inverse`` with frame j) -> project. Projection is orthographic, as in the original method and
``omnimotion.coords``: the image position is the point's (x, y), its depth is z, so the fixed camera of
every frame sees the local volume ``[-1, 1]^2 x [min_depth, max_depth]``; camera motion is absorbed by the
bijections. There are no ray samples and no volume rendering, so ``stratified`` and ``use_max_loc`` are
accepted for interface compatibility and have no effect.

Occlusion is a depth test: the mapped point is occluded in frame j iff it lies more than
``depth_tolerance`` behind frame j's own surface at the landing pixel, or lands outside the image
(``omnimotion.model.surface.occlusion``). ``occlusion_score`` turns the gap into a score in ``[0, 1]`` with
``score > 0.5`` exactly the hard test, so the default ``occlusion_th = 0.5`` means "behind by more than the
tolerance".

Training: use ``parameter_groups()`` with heads at about a tenth of the grids' rate (one rate for everything
disrupts or diverges training; benchmarks/NOTES.md). A depth term is needed to make occlusion meaningful:
visible correspondences should land on the target's surface (``|depth_j - surface_depth_j|``), occluded ones
behind it (a hinge at ``2 * depth_tolerance``).

Shapes and units: pixels ``[n, 2]`` (x, y) of the fitted frames (``image_hw``), frames long ``[n]``,
depth ``[n]`` in local-volume units (smaller = nearer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from omnimotion.coords import denormalize_coords, inside_image, normalize_coords
from omnimotion.model.surface.bijection import SurfaceBijection
from omnimotion.model.surface.depth import FrameDepth, depth_grid_shape
from omnimotion.model.surface.occlusion import depth_test_score
from omnimotion.model.variant import ModelVariant

__all__ = ["SurfaceModelConfig", "SurfaceCorrespondences", "SurfaceModel", "SurfaceVariant", "STATE_KEY"]

STATE_KEY = "surface_model"
"""The checkpoint entry holding the whole model's state dict."""


@dataclass
class SurfaceModelConfig:
    """Settings of :class:`SurfaceModel`. ``min_depth``, ``max_depth`` and ``occlusion_th`` share names
    (and meaning: depth range; occluded iff score > threshold) with the faithful ``ModelConfig``."""

    num_bins: int = 8
    """K: bins of each coupling layer's monotonic piecewise-linear map (2K + 2 predicted numbers)."""
    layer_dims: tuple[int, ...] = (2, 0, 1, 2, 0, 1)
    """Coordinate transformed by each coupling layer (0 = x, 1 = y, 2 = z), in forward order."""
    plane_resolutions: tuple[int, ...] = (8, 32, 64)
    """Cells per side of each level of the 2D conditioning planes (levels are summed)."""
    time_resolutions: tuple[float, ...] = (0.125, 0.5, 1.0)
    """Cells of each level of the 1D time embedding, as fractions of the number of frames (1.0 = one
    free vector per frame); each level has at least 2 cells (or 1 for a 1-frame clip)."""
    feature_channels: int = 16
    """C: channels of the planes and of each layer's time feature."""
    space_time_product: bool = True
    """Condition each coupling on the product of plane and time features as well as on each alone
    (False: on each alone; more forgiving of high learning rates, less expressive)."""
    grid_init_std: float = 0.1
    """Standard deviation of the random initial plane and time features (heads start at zero)."""
    xy_bound: float = 1.25
    """Normalised x/y extent of the conditioning planes and of the x/y bin interval (border beyond)."""
    min_depth: float = 0.0
    """Near end of the depth range (local-volume units)."""
    max_depth: float = 2.0
    """Far end of the depth range."""
    depth_grid_size: int = 32
    """Cells of each frame's depth grid along the longer image side."""
    depth_tolerance: float = 0.05
    """A mapped point more than this far behind the target frame's surface is occluded (depth units)."""
    occlusion_softness: float = 0.01
    """Width of the sigmoid turning the depth gap into an occlusion score (depth units)."""
    occlusion_th: float = 0.5
    """Occluded iff score > occlusion_th; 0.5 is exactly ``gap > depth_tolerance``."""

    def __post_init__(self) -> None:
        problems = []
        if self.num_bins < 1:
            problems.append(f"num_bins={self.num_bins} must be >= 1")
        if not self.layer_dims or any(d not in (0, 1, 2) for d in self.layer_dims):
            problems.append(f"layer_dims={self.layer_dims} must be a non-empty list of 0, 1, 2")
        if not self.max_depth > self.min_depth:
            problems.append(f"max_depth={self.max_depth} must exceed min_depth={self.min_depth}")
        if not self.plane_resolutions or min(self.plane_resolutions) < 2:
            problems.append(f"plane_resolutions={self.plane_resolutions} must all be >= 2")
        if not self.time_resolutions or min(self.time_resolutions) <= 0:
            problems.append(f"time_resolutions={self.time_resolutions} must all be > 0")
        if self.depth_tolerance < 0 or self.occlusion_softness <= 0:
            problems.append("depth_tolerance must be >= 0 and occlusion_softness > 0")
        if problems:
            raise ValueError("invalid SurfaceModelConfig: " + "; ".join(problems))

    def time_cells(self, num_frames: int) -> tuple[int, ...]:
        """Cells per time level for a clip of ``num_frames`` frames."""
        floor = min(2, num_frames)
        return tuple(max(floor, min(num_frames, round(f * num_frames))) for f in self.time_resolutions)


class SurfaceCorrespondences(NamedTuple):
    """Frame i pixels mapped into frame j. All ``[n]``-leading tensors.

    points_j ``[n, 2]`` px in frame j; depth_j ``[n]`` the mapped point's depth in frame j;
    surface_depth_j ``[n]`` frame j's own depth at points_j (for the depth test and depth losses);
    depth_i ``[n]`` the lifted depth in frame i; canonical ``[n, 3]`` the point in canonical space.
    """

    points_j: Tensor
    depth_j: Tensor
    surface_depth_j: Tensor
    depth_i: Tensor
    canonical: Tensor


class SurfaceModel(nn.Module):
    """Per-frame depth + grid-conditioned piecewise-linear bijection; see the module docstring."""

    def __init__(self, cfg: SurfaceModelConfig, num_frames: int, image_hw: tuple[int, int]):
        super().__init__()
        self.cfg = cfg
        if num_frames < 1 or min(image_hw) < 2:
            raise ValueError(f"need num_frames >= 1 and an image of at least 2x2 pixels, got "
                             f"num_frames={num_frames}, image_hw={tuple(image_hw)}")
        self.num_frames = int(num_frames)
        self.image_hw = (int(image_hw[0]), int(image_hw[1]))
        self.height, self.width = self.image_hw
        depth_range = (cfg.min_depth, cfg.max_depth)
        self.depth = FrameDepth(num_frames, self.image_hw, depth_grid_shape(self.image_hw, cfg.depth_grid_size),
                                depth_range)
        self.bijection = SurfaceBijection(
            num_frames, layer_dims=cfg.layer_dims, num_bins=cfg.num_bins,
            plane_resolutions=cfg.plane_resolutions, time_resolutions=cfg.time_cells(num_frames),
            channels=cfg.feature_channels, xy_bound=cfg.xy_bound, depth_range=depth_range,
            init_std=cfg.grid_init_std, space_time_product=cfg.space_time_product)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by role, for per-group learning rates: ``heads`` (the coupling layers' linear heads:
        every weight moves every point, so they want a lower rate), ``grids`` (planes and time
        embeddings) and ``depth`` (per-frame depth logits). Together they are all parameters, once."""
        heads = [p for layer in self.bijection.layers for p in layer.head.parameters()]
        head_ids = {id(p) for p in heads}
        grids = [p for p in self.bijection.parameters() if id(p) not in head_ids]
        return {"heads": heads, "grids": grids, "depth": list(self.depth.parameters())}

    def lift(self, pts: Tensor, frame: Tensor) -> Tensor:
        """Pixels ``[n, 2]`` of frames ``[n]`` -> their surface points in the local volume, ``[n, 3]``."""
        xy = normalize_coords(pts, *self.image_hw)
        return torch.cat([xy, self.depth.depth_at(pts, frame)[:, None]], dim=1)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Local points ``[n, 3]`` -> (pixels ``[n, 2]``, depth ``[n]``), orthographic."""
        return denormalize_coords(x[:, :2], *self.image_hw), x[:, 2]

    def correspondences(self, pts_i: Tensor, frame_i: Tensor, frame_j: Tensor, *,
                        stratified: bool = False, use_max_loc: bool = False, mask_near: bool = False,
                        generator: torch.Generator | None = None) -> SurfaceCorrespondences:
        """Pixels ``pts_i [n, 2]`` of frames ``frame_i [n]`` -> where they are in frames ``frame_j [n]``.

        ``stratified``, ``use_max_loc``, ``mask_near`` and ``generator`` are accepted so that callers of
        ``OmniMotionModel.correspondences`` work unchanged; they have no effect (one point per pixel: no
        ray samples to jitter, choose from or mask).
        """
        del stratified, use_max_loc, mask_near, generator
        if not (frame_i.shape == frame_j.shape == pts_i.shape[:1]) or pts_i.shape[1:] != (2,):
            raise ValueError(f"pts_i {tuple(pts_i.shape)} must be [n, 2] and frame_i {tuple(frame_i.shape)}, "
                             f"frame_j {tuple(frame_j.shape)} both [n]")
        x_i = self.lift(pts_i, frame_i)
        canonical = self.bijection(x_i, frame_i)
        x_j = self.bijection.inverse(canonical, frame_j)
        points_j, depth_j = self.project(x_j)
        surface_depth_j = self.depth.depth_at(points_j, frame_j)
        return SurfaceCorrespondences(points_j, depth_j, surface_depth_j, x_i[:, 2], canonical)

    def occlusion_score(self, pts_j: Tensor, depth_j: Tensor, frame_j: Tensor) -> Tensor:
        """Occlusion score ``[n]`` in ``[0, 1]`` of mapped points (pixels ``pts_j [n, 2]``, depth
        ``depth_j [n]``) in frames ``frame_j [n]``; occluded iff ``score > cfg.occlusion_th``."""
        surface = self.depth.depth_at(pts_j, frame_j)
        inside = inside_image(pts_j, *self.image_hw)
        return depth_test_score(depth_j, surface, inside, self.cfg.depth_tolerance,
                                self.cfg.occlusion_softness)

    @torch.no_grad()
    def render_depth(self, frame: int, chunk_size: int = 0) -> Tensor:
        """Frame ``frame``'s surface depth, ``[H, W]`` (``chunk_size`` is accepted for compatibility with
        ``OmniMotionModel.render_depth``; one bilinear upsampling needs no chunks)."""
        del chunk_size
        return self.depth.render(frame)

    def init_depth(self, depth_maps: np.ndarray) -> None:
        """Initialise the per-frame depth from maps ``[T, H, W]`` already in depth units
        (``omnimotion.io.depth_maps.load_depth_maps`` then ``normalize_depth_maps``)."""
        self.depth.set_from_maps(depth_maps)


class SurfaceVariant(ModelVariant):
    """The single-surface model: settings in the ``surface`` section (keys ``surface_*``), the parameter
    groups of ``SurfaceModel.parameter_groups``, one checkpoint entry (``STATE_KEY``); no colour."""

    config_class = SurfaceModelConfig
    config_section = "surface"
    config_key_prefix = "surface_"
    model_class = SurfaceModel

    def build(self, cfg: SurfaceModelConfig, num_frames: int, image_hw: tuple[int, int]) -> SurfaceModel:
        return SurfaceModel(cfg, num_frames, image_hw)

    def parameter_groups(self, model: SurfaceModel) -> dict[str, list[nn.Parameter]]:
        return model.parameter_groups()

    def state_modules(self, model: SurfaceModel) -> dict[str, nn.Module]:
        return {STATE_KEY: model}
