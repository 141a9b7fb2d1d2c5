"""The fast single-surface variant: per-frame depth + grid-conditioned piecewise-linear bijection
(docs/method.md#single-surface-variant).

``SurfaceModel(cfg, num_frames, image_hw)`` offers the tracker's model interface (``correspondences``,
``occlusion_score``, ``render_depth``, ``num_frames``, ``image_hw``); its parts are usable on their own:
``piecewise`` (monotonic piecewise-linear maps with exact inverse), ``grids`` (multi-resolution planes and
time embeddings), ``bijection`` (coupling layers), ``depth`` (per-frame depth grids, scaling user depth maps) and
``occlusion`` (the depth test).
"""

from omnimotion.model.surface.bijection import GridCouplingLayer, SurfaceBijection
from omnimotion.model.surface.depth import FrameDepth, depth_grid_shape, normalize_depth_maps
from omnimotion.model.surface.grids import MultiResPlanes, MultiResTimeEmbedding, bilinear_corners
from omnimotion.model.surface.occlusion import depth_gap, depth_test_occluded, depth_test_score
from omnimotion.model.surface.piecewise import (knots_from_raw, monotone_interp, num_raw_params,
                                                piecewise_forward, piecewise_inverse)
from omnimotion.model.surface.surface_model import (SurfaceCorrespondences, SurfaceModel, SurfaceModelConfig,
                                                    SurfaceVariant)

__all__ = [
    "SurfaceModel", "SurfaceModelConfig", "SurfaceVariant", "SurfaceCorrespondences", "SurfaceBijection",
    "GridCouplingLayer",
    "FrameDepth", "depth_grid_shape", "normalize_depth_maps",
    "MultiResPlanes", "MultiResTimeEmbedding", "bilinear_corners", "depth_gap", "depth_test_occluded",
    "depth_test_score", "knots_from_raw", "monotone_interp", "num_raw_params", "piecewise_forward",
    "piecewise_inverse",
]
