"""Training checkpoints: official naming and keys, atomic writes, validated loading.

A checkpoint is ``<out_dir>/model_{step:06d}.pth`` holding a dict. Every one holds the official run entries
``optimizer``, ``scheduler`` (state dicts) and ``num_imgs``; this package adds ``step``, ``sampler`` (sampler
state), ``rng`` (torch RNG state), ``config`` (the resolved configuration as a nested dict), ``image_hw`` and
``method``, the name of the model variant. The model's weights sit under entries the variant names
(``omnimotion.model.variant``): an official checkpoint has no ``method`` and holds the faithful model's
``deform_mlp``, ``feature_mlp``, ``color_mlp``. Loading uses ``torch.load(weights_only=True)``: checkpoints
hold only tensors and plain Python values, so no code is executed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from omnimotion.io.atomic import atomic_open
from omnimotion.io.datadir import CorruptFileError

__all__ = ["OFFICIAL_KEYS", "OFFICIAL_MODEL_KEYS", "RUN_KEYS", "OFFICIAL_METHOD", "CorruptCheckpointError",
           "checkpoint_path", "save_checkpoint", "load_checkpoint", "latest_checkpoint", "checkpoint_step",
           "stored_method", "require_entries"]

OFFICIAL_KEYS = ("optimizer", "scheduler", "deform_mlp", "feature_mlp", "color_mlp", "num_imgs")
OFFICIAL_MODEL_KEYS = ("deform_mlp", "feature_mlp", "color_mlp")
"""The model entries of an official checkpoint (one state dict per network of the faithful model)."""
RUN_KEYS = tuple(key for key in OFFICIAL_KEYS if key not in OFFICIAL_MODEL_KEYS)
"""The entries every checkpoint holds beside its model's weights."""
OFFICIAL_METHOD = "omnimotion"
"""The model variant of a checkpoint without a ``method`` entry (the official trainer writes none)."""
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
    missing = [key for key in _required_keys(state) if key not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks the official key(s) {missing}")
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint; a missing file raises FileNotFoundError, an unreadable or incomplete one
    CorruptCheckpointError naming the file (never silently ignored). The entries of a named ``method``'s
    model are checked by whoever loads that model (``require_entries``)."""
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
    if "method" not in state:
        require_entries(state, OFFICIAL_MODEL_KEYS, path)
    return state


def require_entries(state: dict[str, Any], keys: tuple[str, ...], path: str | Path) -> None:
    """Raise CorruptCheckpointError naming ``path`` and the ``keys`` it lacks, if any."""
    missing = [key for key in keys if key not in state]
    if missing:
        raise CorruptCheckpointError(f"checkpoint {path} lacks {missing}; it was not written by "
                                     "omnimotion or the official trainer")


def stored_method(state: dict[str, Any]) -> str:
    """The name of the model variant a checkpoint holds (``OFFICIAL_METHOD`` when it names none)."""
    return state.get("method", OFFICIAL_METHOD)


def _required_keys(state: dict[str, Any]) -> tuple[str, ...]:
    """Keys a state must hold to be saved: the run entries, and the official networks unless it names its
    ``method`` (whose variant then supplied its own model entries)."""
    return RUN_KEYS + (() if "method" in state else OFFICIAL_MODEL_KEYS)


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest ``model_*.pth`` in ``out_dir`` (highest step), or None."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    found = [p for p in out_dir.iterdir() if _NAME.match(p.name)]
    return max(found, key=checkpoint_step) if found else None
