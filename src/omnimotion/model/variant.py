"""What a model variant provides: the contract between one kind of model and the trainer, tracker and I/O.

A variant has two parts.

``VariantModel`` (a Protocol) is the fitted model itself, an ``nn.Module`` of one video of ``num_frames``
frames of ``image_hw`` = (H, W) pixels. It maps points between frames and scores occlusion:

* ``correspondences(pts_i [n, 2] px, frame_i long [n], frame_j long [n], *, stratified, use_max_loc)``
  returns an object with ``points_j [n, 2]`` px in frame j and ``depth_j [n]`` (local-volume depth);
* ``occlusion_score(pts_j, depth_j, frame_j) -> [n]``: occluded iff the score exceeds the model's
  ``cfg.occlusion_th``;
* ``render_depth(frame) -> [H, W]``: the frame's (pseudo-)depth, for pictures;
* ``render_rgb(frame) -> [H, W, 3]`` in [0, 1], only when the variant says ``renders_color``.

``ModelVariant`` (an ABC) describes how to make, train and store such a model: its settings class and the
section of the run configuration that holds them, how to build it, its parameter groups (each trained at
its own learning rate) and its checkpoint entries. Variants are registered by name in
``omnimotion.model.factory``, the one place that turns a method name into a variant; its training losses
are registered under the same name in ``omnimotion.train.variant_losses``.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

__all__ = ["VariantModel", "ModelVariant"]


class VariantModel(Protocol):
    """The fitted model of a variant, as the tracker, the hard-example mining and the viewer use it."""

    num_frames: int
    image_hw: tuple[int, int]

    def correspondences(self, pts_i: torch.Tensor, frame_i: torch.Tensor, frame_j: torch.Tensor, *,
                        stratified: bool = False, use_max_loc: bool = True) -> Any: ...

    def occlusion_score(self, pts_j: torch.Tensor, depth_j: torch.Tensor,
                        frame_j: torch.Tensor) -> torch.Tensor: ...

    def render_depth(self, frame: int) -> torch.Tensor: ...


class ModelVariant(ABC):
    """How to build, train and store the models of one variant (see the module docstring).

    Class attributes: ``config_class``, the dataclass of the model's settings; ``config_section``, the
    attribute of the run configuration holding them; ``config_key_prefix``, the prefix of those settings'
    keys in config files and on command lines; ``model_class``, the class ``build`` returns;
    ``renders_color``, whether the model has ``render_rgb``.
    """

    config_class: ClassVar[type]
    config_section: ClassVar[str]
    config_key_prefix: ClassVar[str] = ""
    model_class: ClassVar[type[nn.Module]]
    renders_color: ClassVar[bool] = False

    @abstractmethod
    def build(self, cfg: Any, num_frames: int, image_hw: tuple[int, int]) -> nn.Module:
        """A fresh model of ``num_frames`` frames of ``image_hw`` (H, W) px from settings ``cfg``."""

    @abstractmethod
    def parameter_groups(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        """The model's parameters by group name (each group gets its own learning rate); together they
        must be every parameter of the model, each once."""

    @abstractmethod
    def state_modules(self, model: nn.Module) -> dict[str, nn.Module]:
        """Checkpoint entry -> the module whose state dict it holds; together they cover the whole model."""

    def config_of(self, run_cfg: Any) -> Any:
        """This variant's settings in a run configuration (its defaults when the section is absent)."""
        section = getattr(run_cfg, self.config_section, None)
        return self.config_class() if section is None else section

    def config_from_dict(self, values: dict[str, Any]) -> Any:
        """The settings from a stored dict (a checkpoint's ``config`` section): unknown keys are ignored and
        lists become tuples, as JSON-like storage turns tuples into lists."""
        names = {field.name for field in dataclasses.fields(self.config_class)}
        return self.config_class(**{key: tuple(value) if isinstance(value, list) else value
                                    for key, value in values.items() if key in names})
