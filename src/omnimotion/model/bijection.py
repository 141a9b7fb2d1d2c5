"""The invertible mapping M between a frame's local volume and the canonical volume (docs/method.md#bijection).

Shapes: points ``x [n, k, 3]`` (n rays, k samples; local ``(x_n, y_n, z)`` or canonical ``u``), per-frame
latent codes ``codes [u, d]`` and times ``times [u]`` for ``u`` distinct frames, and ``index [n]`` (long) giving
each ray's row in ``codes``/``times`` (``None`` when there is one row per ray).

``forward`` maps local -> canonical: the optional affine pre-layer (a 2D rotation-scale-translation of (x, y)
conditioned on time and depth), then the affine coupling layers 0..L-1, each rescaling and shifting one
coordinate as a function of the other two and of the frame's code. ``inverse`` undoes them exactly in reverse.

Speed: each layer's code projector and the code half of its first linear layer run once per distinct frame
(``[u, H]``) and are broadcast to the samples, instead of concatenating the code to every sample; points are
kept as three coordinate columns so no layer builds masks or concatenations of whole points.

Module and parameter names follow the official ``networks/nvp_simplified.py`` and ``networks/pe_relu.py``
(``layers1.{l}.map_st.0.mlp.*``, ``layers1.{l}.projection.proj.0.*``, ``layers1.{l}.mask``,
``code_projectors.{l}.mlp.*``, ``affine_mlp.hidden.*``) so official state dicts load unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Bijection", "CouplingLayer", "AffineMLP", "PositionalProjection", "CouplingMLP"]

Columns = tuple[Tensor, Tensor, Tensor]
LEAKY_SLOPE = 0.01


class CouplingMLP(nn.Module):
    """``Linear -> LeakyReLU -> ... -> Linear`` with its layers in ``.mlp`` (the official module layout)."""

    def __init__(self, c_in: int, c_out: int, hidden: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(c_in, width), nn.LeakyReLU(LEAKY_SLOPE)]
            c_in = width
        layers.append(nn.Linear(c_in, c_out))
        self.mlp = nn.Sequential(*layers)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.mlp if isinstance(m, nn.Linear)]

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x)


class PositionalProjection(nn.Module):
    """``[..., 2]`` kept coordinates -> ``[..., proj_dims]``: LeakyReLU(Linear(PE)), see docs/method.md#bijection.

    ``PE(a, b) = [a, b, sin(a s_0..), cos(a s_0..), sin(b s_0..), cos(b s_0..)]`` with ``s_j = pi 2^j``,
    ``j < frequency``: ``2 + 4 * frequency`` features.
    """

    def __init__(self, frequency: int, proj_dims: int) -> None:
        super().__init__()
        # The official class first builds (and then replaces) a two-layer projection; drawing the same
        # random numbers keeps seeded initialisations identical to the official ones.
        _ = nn.Linear(2, 2 * proj_dims), nn.Linear(2 * proj_dims, proj_dims)
        self.proj = nn.Sequential(nn.Linear(2 + 4 * frequency, proj_dims), nn.LeakyReLU(LEAKY_SLOPE))
        sigma = math.pi * 2.0 ** torch.arange(frequency, dtype=torch.float32)
        self.register_buffer("sigma", sigma, persistent=False)

    def features(self, kept: Tensor) -> Tensor:
        """``[..., 2] -> [..., 2 + 4 * frequency]`` positional encoding in the official order."""
        angles = kept[..., None] * self.sigma
        encoded = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)
        return torch.cat([kept, encoded], dim=-1)

    def forward(self, kept: Tensor) -> Tensor:
        linear = self.proj[0]
        return F.leaky_relu(linear(self.features(kept)), LEAKY_SLOPE, inplace=True)


class CouplingLayer(nn.Module):
    """Rescales and shifts the one coordinate whose ``mask`` entry is 0, conditioned on the other two.

    forward: ``y_d <- (y_d - t) exp(-s)``; inverse: ``y_d <- y_d exp(s) + t``, with
    ``(s, t) = map_st([code_proj(psi), PE-projection(kept coords)])`` and ``s`` clamped to ``[-8, 8]``.
    The ``mask`` buffer ``[1, 1, 1, 3]`` (1 = kept) is saved in checkpoints; the coordinate indices are
    re-derived whenever a state dict is loaded.
    """

    def __init__(self, map_st: nn.Sequential, projection: PositionalProjection, mask: Tensor,
                 code_dim: int) -> None:
        super().__init__()
        self.map_st = map_st
        self.projection = projection
        self.register_buffer("mask", mask)
        self.code_dim = code_dim
        self._refresh_dims()

    def _refresh_dims(self) -> None:
        values = self.mask.detach().reshape(-1).cpu().tolist()
        if len(values) != 3 or sorted(values) != [0.0, 1.0, 1.0]:
            raise ValueError(f"coupling mask {values} must hold one 0 (the transformed coordinate) and two 1s")
        self.dim = values.index(0.0)
        self.kept = tuple(i for i in range(3) if i != self.dim)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001, ANN202
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        try:
            self._refresh_dims()
        except ValueError as err:
            raise ValueError(f"state dict key {prefix}mask: {err}") from None

    def code_bias(self, projected_code: Tensor) -> Tensor:
        """``[u, code_dim] -> [u, H]``: the code's share of the first s/t layer, including its bias."""
        first = self.map_st[0].linears[0]
        return F.linear(projected_code, first.weight[:, :self.code_dim], first.bias)

    def scale_shift(self, cols: Columns, code_bias: Tensor) -> tuple[Tensor, Tensor]:
        """Clamped log-scale ``s [N]`` and shift ``t [N]`` from the kept columns (each ``[N]``, ``N = n k``)
        and the per-ray ``code_bias [n, 1, H]``."""
        linears = self.map_st[0].linears
        kept = torch.stack([cols[i] for i in self.kept], dim=-1)
        # first layer as W_c c + (W_h h + b): the code half was computed once per frame and is broadcast
        # over the k samples of each ray. Everything else runs on 2-D [N, H] matrices so that the in-place
        # activations never act on views (which would make autograd copy whole tensors).
        h = F.linear(self.projection(kept), linears[0].weight[:, self.code_dim:])
        h = h.view(code_bias.shape[0], -1, h.shape[-1]) + code_bias
        h = F.leaky_relu(h, LEAKY_SLOPE, inplace=True).view(kept.shape[0], -1)
        for lin in linears[1:-1]:
            h = F.leaky_relu(lin(h), LEAKY_SLOPE, inplace=True)
        log_scale, shift = linears[-1](h).unbind(-1)
        return log_scale.clamp(-8.0, 8.0), shift

    def forward(self, cols: Columns, code_bias: Tensor) -> Columns:
        s, t = self.scale_shift(cols, code_bias)
        return _replace(cols, self.dim, (cols[self.dim] - t) * torch.exp(-s))

    def inverse(self, cols: Columns, code_bias: Tensor) -> Columns:
        s, t = self.scale_shift(cols, code_bias)
        return _replace(cols, self.dim, cols[self.dim] * torch.exp(s) + t)


class AffineMLP(nn.Module):
    """Time/depth-conditioned 2D affine map of (x, y), the affine pre-layer of docs/method.md#bijection.

    An MLP of ``num_layers`` linear layers (ReLU between, no skips) on ``[PE(z), t, z]`` (PE ordered
    sin f0, cos f0, sin f1, ..., f_j = pi 2^j) gives ``theta [..., 5]``: angle a, log-scales (theta1, theta3),
    shifts (theta2, theta4); forward ``(x, y) <- diag(e^theta1, e^theta3) R(a) (x, y) + (theta2, theta4)``.
    """

    def __init__(self, hidden: int, num_layers: int, pe_freq: int) -> None:
        super().__init__()
        width_in = 2 + 2 * pe_freq
        self.hidden = nn.ModuleList()
        for i in range(num_layers):
            d_in = width_in if i == 0 else hidden
            if i == num_layers - 1:
                self.hidden.append(nn.Linear(d_in, 5))
            else:
                self.hidden.append(nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(inplace=True)))
        freqs = math.pi * 2.0 ** torch.arange(pe_freq, dtype=torch.float32)
        self.register_buffer("freqs", freqs, persistent=False)

    def theta(self, t: Tensor, z: Tensor) -> Tensor:
        """Times ``t [N]`` and depths ``z [N]`` -> affine parameters ``[N, 5]``."""
        angles = z[:, None] * self.freqs
        pe = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)
        h = torch.cat([pe, t[:, None], z[:, None]], dim=-1)
        for layer in self.hidden:
            h = layer(h)
        return h

    def transform(self, cols: Columns, theta: Tensor, inverse: bool) -> Columns:
        """Columns ``(x, y, z)`` each ``[N]`` and ``theta [N, 5]`` (from :meth:`theta` at the points' time and
        depth) -> transformed columns; z is unchanged, so the inverse sees the same theta and is exact."""
        x, y, z = cols
        angle, log_s1, tx, log_s2, ty = theta.unbind(-1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        if not inverse:
            s1, s2 = torch.exp(log_s1), torch.exp(log_s2)
            return s1 * (cos * x - sin * y) + tx, s2 * (sin * x + cos * y) + ty, z
        p, q = (x - tx) * torch.exp(-log_s1), (y - ty) * torch.exp(-log_s2)
        return cos * p + sin * q, cos * q - sin * p, z


class Bijection(nn.Module):
    """Real-NVP-style bijection conditioned on per-frame latent codes, with an exact inverse."""

    def __init__(self, num_layers: int = 6, code_dim: int = 128, hidden: int = 256, num_hidden: int = 3,
                 pe_freq: int = 4, affine: bool = True, affine_num_layers: int = 8) -> None:
        super().__init__()
        # Each run of 3 layers transforms x, y and z once, in a random order (from the global torch RNG,
        # drawn first as in the official code); the order is saved through the layers' mask buffers.
        order = torch.cat([torch.randperm(3) for _ in range(math.ceil(num_layers / 3))])
        self.layers1 = nn.ModuleList()
        self.code_projectors = nn.ModuleList()
        for layer in range(num_layers):
            mask = torch.ones(1, 1, 1, 3)
            mask[..., order[layer]] = 0
            map_st = nn.Sequential(CouplingMLP(code_dim + hidden, 2, [hidden] * num_hidden))
            projection = PositionalProjection(pe_freq, hidden)
            self.layers1.append(CouplingLayer(map_st, projection, mask, code_dim))
            self.code_projectors.append(CouplingMLP(code_dim, code_dim, [code_dim]))
        self.affine_mlp = AffineMLP(hidden, affine_num_layers, pe_freq) if affine else None

    @property
    def transformed_dims(self) -> list[int]:
        """The coordinate (0 = x, 1 = y, 2 = z) that each coupling layer transforms, in forward order."""
        return [layer.dim for layer in self.layers1]

    def _code_biases(self, codes: Tensor, index: Tensor | None) -> list[Tensor]:
        """Per layer, the code's contribution to the first s/t layer, ``[n, 1, H]`` (computed per frame)."""
        biases = []
        for layer, projector in zip(self.layers1, self.code_projectors):
            bias = layer.code_bias(projector(codes))
            biases.append((bias if index is None else bias[index])[:, None, :])
        return biases

    def _affine_theta(self, z: Tensor, times: Tensor, index: Tensor | None) -> Tensor:
        """Affine parameters ``[n k, 5]`` for points at depths ``z [n, k]``.

        When every ray has the same depths (deterministic samples) theta depends only on (frame, k), so it is
        evaluated per distinct frame and gathered: ``u k`` instead of ``n k`` rows through the affine MLP.
        """
        n, k = z.shape
        if index is not None and n > times.shape[0] and torch.equal(z, z[:1].expand(n, k)):
            per_frame = self.affine_mlp.theta(times.repeat_interleave(k), z[0].repeat(times.shape[0]))
            return per_frame.view(-1, k, 5)[index].view(n * k, 5)
        per_ray = times if index is None else times[index]
        return self.affine_mlp.theta(per_ray[:, None].expand(n, k).reshape(-1), z.reshape(-1))

    def forward(self, x: Tensor, codes: Tensor, times: Tensor, index: Tensor | None = None) -> Tensor:
        """Local points ``x [n, k, 3]`` of each ray's frame -> canonical points ``[n, k, 3]``."""
        cols: Columns = x.reshape(-1, 3).unbind(-1)
        biases = self._code_biases(codes, index)
        if self.affine_mlp is not None:
            cols = self.affine_mlp.transform(cols, self._affine_theta(x[..., 2], times, index), inverse=False)
        for layer, bias in zip(self.layers1, biases):
            cols = layer(cols, bias)
        return torch.stack(cols, dim=-1).view(x.shape)

    def inverse(self, u: Tensor, codes: Tensor, times: Tensor, index: Tensor | None = None) -> Tensor:
        """Canonical points ``u [n, k, 3]`` -> local points ``[n, k, 3]`` of each ray's frame."""
        cols: Columns = u.reshape(-1, 3).unbind(-1)
        biases = self._code_biases(codes, index)
        for layer, bias in zip(reversed(self.layers1), reversed(biases)):
            cols = layer.inverse(cols, bias)
        if self.affine_mlp is not None:
            depths = cols[2].reshape(u.shape[:2])
            cols = self.affine_mlp.transform(cols, self._affine_theta(depths, times, index), inverse=True)
        return torch.stack(cols, dim=-1).view(u.shape)


def _replace(cols: Columns, dim: int, value: Tensor) -> Columns:
    """``cols`` with column ``dim`` replaced by ``value``."""
    out = list(cols)
    out[dim] = value
    return out[0], out[1], out[2]
