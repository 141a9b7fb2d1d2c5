"""Many videos, many machines: ``omnimotion batch`` on Ray, with per-video status files and resume.

Every video of a batch goes through the three stages of ``omnimotion.pipeline`` (prepare, train, track), one Ray
task per stage with the requested CPUs, GPUs and memory; finished videos and finished stages are skipped when
the same command runs again. Ray is imported lazily: the rest of the package works without it.
"""

from omnimotion.batch.cluster import DEFAULT_MAX_RETRIES, TaskResources, ray_job_map, ray_session
from omnimotion.batch.inputs import BatchVideo, expand_inputs, plan_videos
from omnimotion.batch.runner import BatchReport, run_batch
from omnimotion.batch.stages import run_stage
from omnimotion.batch.status import STATUS_FILE, VideoStatus, collect_status, format_status_table, read_status

__all__ = ["BatchVideo", "expand_inputs", "plan_videos", "TaskResources", "DEFAULT_MAX_RETRIES", "ray_session",
           "ray_job_map", "BatchReport", "run_batch", "run_stage", "STATUS_FILE", "VideoStatus", "read_status",
           "collect_status", "format_status_table"]
