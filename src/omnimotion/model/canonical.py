"""The canonical volume F: canonical points -> density and colour (docs/method.md#canonical-volume).

Shapes: ``u [..., 3]`` canonical points -> ``density [...]`` (>= 0) and ``rgb [..., 3]`` in ``[0, 1]``.
``u`` is first contracted into the radius-2 ball (mip-NeRF 360), then a GaborNet gives 4 raw outputs:
``rgb = sigmoid(out[:3])`` and ``density = softplus(out[3] - 1)``. There is no view direction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from omnimotion.model.gabor import GaborNet
from omnimotion.model.render import contract

__all__ = ["CanonicalField"]


class CanonicalField(GaborNet):
    """GaborNet(3 -> hidden -> 4) over contracted canonical points; state-dict layout of the official
    ``color_mlp``."""

    def __init__(self, hidden_size: int = 512, n_layers: int = 3, alpha: float = 3.0,
                 input_scale: float = 256.0) -> None:
        super().__init__(3, hidden_size, 4, n_layers=n_layers, input_scale=input_scale, alpha=alpha)

    def density_and_rgb(self, u: Tensor, apply_contraction: bool = True) -> tuple[Tensor, Tensor]:
        """``u [..., 3]`` -> ``density [...]``, ``rgb [..., 3]``."""
        out = self(contract(u) if apply_contraction else u)
        return F.softplus(out[..., 3] - 1.0), torch.sigmoid(out[..., :3])
