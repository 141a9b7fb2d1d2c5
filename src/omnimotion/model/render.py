"""Pure ray and compositing math of OmniMotion (docs/method.md#representation). No parameters, no state.

Shapes: ``n`` rays (points), ``k`` samples per ray. Pixels are ``(x, y)`` with integer centres and the
normalisation of :mod:`omnimotion.coords`; a local point is ``(x_n, y_n, z)`` with ``x_n, y_n`` normalised and
``z`` the depth in ``[min_depth, max_depth]`` of the frame's orthographic volume.
"""

from __future__ import annotations

import torch
from torch import Tensor

from omnimotion.coords import denormalize_coords, normalize_coords

__all__ = [
    "sample_ray_depths", "unproject", "project", "contract", "density_to_alpha", "alpha_composite",
    "composite", "select_max_weight", "depth_range_mask", "occlusion_score_from_weights", "occlusion_eps",
]


def sample_ray_depths(n: int, k: int, min_depth: float, max_depth: float, stratified: bool,
                      generator: torch.Generator | None = None, device: torch.device | str | None = None,
                      dtype: torch.dtype = torch.float32) -> Tensor:
    """Depths ``[n, k]`` of the samples on each ray.

    Deterministic: ``z_k = linspace(min_depth, max_depth, k)`` (endpoints included). Stratified: with
    ``m_k = (z_k + z_{k+1}) / 2``, sample k is uniform in ``[m_{k-1}, m_k]``, where the first interval starts at
    ``z_0`` and the last ends at ``z_{k-1}`` (so the end intervals are half as wide).
    """
    depths = torch.linspace(min_depth, max_depth, k, device=device, dtype=dtype).expand(n, k)
    if not stratified:
        return depths
    mids = 0.5 * (depths[:, 1:] + depths[:, :-1])
    lower = torch.cat([depths[:, :1], mids], dim=1)
    upper = torch.cat([mids, depths[:, -1:]], dim=1)
    u = torch.rand(n, k, generator=generator, device=device, dtype=dtype)
    return lower + (upper - lower) * u


def unproject(pixels: Tensor, depths: Tensor, height: int, width: int) -> Tensor:
    """Orthographic lift: pixels ``[n, 2]`` (x, y) and depths ``[n, k]`` -> local points ``[n, k, 3]``."""
    xy = normalize_coords(pixels, height, width)
    return torch.cat([xy[:, None, :].expand(-1, depths.shape[1], -1), depths[..., None]], dim=-1)


def project(points: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """Orthographic projection: local points ``[..., 3]`` -> pixels ``[..., 2]`` (x, y) and depth ``[...]``."""
    return denormalize_coords(points[..., :2], height, width), points[..., 2]


def contract(u: Tensor) -> Tensor:
    """mip-NeRF 360 contraction of ``u [..., 3]``: ``u`` if ``||u|| <= 1``, else ``(2 - 1/||u||) u / ||u||``.

    Maps R^3 into the ball of radius 2. Both branches are evaluated with a norm clamped to >= 1, so no
    gradient of the unused branch can be infinite.
    """
    norm = u.norm(dim=-1, keepdim=True)
    safe = norm.clamp_min(1.0)
    scale = torch.where(norm <= 1.0, torch.ones_like(norm), (2.0 - 1.0 / safe) / safe)
    return u * scale


def density_to_alpha(density: Tensor) -> Tensor:
    """``alpha = 1 - exp(-density)``: opacity of one sample (sample spacing is taken as 1, as officially)."""
    return -torch.expm1(-density)


def alpha_composite(density: Tensor, num_masked_near: int = 0) -> Tensor:
    """Compositing weights ``[n, k]`` from densities ``[n, k]`` ordered near to far.

    ``w_k = alpha_k * T_k`` with ``T_k = prod_{l<k} (1 - alpha_l + 1e-10)``, ``T_0 = 1``. The weights sum to
    ``1 - T_k`` (about 1 for an opaque ray); there is no background term. ``num_masked_near`` zeroes the
    alphas of the nearest samples first (the official ``mask_near`` trick).
    """
    alpha = density_to_alpha(density)
    if num_masked_near > 0:
        keep = torch.ones_like(alpha)
        keep[..., :num_masked_near] = 0
        alpha = alpha * keep
    trans = torch.cumprod(1.0 - alpha + 1e-10, dim=-1)
    trans = torch.cat([torch.ones_like(trans[..., :1]), trans[..., :-1]], dim=-1)
    return alpha * trans


def composite(weights: Tensor, values: Tensor) -> Tensor:
    """``sum_k w_k v_k``: weights ``[n, k]``, values ``[n, k, c]`` -> ``[n, c]``. Weights are not renormalised."""
    return torch.einsum("nk,nkc->nc", weights, values)


def select_max_weight(weights: Tensor, values: Tensor) -> Tensor:
    """The value of the sample with the largest weight: weights ``[n, k]``, values ``[n, k, c]`` -> ``[n, c]``."""
    index = weights.argmax(dim=-1)
    return values[torch.arange(values.shape[0], device=values.device), index]


def depth_range_mask(depths: Tensor, min_depth: float, max_depth: float) -> Tensor:
    """Float mask ``[...]``: 1 where ``min_depth <= z <= max_depth`` (training drops mapped samples outside)."""
    return ((depths >= min_depth) & (depths <= max_depth)).to(depths.dtype)


def occlusion_eps(min_depth: float, max_depth: float, num_samples: int) -> float:
    """The margin in front of a point whose light is not counted as occluding it: ``1.1 (far - near) / K``."""
    return 1.1 * (max_depth - min_depth) / num_samples


def occlusion_score_from_weights(weights: Tensor, sample_depths: Tensor, point_depth: Tensor,
                                 eps: float) -> Tensor:
    """Light absorbed in front of a point, about ``1 - transmittance`` (docs/method.md#occlusion).

    weights ``[n, k]`` and sample depths ``[n, k]`` of the point's own ray, point depth ``[n]`` -> ``[n]``:
    ``sum_k w_k [z_k < depth - eps]``. Larger = more likely occluded.
    """
    in_front = sample_depths < (point_depth[:, None] - eps)
    return (weights * in_front.to(weights.dtype)).sum(dim=-1)
