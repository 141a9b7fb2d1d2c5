"""omnimotion.model: the OmniMotion representation (latent codes, bijection, canonical field, rendering), the fast
single-surface variant (``omnimotion.model.surface``), the variant interface (``omnimotion.model.variant``) and
the registry that picks a variant by its method name (``omnimotion.model.factory``)."""

from omnimotion.model.bijection import AffineMLP, Bijection, CouplingLayer
from omnimotion.model.canonical import CanonicalField
from omnimotion.model.config import ModelConfig
from omnimotion.model.factory import (build_model, color_variants, get_variant, load_model_state, model_from_checkpoint,
                                      register_variant, variant_names, variant_of)
from omnimotion.model.gabor import GaborNet
from omnimotion.model.omnimotion import Correspondence, OmniMotionModel, OmniMotionVariant
from omnimotion.model.render import (alpha_composite, composite, contract, depth_range_mask,
                                     occlusion_score_from_weights, project, sample_ray_depths, select_max_weight,
                                     unproject)
from omnimotion.model.surface import SurfaceModel, SurfaceModelConfig, SurfaceVariant
from omnimotion.model.variant import ModelVariant, VariantModel

__all__ = [
    "ModelConfig", "OmniMotionModel", "Correspondence", "GaborNet", "Bijection", "CouplingLayer", "AffineMLP",
    "CanonicalField", "sample_ray_depths", "unproject", "project", "contract", "alpha_composite", "composite",
    "select_max_weight", "depth_range_mask", "occlusion_score_from_weights", "SurfaceModel", "SurfaceModelConfig",
    "ModelVariant", "VariantModel", "OmniMotionVariant", "SurfaceVariant", "register_variant", "get_variant",
    "variant_names", "color_variants", "variant_of", "build_model", "model_from_checkpoint", "load_model_state",
]
