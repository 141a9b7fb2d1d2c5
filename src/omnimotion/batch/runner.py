"""The batch driver: every video through prepare -> train -> track, one Ray task per stage, with resume.

Call inside ``ray_session`` (``omnimotion.batch.cluster``). Each video's next stage is submitted when its previous
one finishes, so a stage's resource request (``TaskResources``) holds only while it runs. A video whose status
file says it finished with the same settings, and whose tracks exist, is skipped; the others run every stage,
each stage skipping what is already complete. A failing video is recorded (``failed``, the stage, the reason)
and the others go on. Progress: one bar over the videos (done / total, ETA) and one line per finished stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Sequence

from tqdm import tqdm

from omnimotion.pipeline import RunSettings
from omnimotion.batch.cluster import TaskResources, describe_task_failure
from omnimotion.batch.inputs import BatchVideo
from omnimotion.batch.stages import StageResult, next_stage, result_settings, run_stage, stage_uses_gpu
from omnimotion.batch.status import STAGES, VideoStatus, is_complete, read_status, update_status, write_status

__all__ = ["BatchReport", "run_batch"]

@dataclass
class BatchReport:
    """Final status of every video (input order), the names skipped as already done, and the wall time."""

    statuses: list[VideoStatus]
    skipped: list[str]
    seconds: float

    @property
    def failed(self) -> list[VideoStatus]:
        return [status for status in self.statuses if status.state == "failed"]


def run_batch(videos: Sequence[BatchVideo], settings: RunSettings, resources: TaskResources,
              progress: bool = True, flow_fan_out: bool = False) -> BatchReport:
    """Run (or finish) every video of the batch on the connected Ray cluster; see the module docstring.

    ``flow_fan_out``: each video's flow pairs run as Ray tasks of one CPU (and the video's GPUs with a GPU flow
    backend), in chunks, so that one long video's preprocessing spreads over the cluster.
    """
    import ray

    start = time.perf_counter()
    stage_task = ray.remote(run_stage)
    expected = result_settings(settings)
    statuses: dict[str, VideoStatus] = {}
    skipped: list[str] = []
    pending: dict[Any, tuple[BatchVideo, str]] = {}
    flow_chunks = replace(resources, cpus=1.0, memory_gb=None) if flow_fan_out else None

    def submit(video: BatchVideo, stage: str, checkpoint=None) -> None:
        options = resources.options(use_gpu=stage_uses_gpu(stage, settings))
        ref = stage_task.options(**options).remote(stage, video, settings, checkpoint, flow_chunks)
        pending[ref] = (video, stage)

    def finish_stage(ref, bar: tqdm) -> None:
        """Record the stage of ``ref`` (done or failed) and submit the video's next stage."""
        video, stage = pending.pop(ref)
        try:
            result: StageResult = ray.get(ref)
        except Exception as err:  # the task's own exception (wrapped by Ray) or a lost worker
            reason = describe_task_failure(err, resources.max_retries)
            statuses[video.name] = update_status(video, state="failed", stage=stage, reason=reason)
            _finish(bar, f"{video.name}: FAILED in {stage}: {reason}")
            return
        status = statuses[video.name]
        status.seconds[stage] = result.seconds
        following = next_stage(stage)
        if following is not None:
            bar.write(f"{video.name}: {stage} finished in {result.seconds:.1f} s")
            submit(video, following, result.checkpoint)
            return
        status.state, status.stage, status.updated = "done", stage, time.time()  # as the worker wrote
        _finish(bar, f"{video.name}: done in {sum(status.seconds.values()):.1f} s ("
                     + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in status.seconds.items()) + ")")

    with tqdm(total=len(videos), desc="videos", unit="video", disable=not progress, smoothing=0) as bar:
        try:
            for video in videos:
                if is_complete(video, expected):
                    statuses[video.name] = read_status(video.out_dir)
                    skipped.append(video.name)
                    _finish(bar, f"{video.name}: already done with these settings, skipped")
                    continue
                statuses[video.name] = write_status(video.out_dir, VideoStatus(video.name, str(video.source),
                                                                               settings=expected))
                submit(video, STAGES[0])
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                finish_stage(ref, bar)
        except BaseException:
            _stop_interrupted(ray, pending)
            raise
    return BatchReport([statuses[video.name] for video in videos], skipped, time.perf_counter() - start)


def _stop_interrupted(ray, pending: dict[Any, tuple[BatchVideo, str]]) -> None:
    """The driver is stopping (Ctrl-C or an error): stop the stages still running and mark their videos
    ``interrupted``, so that ``--status`` does not show them running."""
    for ref, (video, stage) in pending.items():
        ray.cancel(ref, force=True)
        update_status(video, state="interrupted", stage=stage,
                      reason=f"the batch stopped during {stage}; run the same command again to resume")


def _finish(bar: tqdm, line: str) -> None:
    bar.write(line)
    bar.update()
