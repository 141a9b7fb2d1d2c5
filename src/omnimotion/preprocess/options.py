"""PrepareConfig: every option of preprocessing (``omnimotion.preprocess.pipeline.prepare``).

The flow backend and its options, the frames used, the working size, filtering and chaining. Defaults are
those of ``omnimotion run``. Field names are the config keys (``omnimotion.config``); a field's docstring is its
``--help``. Validation happens on construction, so a bad value fails before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnimotion.flow.base import FlowBackend, available_backends, get_backend
from omnimotion.flow.opencv import DEFAULT_DIS_PRESET, DIS_PRESETS
from omnimotion.preprocess.appearance import Appearance, get_appearance

__all__ = ["PrepareConfig", "RAFT_VARIANTS", "APPEARANCE_CHOICES", "DEFAULT_MAX_SIDE", "CHAIN_DIRECT_MAX_GAP"]

RAFT_VARIANTS = ("large", "small")
APPEARANCE_CHOICES = ("auto", "embedded", "dino", "none")

DEFAULT_MAX_SIDE = 256
"""Working size: frames are shrunk so that their longest side is at most this (preprocessing and training time
grow with the pixel count; outputs of ``run`` and ``track`` stay in the source video's pixels)."""

CHAIN_DIRECT_MAX_GAP = 1
"""Long-range training targets come from checked chains of consecutive flows, not from direct long-gap flows
(benchmarks/bench_supervision_quality.py); only the consecutive flows are then computed."""


@dataclass(frozen=True)
class PrepareConfig:
    """Options of ``prepare``; ``backend()`` builds the flow backend they name."""

    flow: str = "dis"
    """Optical-flow backend: dis (OpenCV, no weights) or raft (torchvision RAFT: the raft extra); dis:PRESET is
    the same as dis with dis_preset PRESET."""
    dis_preset: str = ""
    """dis: OpenCV preset ultrafast, fast, medium, fine or fine2x (fine on frames upscaled 2x); empty: fine2x."""
    raft_weights: str = ""
    """raft: RAFT weights file, torchvision's or the authors' key names (the variant is read from the file);
    empty: torchvision's weights cache."""
    raft_variant: str = "large"
    """raft: large or small; picks the cached torchvision file when raft_weights is empty."""
    cycle_th: float = 3.0
    """Forward-backward cycle threshold of the flow filter, pixels."""
    appearance: str = "auto"
    """Appearance check of the filter: auto (DINO when dino_weights is given, else embedded), embedded, dino or
    none."""
    dino_weights: str = ""
    """DINO ViT-S weights file for the appearance check."""
    chain: bool = True
    """Chain flows into long-range correspondences (the official code always chains)."""
    chain_direct_max_gap: int | None = CHAIN_DIRECT_MAX_GAP
    """Chaining trusts direct flows only up to this many frames apart and builds longer ones from checked
    chains (only those flows are computed); none: the official rule, direct flows win wherever valid."""
    max_side: int | None = DEFAULT_MAX_SIDE
    """Working size: frames are shrunk so that the longest side is at most this many pixels; none: as they are."""
    max_gap: int | None = None
    """Only frame pairs at most this many frames apart are prepared (disk use grows as frames x max_gap); none:
    every pair."""
    start: int = 0
    """First frame of the input used."""
    end: int | None = None
    """Stop before this frame of the input; none: the last."""
    stride: int = 1
    """Take every stride-th frame of the input."""

    def __post_init__(self) -> None:
        name, _, preset = self.flow.partition(":")
        if name not in available_backends():
            raise ValueError(f"flow {self.flow!r} is not one of {', '.join(available_backends())}")
        for key, value in (("dis_preset", self.dis_preset), ("flow", preset)):
            if value and value not in DIS_PRESETS:
                raise ValueError(f"{key} {value!r} is not a DIS preset: one of {', '.join(DIS_PRESETS)}")
        if preset and name != "dis":
            raise ValueError(f"flow {self.flow!r}: only dis takes a preset after a colon")
        if preset and self.dis_preset not in ("", preset):
            raise ValueError(f"flow {self.flow} and dis_preset {self.dis_preset} name different DIS presets; "
                             "give one of them")
        if name != "raft" and self.raft_weights:
            raise ValueError("raft_weights is for flow raft; DIS needs no weights")
        if name != "dis" and self.dis_preset:
            raise ValueError(f"dis_preset is for flow dis, not {name}")
        _check_choice("raft_variant", self.raft_variant, RAFT_VARIANTS)
        _check_choice("appearance", self.appearance, APPEARANCE_CHOICES)
        if not self.cycle_th > 0:
            raise ValueError(f"cycle_th must be a positive number of pixels, got {self.cycle_th}")
        for key, low in (("chain_direct_max_gap", 1), ("max_side", 2), ("max_gap", 1), ("start", 0),
                         ("stride", 1), ("end", 1)):
            value = getattr(self, key)
            if value is not None and value < low:
                raise ValueError(f"{key} must be >= {low}, got {value}")

    def flow_options(self) -> dict[str, Any]:
        """The keyword options of ``get_backend`` for this backend (what the stage record compares)."""
        name, _, preset = self.flow.partition(":")
        if name == "dis":
            return {"preset": preset or self.dis_preset or DEFAULT_DIS_PRESET}
        return {"weights": self.raft_weights or None, "small": self.raft_variant == "small"}

    def backend(self) -> FlowBackend:
        """The flow backend; a missing dependency (torchvision for raft) or weights file fails here, in one
        line, before anything is written."""
        return get_backend(self.flow.partition(":")[0], **self.flow_options())

    def appearance_model(self) -> str | Appearance:
        """The filter's appearance check: its name, or the DINO model when ``dino_weights`` is given."""
        if not self.dino_weights:
            return self.appearance
        return get_appearance("dino" if self.appearance == "auto" else self.appearance, weights=self.dino_weights)

    @property
    def uses_gpu(self) -> bool:
        """Whether the flow backend can use a GPU (DIS runs on the CPU)."""
        return self.flow.partition(":")[0] != "dis"


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{key} {value!r} is not one of {', '.join(choices)}")
