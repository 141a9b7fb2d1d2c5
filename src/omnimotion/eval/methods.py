"""The contract of a tracking method the evaluation runs, and the flow baselines.

A method is ``method(video, queries, workdir, options) -> (tracks, occluded)``:

- ``video`` uint8 ``[T, H, W, 3]``; ``queries`` float ``[N, 3]`` = (t, x, y) pixels (``omnimotion.coords``);
- ``workdir``: a folder of its own for this (video, method), kept between runs so a method can resume;
- ``options``: :class:`MethodOptions`;
- returns tracks float ``[N, T, 2]`` (x, y) pixels and occluded bool ``[N, T]`` (True = occluded).

Each query must be tracked independently of the others (TAP-Vid rule). ``run_evaluation`` is given its methods
as a table, name -> method: ``baseline_methods()`` here, and the table of ``omnimotion eval``
(``omnimotion.cli.eval.evaluation_methods``), which adds the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from omnimotion.eval.baselines import CYCLE_TH_PX, FlowCache, chain_tracks, direct_tracks
from omnimotion.preprocess.options import PrepareConfig

__all__ = ["MethodOptions", "TrackingMethod", "baseline_methods"]


@dataclass
class MethodOptions:
    """Options every method receives.

    prepare: the flow backend and its options (the same for every method, for fairness), and the
        preprocessing of methods that prepare a data directory.
    cycle_th_px: forward-backward cycle threshold of the flow baselines, pixels of the video.
    extra: method-specific settings (e.g. a preset name for the model), passed through untouched.
    workers: preprocessing processes of methods that prepare a data directory (None = all cores); changes
        only the speed, so predictions saved with another value are reused.
    """

    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    cycle_th_px: float = CYCLE_TH_PX
    extra: dict[str, Any] = field(default_factory=dict)
    workers: int | None = None


TrackingMethod = Callable[[np.ndarray, np.ndarray, Path, MethodOptions], tuple[np.ndarray, np.ndarray]]


def _chain(video: np.ndarray, queries: np.ndarray, workdir: Path, options: MethodOptions):
    return chain_tracks(video, queries, FlowCache(video, options.prepare.backend()),
                        options.cycle_th_px)


def _direct(video: np.ndarray, queries: np.ndarray, workdir: Path, options: MethodOptions):
    return direct_tracks(video, queries, FlowCache(video, options.prepare.backend()),
                         options.cycle_th_px)


def baseline_methods() -> dict[str, TrackingMethod]:
    """The flow baselines by name: ``chain`` (consecutive flows chained) and ``direct`` (flow from the query
    frame to each frame), both with the forward-backward cycle check as occlusion."""
    return {"chain": _chain, "direct": _direct}
