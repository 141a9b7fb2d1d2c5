"""omnimotion.model: the OmniMotion representation (latent codes, bijection, canonical field, rendering), the fast
single-surface variant (``omnimotion.model.surface``) and ``build_model``, which picks one by its config."""

from omnimotion.model.bijection import AffineMLP, Bijection, CouplingLayer
from omnimotion.model.canonical import CanonicalField
from omnimotion.model.config import ModelConfig
from omnimotion.model.factory import METHODS, build_model, method_config, model_config_from_dict
from omnimotion.model.gabor import GaborNet
from omnimotion.model.omnimotion import Correspondence, OmniMotionModel
from omnimotion.model.render import (alpha_composite, composite, contract, depth_range_mask, occlusion_score_from_weights,
                                     project, sample_ray_depths, select_max_weight, unproject)
from omnimotion.model.surface import SurfaceModel, SurfaceModelConfig

__all__ = [
    "ModelConfig", "OmniMotionModel", "Correspondence", "GaborNet", "Bijection", "CouplingLayer", "AffineMLP",
    "CanonicalField", "sample_ray_depths", "unproject", "project", "contract", "alpha_composite", "composite",
    "select_max_weight", "depth_range_mask", "occlusion_score_from_weights", "SurfaceModel", "SurfaceModelConfig",
    "METHODS", "build_model", "method_config", "model_config_from_dict",
]
