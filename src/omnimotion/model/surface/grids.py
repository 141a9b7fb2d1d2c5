"""Learnable multi-resolution feature grids: 2D planes (bilinear lookup) and 1D time tracks (linear).

Conventions
    2D lookups take ``coords [n, 2]`` = (gx, gy) in ``[-1, 1]`` with the ``align_corners=True`` convention
    of ``F.grid_sample``: -1 and +1 are the centres of the first and last cells, matching the pixel
    convention of ``omnimotion.coords`` once pixels are normalised. Outside ``[-1, 1]`` the border cell is
    repeated (``padding_mode="border"``), so features stay bounded for points that leave the frame.
    1D time lookups take an integer frame index ``t_idx [n]`` in ``[0, num_frames - 1]``; a level with R
    cells spreads them evenly over the frames and interpolates linearly between them.

``bilinear_corners`` serves single-channel per-frame grids (depth), where a flat gather over all frames
is as cheap as ``F.grid_sample`` and exact per frame; multi-channel planes use ``F.grid_sample``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["bilinear_corners", "MultiResPlanes", "MultiResTimeEmbedding"]


def bilinear_corners(coords: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """The 4 cells around each point of an ``height x width`` grid and their bilinear weights.

    coords ``[n, 2]`` (gx, gy) in ``[-1, 1]`` (align_corners=True, border clamped). Returns
    ``(index [n, 4] long, weight [n, 4])`` with ``index = row * width + col`` into the flattened grid.
    The weights are differentiable with respect to ``coords`` (zero gradient outside the border).
    """
    px = ((coords[:, 0] + 1) * (0.5 * (width - 1))).clamp(0, width - 1)
    py = ((coords[:, 1] + 1) * (0.5 * (height - 1))).clamp(0, height - 1)
    # the left/top corner is clamped so that the last cell centre is reached with weight 1 on the right
    x0 = px.detach().floor().clamp(max=max(width - 2, 0))
    y0 = py.detach().floor().clamp(max=max(height - 2, 0))
    fx, fy = px - x0, py - y0
    x0l, y0l = x0.long(), y0.long()
    x1l = (x0l + 1).clamp(max=width - 1)
    y1l = (y0l + 1).clamp(max=height - 1)
    index = torch.stack([y0l * width + x0l, y0l * width + x1l, y1l * width + x0l, y1l * width + x1l], 1)
    weight = torch.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], 1)
    return index, weight


class MultiResPlanes(nn.Module):
    """A sum of 2D feature planes at several resolutions: ``coords [n, 2] -> features [n, C]``.

    Levels are square (``res x res`` cells over ``[-1, 1]^2``), initialised i.i.d. normal with
    ``init_std``. The levels are summed, not concatenated, so the output width is ``C`` whatever the
    number of levels (coarse levels give smooth, fine levels detailed variation of the same features).
    Lookup is ``F.grid_sample`` (bilinear, align_corners=True, border padding), faster on CPU than a flat
    gather for this many channels (benchmarks/NOTES.md).
    """

    def __init__(self, resolutions: Sequence[int], channels: int, init_std: float = 0.1):
        super().__init__()
        if not resolutions or min(resolutions) < 2:
            raise ValueError(f"plane resolutions must be >= 2 cells per side, got {list(resolutions)}")
        self.resolutions = tuple(int(r) for r in resolutions)
        self.channels = channels
        self.planes = nn.ParameterList(
            nn.Parameter(torch.randn(1, channels, res, res) * init_std) for res in self.resolutions)

    def forward(self, coords: Tensor) -> Tensor:
        """coords ``[n, 2]`` (gx, gy) in ``[-1, 1]`` -> ``[n, C]``."""
        grid = coords.reshape(1, -1, 1, 2)
        total = None
        for plane in self.planes:
            sampled = F.grid_sample(plane, grid, mode="bilinear", padding_mode="border",
                                    align_corners=True)  # [1, C, n, 1]
            total = sampled if total is None else total + sampled
        return total.reshape(self.channels, -1).t()


class MultiResTimeEmbedding(nn.Module):
    """A sum of 1D per-frame feature tracks at several temporal resolutions: ``t_idx [n] -> [n, C]``.

    Level l has ``R_l`` learnable vectors spread evenly over frames ``0 .. num_frames - 1`` (``R_l =
    num_frames`` gives one free vector per frame; fewer cells tie neighbouring frames together by linear
    interpolation). The per-frame features of all frames are formed once per call (a ``[T, R]``
    interpolation matrix per level) and then indexed, so the cost per point is one row gather.
    """

    def __init__(self, num_frames: int, resolutions: Sequence[int], channels: int,
                 init_std: float = 0.1):
        super().__init__()
        if num_frames < 1 or not resolutions or min(resolutions) < 1:
            raise ValueError(f"need num_frames >= 1 and time resolutions >= 1, got {num_frames}, "
                             f"{list(resolutions)}")
        self.num_frames = num_frames
        self.resolutions = tuple(min(int(r), num_frames) for r in resolutions)
        self.channels = channels
        self.tracks = nn.ParameterList(
            nn.Parameter(torch.randn(res, channels) * init_std) for res in self.resolutions)
        for level, res in enumerate(self.resolutions):
            self.register_buffer(f"interp_{level}", _linear_interp_matrix(num_frames, res),
                                 persistent=False)

    def all_frames(self) -> Tensor:
        """Features of every frame, ``[T, C]``."""
        return sum(getattr(self, f"interp_{level}") @ track for level, track in enumerate(self.tracks))

    def forward(self, t_idx: Tensor) -> Tensor:
        """t_idx ``[n]`` integer frame indices in ``[0, T-1]`` -> ``[n, C]``."""
        return self.all_frames().index_select(0, t_idx.long())


def _linear_interp_matrix(num_frames: int, res: int) -> Tensor:
    """``[T, R]``: row t holds the linear-interpolation weights of frame t over R evenly spread cells."""
    pos = torch.arange(num_frames, dtype=torch.float64) * ((res - 1) / max(num_frames - 1, 1))
    left = pos.floor().clamp(0, max(res - 2, 0))
    frac = pos - left
    matrix = torch.zeros(num_frames, res, dtype=torch.float64)
    rows = torch.arange(num_frames)
    matrix[rows, left.long()] += 1 - frac
    matrix[rows, (left.long() + 1).clamp(max=res - 1)] += frac
    return matrix.float()
