"""The variant registry and the built-in variants' side of the interface (groups, checkpoint entries, settings)."""

import dataclasses
import json

import pytest
import torch
from torch import nn

from omnimotion.config import OmniMotionConfig
from omnimotion.io.checkpoint import OFFICIAL_MODEL_KEYS
from omnimotion.model import (ModelConfig, OmniMotionModel, SurfaceModel, SurfaceModelConfig, build_model,
                              color_variants, get_variant, model_from_checkpoint, variant_names, variant_of)

TINY = {"omnimotion": ModelConfig(num_samples_ray=4, nvp_hidden=16, canonical_hidden=16, time_hidden=16, code_dim=8,
                                  use_affine=False),
        "surface": SurfaceModelConfig(plane_resolutions=(4, 8), feature_channels=4, depth_grid_size=4)}


def tiny_model(method: str) -> nn.Module:
    cfg = OmniMotionConfig(model=TINY["omnimotion"], surface=TINY["surface"])
    return build_model(method, cfg, 3, (8, 10))


def test_the_built_in_variants_and_an_unknown_name():
    assert variant_names() == ["omnimotion", "surface"] and color_variants() == ["omnimotion"]
    with pytest.raises(ValueError, match=r"^unknown method 'volume'; set method to one of \['omnimotion', "
                                         r"'surface'\]$"):
        get_variant("volume")


@pytest.mark.parametrize("method, model_class", [("omnimotion", OmniMotionModel), ("surface", SurfaceModel)])
def test_groups_and_checkpoint_entries_cover_every_parameter_once(method, model_class):
    model = tiny_model(method)
    variant = get_variant(method)
    assert isinstance(model, model_class) and variant_of(model) == method
    assert model.cfg == TINY[method]  # built from the variant's own section of the run configuration
    grouped = [id(p) for params in variant.parameter_groups(model).values() for p in params]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())
    stored = {f"{key}.{name}" for key, module in variant.state_modules(model).items()
              for name in module.state_dict()}
    assert len(stored) == len(model.state_dict())


def test_the_checkpoint_entries_keep_their_on_disk_names():
    """Checkpoints already written must keep loading: the official networks, and one surface entry."""
    assert tuple(sorted(get_variant("omnimotion").state_modules(tiny_model("omnimotion")))) == \
        tuple(sorted(OFFICIAL_MODEL_KEYS))
    assert list(get_variant("surface").state_modules(tiny_model("surface"))) == ["surface_model"]


@pytest.mark.parametrize("method", ["omnimotion", "surface"])
def test_a_model_is_rebuilt_from_its_checkpoint_state(method):
    model = tiny_model(method)
    variant = get_variant(method)
    section = json.loads(json.dumps(dataclasses.asdict(model.cfg)))  # tuples come back as lists
    state = {key: module.state_dict() for key, module in variant.state_modules(model).items()}
    state.update(method=method, num_imgs=3, image_hw=[8, 10], config={variant.config_section: section})
    rebuilt = model_from_checkpoint(state, "model_000001.pth")
    assert rebuilt.cfg == model.cfg
    for (name, a), (_, b) in zip(model.state_dict().items(), rebuilt.state_dict().items()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match=r"model_000001\.pth lacks \["):
        model_from_checkpoint({k: v for k, v in state.items() if k not in variant.state_modules(model)},
                              "model_000001.pth")


def test_variant_of_a_foreign_model_is_a_type_error():
    with pytest.raises(TypeError, match="Linear is not the model of a registered variant"):
        variant_of(nn.Linear(2, 2))
