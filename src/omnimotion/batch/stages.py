"""One stage of one video, as a batch worker runs it: the ``omnimotion.pipeline`` stage function, timed and
recorded in the video's status file (``omnimotion.batch.status``).

The stages resume as ``omnimotion run`` does (preprocessing skips finished work, training continues from the
newest checkpoint and is skipped at ``num_iters``, outputs are written atomically), so a retried or re-run stage
redoes only what its predecessor left unfinished.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omnimotion.pipeline import RunSettings, prepare_stage, track_stage, train_stage
from omnimotion.batch.cluster import TaskResources, ray_chunk_map
from omnimotion.batch.inputs import BatchVideo
from omnimotion.batch.status import STAGES, update_status

__all__ = ["StageResult", "run_stage", "next_stage", "stage_uses_gpu", "result_settings"]


@dataclass(frozen=True)
class StageResult:
    """What a finished stage hands back: its wall time and, after training, the checkpoint to track with."""

    stage: str
    seconds: float
    checkpoint: Path | None = None


def run_stage(stage: str, video: BatchVideo, settings: RunSettings, checkpoint: Path | None = None,
              flow_chunks: TaskResources | None = None) -> StageResult:
    """Run ``stage`` ("prepare", "train" or "track"; track needs the trained ``checkpoint``) of ``video``.

    ``flow_chunks``: compute the prepare stage's flow pairs as Ray tasks with these resources (one video's
    flow spread over the cluster) instead of in this task's own worker processes.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    status = update_status(video, state="running", stage=stage, reason="")
    start = time.perf_counter()
    if stage == "prepare":
        flow_map = None if flow_chunks is None else ray_chunk_map(flow_chunks, stage_uses_gpu(stage, settings))
        prepare_stage(video.source, video.out_dir, settings, progress=False, flow_map=flow_map)
    elif stage == "train":
        checkpoint = train_stage(video.out_dir, settings)
    else:
        track_stage(video.out_dir, checkpoint, settings)
    seconds = time.perf_counter() - start
    update_status(video, state="done" if next_stage(stage) is None else "running",
                  seconds={**status.seconds, stage: seconds})
    return StageResult(stage, seconds, checkpoint)


def stage_uses_gpu(stage: str, settings: RunSettings) -> bool:
    """Training and tracking use the GPU; preprocessing only with a GPU flow backend (DIS runs on the CPU, and
    a GPU held through it would idle)."""
    return stage != "prepare" or settings.config.prepare.uses_gpu


def next_stage(stage: str) -> str | None:
    """The stage after ``stage``, None after the last."""
    index = STAGES.index(stage) + 1
    return STAGES[index] if index < len(STAGES) else None


def result_settings(settings: RunSettings) -> dict[str, Any]:
    """The settings that decide a video's outputs, as stored in its status file (the device, threads, progress
    display and number of preprocessing workers change only the speed or the display)."""
    values = {key: value for key, value in asdict(settings).items() if key != "workers"}
    for key in ("device", "threads", "progress", "tensorboard"):
        del values["config"]["train"][key]
    return json.loads(json.dumps(values))
