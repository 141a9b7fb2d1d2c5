"""Monotonic piecewise-linear 1D maps with an exact inverse (the CaDeX++-style coupling transform).

A map is described per point by ``K + 1`` knots ``(x_k, y_k)``, both strictly increasing in k. Between
knots it interpolates linearly; outside ``[x_0, x_K]`` it extends the end segments (linear tails whose
slopes are the learned end-bin slopes). The map is therefore continuous, strictly increasing on the whole
real line, and its inverse is the same interpolation with the roles of ``x`` and ``y`` swapped.

Parameterisation (``knots_from_raw``), for the interval ``[lo, hi]`` of the coordinate being transformed
and ``raw [n, 2K + 2]`` (all zeros = identity):

* bin widths   ``w = (hi - lo) * (m + (1 - K m) * softmax(raw[:, :K]))``, ``m = min_bin_fraction``,
* bin slopes   ``exp(s + g_k)`` with ``g = max_log_slope * tanh(raw[:, K:2K] / max_log_slope)``,
* ``s = max_log_scale * tanh(raw[:, 2K] / max_log_scale)`` (a smooth clamp of the log scale),
* ``shift = raw[:, 2K + 1]``, bin heights ``h_k = w_k exp(s + g_k)``,

so every slope is bounded away from 0 and infinity by construction. The x knots start at ``lo``; the y knots are
centred on ``(lo + hi) / 2 + shift`` so that ``s`` scales about the interval centre and ``shift`` translates. With
uniform bins (equal logits) the map is exactly the affine map ``y = c + shift + exp(s) (x - c)`` of a Real-NVP
coupling, on the whole line.

Shapes: ``n`` points, ``K`` bins; values are in the units of the coordinate (no normalisation here).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["num_raw_params", "knots_from_raw", "monotone_interp", "piecewise_forward",
           "piecewise_inverse"]


def num_raw_params(num_bins: int) -> int:
    """Length of the raw parameter vector for ``num_bins`` bins: K width logits, K height logits,
    log scale, shift."""
    return 2 * num_bins + 2


def knots_from_raw(raw: Tensor, lo: float, hi: float, *, min_bin_fraction: float = 0.02,
                   max_log_scale: float = 1.0, max_log_slope: float = 1.5) -> tuple[Tensor, Tensor]:
    """Raw parameters ``[n, 2K+2]`` -> strictly increasing knots ``(x_knots, y_knots)``, each ``[n, K+1]``.

    All-zero ``raw`` gives the identity on ``[lo, hi]`` (and, through the tails, everywhere). Every
    segment's slope lies in ``[exp(-a), exp(a)]`` with ``a = max_log_scale + max_log_slope``, which keeps
    the float32 inverse accurate (its error grows like machine epsilon / slope).
    """
    num_bins = (raw.shape[-1] - 2) // 2
    if raw.shape[-1] != num_raw_params(num_bins) or num_bins < 1:
        raise ValueError(f"raw parameters have {raw.shape[-1]} entries; expected 2K+2 with K >= 1")
    if num_bins * min_bin_fraction >= 1:
        raise ValueError(f"min_bin_fraction {min_bin_fraction} is too large for {num_bins} bins")
    free = 1.0 - num_bins * min_bin_fraction
    widths = (hi - lo) * (min_bin_fraction + free * _softmax(raw[:, :num_bins]))
    # smooth clamps (tanh): identity near 0, bounded far away, finite gradients everywhere
    log_scale = max_log_scale * torch.tanh(raw[:, 2 * num_bins:2 * num_bins + 1] / max_log_scale)
    log_slopes = max_log_slope * torch.tanh(raw[:, num_bins:2 * num_bins] / max_log_slope)
    heights = widths * torch.exp(log_scale + log_slopes)
    zero = raw.new_zeros(raw.shape[0], 1)
    x_knots = lo + torch.cat([zero, torch.cumsum(widths, dim=-1)], dim=-1)
    # y knots centred on the interval centre (+ shift), so the scale does not move the centre
    centre = 0.5 * (lo + hi) + raw[:, 2 * num_bins + 1:]
    y_cum = torch.cat([zero, torch.cumsum(heights, dim=-1)], dim=-1)
    y_knots = centre + y_cum - 0.5 * y_cum[:, -1:]
    return x_knots, y_knots


def _softmax(logits: Tensor) -> Tensor:
    """Softmax over the last dim; written out because ``torch.softmax`` over a handful of bins is several
    times slower on CPU (benchmarks/NOTES.md). Subtracting the (detached) max changes nothing mathematically."""
    exp = torch.exp(logits - logits.detach().amax(dim=-1, keepdim=True))
    return exp / exp.sum(dim=-1, keepdim=True)


def monotone_interp(query: Tensor, knots_in: Tensor, knots_out: Tensor) -> Tensor:
    """Piecewise-linear interpolation through per-point knots, extrapolating the end segments.

    query ``[n]``; knots_in, knots_out ``[n, M]`` (M >= 2), knots_in strictly increasing. Returns ``[n]``.
    At a knot the segment to its right is used (the value is the same from both sides; the gradient
    with respect to the query is that segment's slope, always finite).
    """
    inner = knots_in[:, 1:-1].contiguous()
    # segment index in [0, M-2]: number of interior knots <= query
    seg = torch.searchsorted(inner, query[:, None].contiguous(), right=True)
    x0 = torch.gather(knots_in, 1, seg).squeeze(1)
    x1 = torch.gather(knots_in, 1, seg + 1).squeeze(1)
    y0 = torch.gather(knots_out, 1, seg).squeeze(1)
    y1 = torch.gather(knots_out, 1, seg + 1).squeeze(1)
    return y0 + (y1 - y0) / (x1 - x0) * (query - x0)


def piecewise_forward(x: Tensor, x_knots: Tensor, y_knots: Tensor) -> Tensor:
    """Apply the map: ``x [n]`` -> ``y [n]``."""
    return monotone_interp(x, x_knots, y_knots)


def piecewise_inverse(y: Tensor, x_knots: Tensor, y_knots: Tensor) -> Tensor:
    """Exact inverse of ``piecewise_forward``: ``y [n]`` -> ``x [n]``."""
    return monotone_interp(y, y_knots, x_knots)
