"""GaborNet: a multiplicative filter network (Fathony et al., 2021), docs/method.md#latent-code-per-frame.

Shapes: input ``x [..., in_size]`` -> output ``[..., out_size]``; any leading dimensions.

With ``L = n_layers`` the network has ``L + 1`` Gabor filters ``g_l`` and ``L`` hidden linear layers:
``z_0 = g_0(x)``, ``z_l = g_l(x) * linear_l(z_{l-1})``, ``out = output_linear(z_L)`` (no output activation),
where ``g(x) = sin(W x + b) * exp(-gamma / 2 * ||x - mu||^2)`` per unit.

Parameter names and shapes match the official ``networks/mfn.py`` (``filters.{l}.linear``, ``filters.{l}.mu``,
``filters.{l}.gamma``, ``linear.{l}``, ``output_linear``) so official state dicts load unchanged, and the
modules are created in the official order so that a given torch seed gives the official initialisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GaborFilter", "GaborNet"]


class GaborFilter(nn.Module):
    """One bank of ``out_features`` Gabor units over ``in_features`` inputs."""

    def __init__(self, in_features: int, out_features: int, weight_scale: float, alpha: float,
                 beta: float = 1.0) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.mu = nn.Parameter(2 * torch.rand(out_features, in_features) - 1)
        self.gamma = nn.Parameter(torch.distributions.Gamma(alpha, beta).sample((out_features,)))
        with torch.no_grad():
            self.linear.weight.mul_(weight_scale * torch.sqrt(self.gamma[:, None]))
            self.linear.bias.uniform_(-math.pi, math.pi)

    def forward(self, x: Tensor) -> Tensor:
        """``x [..., in] -> [..., out]``: the filter response by its definition (GaborNet uses an equivalent
        matmul form)."""
        sq_dist = (x[..., None, :] - self.mu).square().sum(-1)
        return torch.sin(self.linear(x)) * torch.exp(-0.5 * self.gamma * sq_dist)


class GaborNet(nn.Module):
    """Multiplicative filter network with Gabor filters and the official initialisation
    (docs/method.md#latent-code-per-frame).

    Initialisation: ``mu ~ U(-1, 1)``, ``gamma ~ Gamma(alpha / (L+1), beta)``, filter weights = default
    Linear init times ``input_scale / sqrt(L+1) * sqrt(gamma)``, filter biases ``U(-pi, pi)``, hidden weights
    ``U(+-sqrt(weight_scale / hidden))``, everything else PyTorch's default.
    """

    def __init__(self, in_size: int, hidden_size: int, out_size: int, n_layers: int = 3,
                 input_scale: float = 256.0, weight_scale: float = 1.0, alpha: float = 6.0,
                 beta: float = 1.0) -> None:
        super().__init__()
        # Creation order (hidden, output, then filters) follows the official code so seeds match it.
        self.linear = nn.ModuleList([nn.Linear(hidden_size, hidden_size) for _ in range(n_layers)])
        self.output_linear = nn.Linear(hidden_size, out_size)
        bound = math.sqrt(weight_scale / hidden_size)
        with torch.no_grad():
            for lin in self.linear:
                lin.weight.uniform_(-bound, bound)
        scale = input_scale / math.sqrt(n_layers + 1)
        self.filters = nn.ModuleList([
            GaborFilter(in_size, hidden_size, scale, alpha / (n_layers + 1), beta) for _ in range(n_layers + 1)
        ])
        self.hidden_size = hidden_size

    def forward(self, x: Tensor) -> Tensor:
        """``x [..., in_size] -> [..., out_size]``."""
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        # [x, ||x||^2] makes every filter's Gaussian exponent one affine map (see _filter_response)
        with_sq = torch.cat([flat, flat.square().sum(-1, keepdim=True)], dim=-1)
        out = _filter_response(self.filters[0], flat, with_sq)
        for filt, lin in zip(self.filters[1:], self.linear):
            out = _filter_response(filt, flat, with_sq) * lin(out)
        return self.output_linear(out).reshape(*lead, -1)


def _filter_response(filt: GaborFilter, x: Tensor, with_sq: Tensor) -> Tensor:
    """``g(x)`` for ``x [N, in]`` and ``with_sq = [x, ||x||^2]`` ``[N, in+1]`` -> ``[N, out]``.

    The exponent ``-gamma/2 ||x - mu||^2 = [x, ||x||^2] . [gamma mu, -gamma/2] - gamma/2 ||mu||^2`` is affine in
    ``[x, ||x||^2]``, so it is one small matmul instead of a broadcast difference over ``[N, out, in]``.
    """
    gamma = filt.gamma
    exp_w = torch.cat([gamma[:, None] * filt.mu, -0.5 * gamma[:, None]], dim=1)
    exp_b = -0.5 * gamma * filt.mu.square().sum(-1)
    return torch.sin(filt.linear(x)) * torch.exp(F.linear(with_sq, exp_w, exp_b))
