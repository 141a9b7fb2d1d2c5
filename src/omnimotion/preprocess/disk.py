"""Disk space of a data directory's flows and masks, checked before preprocessing writes them.

The official layout keeps a float32 flow ``[H, W, 2]`` (.npy) and a PNG mask for every ordered pair of frames,
chained pairs included, so a data directory grows as frames² (0.5 GB for 32 frames at 256x256, ~47 GB for 300).
"""

from __future__ import annotations

import shutil

from omnimotion.io.atomic import OutputNotWritableError
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.pairs import pair_schedule

__all__ = ["check_disk_space", "bytes_still_needed"]

_NPY_HEADER_BYTES = 128
_DISK_MARGIN = 1.05  # file-system blocks and the temporary file of each atomic write


def check_disk_space(data: DataDir, written_gap: int | None) -> None:
    """Refuse to start when the flows and masks still to be written (every pair at most ``written_gap`` apart)
    cannot fit on the disk, instead of failing hours later: their size grows as frames²."""
    pairs, needed = bytes_still_needed(data, written_gap)
    needed *= _DISK_MARGIN
    free = shutil.disk_usage(data.root).free
    if needed > free:
        height, width = data.image_hw
        raise OutputNotWritableError(
            f"preprocessing {data.root} needs about {_megabytes(needed)} more for the flows and masks of "
            f"{pairs} frame pairs ({data.num_frames} frames of {width}x{height}; this grows as frames²), but "
            f"only {_megabytes(free)} are free there; free some space, or use fewer or smaller frames "
            "(--max_side; omnimotion prepare --end, --stride) or only pairs of nearby frames (--max_gap N)")


def _megabytes(count: float) -> str:
    return f"{count / 1e6:,.1f} MB" if count < 10e9 else f"{count / 1e9:,.1f} GB"


def bytes_still_needed(data: DataDir, written_gap: int | None) -> tuple[int, int]:
    """(pairs, bytes): the pairs at most ``written_gap`` apart and what their flow and mask files will add
    to those already written (a float32 ``[H, W, 2]`` .npy and a PNG mask of about one bit per pixel)."""
    height, width = data.image_hw
    pair_bytes = _NPY_HEADER_BYTES + height * width * 2 * 4 + height * width // 8
    schedule = pair_schedule(data.num_frames, written_gap)
    present = sum(path.stat().st_size for i, targets in schedule for j in targets
                  for path in (data.flow_path(i, j), data.mask_path(i, j)) if path.exists())
    pairs = sum(len(targets) for _, targets in schedule)
    return pairs, max(pairs * pair_bytes - present, 0)
