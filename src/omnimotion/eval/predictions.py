"""Saved predictions: each (video, method)'s tracks kept in the evaluation folder, so tables can be re-scored.

One ``.npz`` per (video, method), in our conventions (``omnimotion.coords``): ``tracks`` float32 ``[Q, T, 2]``
(x, y) pixels of the video, ``occluded`` bool ``[Q, T]`` (True = occluded), ``queries`` float32 ``[Q, 3]``
(t, x, y), ``seconds`` (wall time of the method) and ``settings`` (JSON text: what the result depends on, see
``omnimotion.eval.runner``). Plain ``np.load`` reads them.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from omnimotion.io.atomic import atomic_open

__all__ = ["SavedPredictions", "save_predictions", "load_predictions", "read_settings"]


class SavedPredictions(NamedTuple):
    """One method's output on one video; shapes in the module docstring."""

    tracks: np.ndarray
    occluded: np.ndarray
    queries: np.ndarray
    seconds: float
    settings: dict[str, Any]


def save_predictions(path: str | Path, predictions: SavedPredictions) -> None:
    """Write ``predictions`` to ``path`` atomically (compressed npz)."""
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, tracks=np.asarray(predictions.tracks, np.float32),
                            occluded=np.asarray(predictions.occluded, bool),
                            queries=np.asarray(predictions.queries, np.float32),
                            seconds=np.float64(predictions.seconds),
                            settings=np.asarray(json.dumps(predictions.settings, sort_keys=True)))


def read_settings(path: str | Path) -> dict[str, Any] | None:
    """The settings saved in ``path`` (only that small member is read); None if the file is missing or broken."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["settings"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def load_predictions(path: str | Path) -> SavedPredictions:
    """Read a file written by :func:`save_predictions`; errors name the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return SavedPredictions(data["tracks"], data["occluded"].astype(bool), data["queries"],
                                    float(data["seconds"]), json.loads(str(data["settings"])))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"cannot read saved predictions {path}: {err}; delete it to re-run the method") from err
