"""Training checkpoints: official naming and keys, atomic writes, validated loading.

A checkpoint is ``<out_dir>/model_{step:06d}.pth`` holding a dict with the official keys
``optimizer``, ``scheduler``, ``deform_mlp``, ``feature_mlp``, ``color_mlp`` (state dicts) and ``num_imgs``,
plus this package's ``step``, ``sampler`` (sampler state), ``rng`` (torch RNG state) and ``config`` (the
resolved configuration as a nested dict). A ``method = surface`` checkpoint (the fast single-surface model)
holds ``method`` and ``surface_model`` (its state dict) in place of the three network entries. Loading uses ``torch.load(weights_only=True)``: checkpoints
hold only tensors and plain Python values, so no code is executed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from omnimotion.io.atomic import atomic_open
from omnimotion.io.datadir import CorruptFileError

__all__ = ["OFFICIAL_KEYS", "SURFACE_MODEL_KEY", "CorruptCheckpointError", "checkpoint_path", "save_checkpoint",
           "load_checkpoint", "latest_checkpoint", "checkpoint_step"]

OFFICIAL_KEYS = ("optimizer", "scheduler", "deform_mlp", "feature_mlp", "color_mlp", "num_imgs")
SUBMODULE_KEYS = ("deform_mlp", "feature_mlp", "color_mlp")
SURFACE_MODEL_KEY = "surface_model"
_NAME = re.compile(r"^model_(\d+)\.pth$")


class CorruptCheckpointError(CorruptFileError):
    """A checkpoint file exists but cannot be read or lacks required entries."""


def checkpoint_path(out_dir: str | Path, step: int) -> Path:
    return Path(out_dir) / f"model_{step:06d}.pth"


def checkpoint_step(path: str | Path) -> int:
    """The step encoded in a ``model_XXXXXX.pth`` name."""
    match = _NAME.match(Path(path).name)
    if match is None:
        raise ValueError(f"{path} is not named model_<step>.pth, so its step is unknown")
    return int(match.group(1))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically (a crash leaves the previous file, never a truncated one)."""
    missing = [key for key in _required_keys(state, OFFICIAL_KEYS) if key not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks the official key(s) {missing}")
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu",
                    required: tuple[str, ...] = ("deform_mlp", "feature_mlp", "color_mlp")) -> dict[str, Any]:
    """Read a checkpoint; a missing file raises FileNotFoundError, an unreadable or incomplete one
    CorruptCheckpointError naming the file (never silently ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train first with 'omnimotion train'")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types (pickle, zip, runtime) for damaged files
        raise CorruptCheckpointError(f"checkpoint {path} is unreadable ({type(err).__name__}: {err}); "
                                     "delete it to resume from an earlier one, or retrain with "
                                     "--no_reload") from err
    if not isinstance(state, dict):
        raise CorruptCheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a dict")
    missing = [key for key in _required_keys(state, required) if key not in state]
    if missing:
        raise CorruptCheckpointError(f"checkpoint {path} lacks {missing}; it was not written by "
                                     "omnimotion or the official trainer")
    return state


def _required_keys(state: dict[str, Any], faithful: tuple[str, ...]) -> tuple[str, ...]:
    """Keys a checkpoint must hold: ``faithful`` for the OmniMotion model; a surface-method checkpoint
    (``method = surface``) holds ``surface_model`` instead of the three official network entries."""
    if state.get("method", "omnimotion") != "surface":
        return faithful
    return tuple(k for k in faithful if k not in SUBMODULE_KEYS) + (SURFACE_MODEL_KEY,)


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest ``model_*.pth`` in ``out_dir`` (highest step), or None."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    found = [p for p in out_dir.iterdir() if _NAME.match(p.name)]
    return max(found, key=checkpoint_step) if found else None
