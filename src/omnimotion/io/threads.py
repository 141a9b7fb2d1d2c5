"""How many threads torch, OpenCV and OpenMP use in this process, chosen at the start of each stage.

Why it matters: the models are small, so each step runs thousands of short parallel regions, and every
region waits for its slowest thread. When another process keeps a core busy, the second thread is often
descheduled and every region waits a time slice for it, which can make a training step many times slower
(``benchmarks/bench_threads.py``; figures in benchmarks/NOTES.md).

Priority: an explicit request (``--threads N``, config key ``threads``) > ``OMP_NUM_THREADS`` set in the
environment > automatic: the cores this process may use minus the cores other processes keep busy, sampled
over a fraction of a second when the stage starts (at least 1). Preprocessing workers are processes, one per
core, each with one thread.
"""

from __future__ import annotations

import logging
import os
import sys
import time

__all__ = ["resolve_threads", "use_threads", "free_cores", "usable_cores"]

logger = logging.getLogger(__name__)

_SAMPLE_SECONDS = 0.3
"""How long the other processes' CPU use is sampled (a stage starts once, so this is paid once)."""


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def free_cores(usable: int, busy_elsewhere: float) -> int:
    """Threads that do not compete with other work: ``usable`` cores minus those others keep busy, >= 1.

    ``busy_elsewhere`` is in cores (1.0 = one core fully used); a core more than half used counts as busy.
    """
    return max(1, min(usable, usable - round(busy_elsewhere)))


def resolve_threads(requested: int = 0) -> tuple[int, str]:
    """(threads, why): ``requested`` if positive, else ``OMP_NUM_THREADS`` if set, else the free cores."""
    if requested < 0:
        raise ValueError(f"threads must be >= 0 (0 = automatic), got {requested}")
    if requested:
        return requested, "requested"
    from_env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if from_env:
        try:
            return max(1, int(from_env)), "OMP_NUM_THREADS"
        except ValueError:
            raise ValueError(f"OMP_NUM_THREADS={from_env!r} is not a whole number; set it to e.g. 1, or unset "
                             "it to let omnimotion choose") from None
    usable = usable_cores()
    busy = _cores_busy_elsewhere(usable)
    if busy is None:
        return usable, "all usable cores"
    return free_cores(usable, busy), f"{usable} usable cores, {busy:.1f} busy with other work"


def use_threads(requested: int = 0, stage: str = "this stage") -> int:
    """Set the thread count of torch (if imported), OpenCV and OpenMP for this process; returns it."""
    import cv2

    threads, why = resolve_threads(requested)
    cv2.setNumThreads(threads)
    torch = sys.modules.get("torch")  # preprocessing never imports torch just for this
    if torch is not None:
        torch.set_num_threads(threads)
    logger.info("%s: %d thread%s (%s; change with --threads N)", stage, threads, "" if threads == 1 else "s", why)
    return threads


def _cores_busy_elsewhere(usable: int) -> float | None:
    """Cores other processes kept busy over a short sample (Linux ``/proc/stat``), or None where unknown."""
    try:
        before, own_before = _cpu_jiffies(), os.times()
        time.sleep(_SAMPLE_SECONDS)
        after, own_after = _cpu_jiffies(), os.times()
    except (OSError, ValueError, IndexError):
        return None
    total = after[1] - before[1]
    if total <= 0:
        return None
    cores = os.cpu_count() or usable
    busy = (after[0] - before[0]) / total * cores
    own = (own_after.user + own_after.system - own_before.user - own_before.system) / _SAMPLE_SECONDS
    return max(0.0, busy - own)


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from the first line of ``/proc/stat``."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])
