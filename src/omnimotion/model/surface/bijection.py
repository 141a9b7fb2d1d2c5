"""Grid-conditioned monotonic piecewise-linear coupling layers and the per-frame bijection they compose.

Coordinates: points ``x [n, 3]`` are in a frame's local volume, ``(x_n, y_n, z)`` with ``x_n, y_n``
normalised pixels (``omnimotion.coords``; pixel centres in ``[-1, 1]``) and ``z`` depth in
``[min_depth, max_depth]`` (smaller = nearer the camera). ``t_idx [n]`` is the integer frame index of each
point. ``SurfaceBijection.forward`` maps frame-local points to the shared canonical space,
``inverse`` maps canonical points back into a frame, exactly (up to float rounding).

One coupling layer transforms one coordinate d with a 1D monotonic piecewise-linear map
(``omnimotion.model.surface.piecewise``) whose ``2K + 2`` parameters are predicted per point from

* ``s``: a multi-resolution 2D feature plane over the two kept coordinates (rescaled to ``[-1, 1]`` by their
  bounds; border-clamped outside), and
* ``tau``: this layer's slice of a multi-resolution 1D time embedding of the frame,

through a zero-initialised linear head on ``[s * tau, s, tau]``. The product term lets the deformation
vary jointly over space and time (a rank-C separable model of a 3D (kept, kept, t) grid); the separate
terms give purely spatial and purely temporal (e.g. camera translation) components. The product makes the
parameters' effect quadratic, which is less forgiving of a high learning rate (see ``SurfaceModelConfig``);
``space_time_product=False`` drops it (the head then sees ``[s, tau]``). The zero head makes
every layer, hence the bijection, exactly the identity at initialisation. The first gradient reaches only
the heads of layers whose output the loss sees (for an image-motion loss, the x- and y-layers); each step
then opens the next link (grids, then z-layer heads, then z-layer planes; tested).

Layer order: the default ``(z, x, y, z, x, y)`` starts with depth. With a flat depth initialisation an
x-layer can otherwise depend only on (y, t) and a y-layer only on (x, t) (early experiments); a leading
z-layer turns z into a learned function of (x, y, t), so later x- and y-layers see a depth that varies
over the frame and can bend along both image axes.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from omnimotion.model.surface.grids import MultiResPlanes, MultiResTimeEmbedding
from omnimotion.model.surface.piecewise import (knots_from_raw, num_raw_params, piecewise_forward,
                                                piecewise_inverse)

__all__ = ["GridCouplingLayer", "SurfaceBijection"]


class GridCouplingLayer(nn.Module):
    """Transforms coordinate ``dim`` of ``x [n, 3]`` with a monotonic piecewise-linear map conditioned on
    the two other coordinates (2D planes) and on a time feature ``tau [n, C]``.

    ``bounds`` gives ``(lo, hi)`` per coordinate: it sets the grids' extent for the kept coordinates and
    the piecewise map's bin interval for the transformed one (linear tails continue outside it).
    """

    def __init__(self, dim: int, bounds: Sequence[tuple[float, float]], num_bins: int,
                 plane_resolutions: Sequence[int], channels: int, init_std: float = 0.1,
                 space_time_product: bool = True):
        super().__init__()
        if dim not in (0, 1, 2):
            raise ValueError(f"coupling dimension must be 0, 1 or 2, got {dim}")
        self.dim = dim
        self.kept = tuple(d for d in range(3) if d != dim)
        self.bounds = tuple((float(lo), float(hi)) for lo, hi in bounds)
        self.num_bins = num_bins
        self.space_time_product = space_time_product
        self.planes = MultiResPlanes(plane_resolutions, channels, init_std)
        self.head = nn.Linear((3 if space_time_product else 2) * channels, num_raw_params(num_bins))
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        kept_lo = torch.tensor([self.bounds[d][0] for d in self.kept])
        kept_hi = torch.tensor([self.bounds[d][1] for d in self.kept])
        self.register_buffer("kept_centre", (kept_lo + kept_hi) / 2, persistent=False)
        self.register_buffer("kept_half", (kept_hi - kept_lo) / 2, persistent=False)

    def knots(self, x: Tensor, tau: Tensor) -> tuple[Tensor, Tensor]:
        """Per-point knots ``(x_knots, y_knots)``, each ``[n, K+1]``, from the kept coordinates of ``x``."""
        grid_coords = (x[:, self.kept] - self.kept_centre) / self.kept_half
        space = self.planes(grid_coords)
        # the head applied block by block: same as head(cat(features)) without the [n, 3C] copy (a noticeable
        # share of a training step, benchmarks/NOTES.md)
        features = [space * tau, space, tau] if self.space_time_product else [space, tau]
        blocks = self.head.weight.split(space.shape[1], dim=1)
        raw = torch.addmm(self.head.bias, features[0], blocks[0].t())
        for feature, block in zip(features[1:], blocks[1:]):
            raw = raw + feature @ block.t()
        lo, hi = self.bounds[self.dim]
        return knots_from_raw(raw, lo, hi)

    def forward(self, x: Tensor, tau: Tensor) -> Tensor:
        """Frame side -> canonical side: ``x [n, 3]`` -> ``[n, 3]``."""
        x_knots, y_knots = self.knots(x, tau)
        return self._replace(x, piecewise_forward(x[:, self.dim], x_knots, y_knots))

    def inverse(self, y: Tensor, tau: Tensor) -> Tensor:
        """Canonical side -> frame side, the exact inverse of ``forward``."""
        x_knots, y_knots = self.knots(y, tau)  # the kept coordinates are unchanged by the layer
        return self._replace(y, piecewise_inverse(y[:, self.dim], x_knots, y_knots))

    def _replace(self, x: Tensor, column: Tensor) -> Tensor:
        columns = list(x.unbind(dim=1))
        columns[self.dim] = column
        return torch.stack(columns, dim=1)


class SurfaceBijection(nn.Module):
    """Per-frame invertible map between a frame's local volume and the canonical space.

    ``forward(x [n, 3], t_idx [n]) -> u [n, 3]`` (canonical); ``inverse(u [n, 3], t_idx [n]) -> x [n, 3]``.
    One time embedding of width ``channels * num_layers`` is looked up once per call and sliced per layer.
    """

    def __init__(self, num_frames: int, *, layer_dims: Sequence[int] = (2, 0, 1, 2, 0, 1),
                 num_bins: int = 8, plane_resolutions: Sequence[int] = (8, 32, 64),
                 time_resolutions: Sequence[int] = (4, 16, 32), channels: int = 16,
                 xy_bound: float = 1.25, depth_range: tuple[float, float] = (0.0, 2.0),
                 init_std: float = 0.1, space_time_product: bool = True):
        super().__init__()
        if not layer_dims:
            raise ValueError("layer_dims must name at least one coordinate to transform")
        self.num_frames = num_frames
        self.channels = channels
        bounds = [(-xy_bound, xy_bound), (-xy_bound, xy_bound), tuple(depth_range)]
        self.layers = nn.ModuleList(
            GridCouplingLayer(d, bounds, num_bins, plane_resolutions, channels, init_std, space_time_product)
            for d in layer_dims)
        self.time = MultiResTimeEmbedding(num_frames, time_resolutions, channels * len(self.layers),
                                          init_std)

    def _time_features(self, t_idx: Tensor) -> tuple[Tensor, ...]:
        """One ``[n, C]`` feature per layer (``unbind``: its backward is one stack, where indexing
        ``[:, l]`` would zero-fill a full ``[n, L, C]`` gradient per layer; benchmarks/NOTES.md)."""
        if t_idx.numel() and (int(t_idx.min()) < 0 or int(t_idx.max()) >= self.num_frames):
            raise IndexError(f"frame indices must lie in [0, {self.num_frames - 1}], got "
                             f"[{int(t_idx.min())}, {int(t_idx.max())}]")
        return self.time(t_idx).view(-1, len(self.layers), self.channels).unbind(dim=1)

    def forward(self, x: Tensor, t_idx: Tensor) -> Tensor:
        """Local points ``x [n, 3]`` of frames ``t_idx [n]`` -> canonical ``[n, 3]``."""
        tau = self._time_features(t_idx)
        for index, layer in enumerate(self.layers):
            x = layer(x, tau[index])
        return x

    def inverse(self, u: Tensor, t_idx: Tensor) -> Tensor:
        """Canonical points ``u [n, 3]`` -> local points of frames ``t_idx [n]``, ``[n, 3]``."""
        tau = self._time_features(t_idx)
        for index in reversed(range(len(self.layers))):
            u = self.layers[index].inverse(u, tau[index])
        return u
