"""Ray connection, per-task resource requests, and Ray-backed maps for the evaluation loop and the flow pairs.

Ray is imported only inside these functions, so the package works without it (``pip install "ray[default]"``
or the ``ray`` extra adds it). Without an address Ray starts in this process on this machine; with one
(``auto``, ``ray://host:10001``, ``host:6379``) it joins that cluster; ``local`` forces a new local instance.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from omnimotion.eval.runner import JobMap
from omnimotion.preprocess.pairs import ChunkMap

__all__ = ["TaskResources", "DEFAULT_MAX_RETRIES", "ray_session", "ray_job_map", "ray_chunk_map",
           "describe_task_failure"]

DEFAULT_MAX_RETRIES = 2
"""Times Ray re-runs a task whose worker process or machine died; exceptions raised by the task itself (bad
input, a bug) are never retried: they would fail again."""


@dataclass(frozen=True)
class TaskResources:
    """What each task asks Ray for: ``cpus`` and ``gpus`` (fractions share a device), ``memory_gb`` (None: no
    reservation; Ray then schedules by CPUs and GPUs only) and ``max_retries`` after a worker death."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_gb: float | None = None
    max_retries: int = DEFAULT_MAX_RETRIES

    def __post_init__(self):
        if self.cpus <= 0 or self.gpus < 0 or (self.memory_gb is not None and self.memory_gb <= 0):
            raise ValueError(f"resource requests must be positive (cpus {self.cpus}, gpus {self.gpus}, memory "
                             f"{self.memory_gb} GB); e.g. --cpus-per-video 1 --gpus-per-video 1")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    def options(self, use_gpu: bool = True) -> dict[str, Any]:
        """Keyword arguments of Ray's ``.options()`` for one task (``use_gpu=False``: no GPU requested)."""
        options: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus if use_gpu else 0,
                                   "max_retries": self.max_retries, "retry_exceptions": False}
        if self.memory_gb is not None:
            options["memory"] = int(self.memory_gb * 2**30)
        return options


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None,
                worker_logs: bool = False) -> Iterator[str | None]:
    """Connect to Ray for the duration of the block; yield the dashboard URL (None when there is none).

    A Ray instance already initialised in this process (e.g. by a caller or a test) is used as it is and left
    running. ``num_cpus`` (default: all cores) applies only when a local instance is started;
    ``worker_logs`` forwards the workers' output to this terminal.
    """
    import ray

    if ray.is_initialized():
        yield None
        return
    local = address in (None, "local")
    start_options = {"num_cpus": num_cpus or os.cpu_count(), "include_dashboard": False} if local else {}
    try:
        context = ray.init(address=address, log_to_driver=worker_logs, logging_level=logging.WARNING,
                           **start_options)
    except ConnectionError as err:
        raise ConnectionError(f"cannot reach a Ray cluster at --address {address} ({err}); start one with "
                              "'ray start --head' (see README), or leave out --address to run on this machine") \
            from err
    try:
        url = context.dashboard_url
        yield (url if url.startswith("http") else f"http://{url}") if url else None
    finally:
        ray.shutdown()


def ray_job_map(resources: TaskResources) -> JobMap:
    """A ``map_jobs`` for ``omnimotion.eval.run_evaluation``: one Ray task per job, results in job order; a job
    that could not run (its worker died more than ``max_retries`` times) yields the error instead."""
    def map_jobs(func: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[Any]:
        import ray
        from ray.exceptions import RayError, RayTaskError

        for ref in _submit(func, jobs, resources.options()):
            try:
                yield ray.get(ref)
            except RayTaskError as err:
                yield err.cause if isinstance(err.cause, Exception) else err
            except RayError as err:
                yield err
    return map_jobs


def ray_chunk_map(resources: TaskResources, use_gpu: bool) -> ChunkMap:
    """A ``flow_map`` for ``prepare``: one Ray task per chunk of flow pairs, results as chunks finish; a chunk
    that fails (after ``max_retries`` worker deaths) fails the stage, and a re-run redoes only missing pairs."""
    def map_chunks(func: Callable[[Any], Any], chunks: Sequence[Any]) -> Iterator[Any]:
        import ray

        pending = _submit(func, chunks, resources.options(use_gpu))
        while pending:
            (ready,), pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready)
    return map_chunks


def describe_task_failure(err: Exception, max_retries: int) -> str:
    """One line saying why a task failed: the task's own exception, or how its worker was lost."""
    from ray.exceptions import RayTaskError

    if isinstance(err, RayTaskError) and err.cause is not None:
        return f"{type(err.cause).__name__}: {err.cause}"
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__} (after {max_retries} retries): {first_line}"


def _submit(func: Callable[[Any], Any], jobs: Sequence[Any], options: dict[str, Any]) -> list:
    import ray

    task = ray.remote(_call).options(**options)
    return [task.remote(func, job) for job in jobs]


def _call(func: Callable[[Any], Any], job: Any) -> Any:
    return func(job)
