"""The registry of model variants: the one place that turns a method name into a ``ModelVariant``.

Built in: ``omnimotion`` (the faithful ``OmniMotionModel``) and ``surface`` (the fast single-surface
``SurfaceModel``, docs/method.md#single-surface-variant). A new variant is a folder under ``omnimotion.model``
with its model and ``ModelVariant``, registered here with one ``register_variant`` line (and its losses in
``omnimotion.train.variant_losses``). ``image_hw`` is (H, W) of the fitted frames in pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from omnimotion.io.checkpoint import require_entries, stored_method
from omnimotion.io.datadir import CorruptFileError
from omnimotion.model.omnimotion import OmniMotionVariant
from omnimotion.model.surface import SurfaceVariant
from omnimotion.model.variant import ModelVariant

__all__ = ["register_variant", "get_variant", "variant_names", "color_variants", "variant_of", "build_model",
           "model_from_checkpoint", "load_model_state"]

_VARIANTS: dict[str, ModelVariant] = {}


def register_variant(name: str, variant: ModelVariant) -> None:
    """Make ``variant`` available as ``method = name`` (a second registration under a name replaces it)."""
    _VARIANTS[name] = variant


def variant_names() -> list[str]:
    """The registered method names, sorted."""
    return sorted(_VARIANTS)


def color_variants() -> list[str]:
    """The method names whose models render colour (``ModelVariant.renders_color``), sorted."""
    return [name for name in variant_names() if _VARIANTS[name].renders_color]


def get_variant(name: str) -> ModelVariant:
    """The variant registered as ``name``; an unknown name is a one-line ValueError listing the known ones."""
    if name not in _VARIANTS:
        raise ValueError(f"unknown method {name!r}; set method to one of {variant_names()}")
    return _VARIANTS[name]


def variant_of(model: nn.Module) -> str:
    """The method name of the registered variant whose model class ``model`` is an instance of."""
    for name, variant in _VARIANTS.items():
        if isinstance(model, variant.model_class):
            return name
    raise TypeError(f"{type(model).__name__} is not the model of a registered variant ({variant_names()})")


def build_model(method: str, run_cfg: Any, num_frames: int, image_hw: tuple[int, int]) -> nn.Module:
    """A fresh model of ``method`` with its settings from the run configuration ``run_cfg``."""
    variant = get_variant(method)
    return variant.build(variant.config_of(run_cfg), num_frames, image_hw)


def model_from_checkpoint(state: dict[str, Any], path: str | Path) -> nn.Module:
    """The model a checkpoint holds (already read; ``path`` names it in errors), on the CPU in train mode.

    The checkpoint must hold the resolved ``config``, ``image_hw`` and ``num_imgs`` (written by
    ``omnimotion train``); official checkpoints lack them and are refused with a message saying so.
    """
    missing = [key for key in ("config", "image_hw", "num_imgs") if key not in state]
    if missing:
        raise CorruptFileError(f"checkpoint {path} lacks {missing}, so the model cannot be rebuilt; track with "
                               "checkpoints written by 'omnimotion train'")
    variant = get_variant(stored_method(state))
    cfg = variant.config_from_dict(state["config"].get(variant.config_section, {}))
    model = variant.build(cfg, int(state["num_imgs"]), tuple(state["image_hw"]))
    load_model_state(variant, model, state, path)
    return model


def load_model_state(variant: ModelVariant, model: nn.Module, state: dict[str, Any], path: str | Path) -> None:
    """Load the weights of ``model`` from the entries of a checkpoint ``state`` its ``variant`` names.

    A missing entry is a CorruptCheckpointError; weights of other shapes are a ValueError saying that the
    model settings must match those the checkpoint was trained with.
    """
    modules = variant.state_modules(model)
    require_entries(state, tuple(modules), path)
    for key, module in modules.items():
        try:
            module.load_state_dict(state[key])
        except RuntimeError as err:
            raise ValueError(f"checkpoint {path} does not fit the configured model ({key}): the model "
                             f"settings (the '{variant.config_section}' section) must match those it was "
                             f"trained with. Details: {str(err).splitlines()[0]}") from err


register_variant("omnimotion", OmniMotionVariant())
register_variant("surface", SurfaceVariant())
