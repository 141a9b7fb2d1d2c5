"""What preparing a video will cost, estimated before any work, and a frame window for long videos.

A data directory keeps a flow and a mask for every ordered pair of frames, chained pairs included, so its size
and the chaining time grow as frames². ``plan_pairs`` counts the pairs from the input's header (no decoding),
estimates disk and CPU time, and above ``PAIR_BUDGET`` pairs chooses a frame window (``max_gap``: only pairs
at most that many frames apart), which ``omnimotion run`` then uses and announces in one line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omnimotion.io.video import frame_files, native_frame_hw

__all__ = ["PairPlan", "plan_pairs", "pair_plan", "video_frame_count", "PAIR_BUDGET", "MIN_AUTO_GAP",
           "SECONDS_PER_PAIR"]

logger = logging.getLogger(__name__)

PAIR_BUDGET = 5000
"""Above this many ordered frame pairs (71 frames; ~2.7 GB at 256x256) only the pairs of nearby frames are
prepared, in the widest window that keeps the budget but at least ``MIN_AUTO_GAP`` frames (300 frames with all
pairs: 89,700 pairs, ~47 GB)."""

MIN_AUTO_GAP = 8
"""Smallest automatic frame window: a narrower one costs accuracy (README "Long videos", benchmarks/NOTES.md)."""

SECONDS_PER_PAIR = {"flow": 0.45, "chain": 0.22}
"""Seconds per 256x256 pair with one worker process: a DIS ``fine2x`` flow (computed for consecutive frames),
and the filtering and chaining of every pair. Measured with ``omnimotion prepare cat.mp4 --end 24 --workers 1``
(24 frames at 256x196: 46 flows in 16 s, 552 pairs chained in 92 s) on this project's 2-core machine while
other work ran on it; estimates scale them by the pixel count, and an idle machine is faster."""

_NPY_HEADER_BYTES = 128


@dataclass(frozen=True)
class PairPlan:
    """The cost of preparing ``num_frames`` frames of ``image_hw`` (working size) with frame window
    ``max_gap`` (None: all pairs): ``pairs`` flow/mask files, ``disk_bytes``, and ``seconds`` with one worker
    (``SECONDS_PER_PAIR``)."""

    num_frames: int
    image_hw: tuple[int, int]
    max_gap: int | None
    pairs: int
    disk_bytes: int
    seconds: float

    def describe(self) -> str:
        return f"{self.pairs:,} pairs, ~{self.disk_bytes / 1e9:.1f} GB, ~{self.seconds / 60:.0f} min with one worker"


def plan_pairs(source: str | Path, *, start: int = 0, end: int | None = None, stride: int = 1,
               max_side: int | None = None, chain_direct_max_gap: int | None = 1) -> PairPlan:
    """The plan for all pairs of the frames ``start:end:stride`` of ``source`` (shrunk to ``max_side``), or,
    above ``PAIR_BUDGET`` pairs, for the widest frame window that keeps it; logged in one line."""
    num_frames, image_hw = selected_frames(Path(source), start, end, stride, max_side)
    plan = pair_plan(num_frames, image_hw, None, chain_direct_max_gap)
    if num_frames < 2:  # nothing to plan: preparing will say what is wrong with the input
        return plan
    if plan.pairs > PAIR_BUDGET:
        gap = max(MIN_AUTO_GAP, PAIR_BUDGET // (2 * num_frames))
        windowed = pair_plan(num_frames, image_hw, gap, chain_direct_max_gap)
        if windowed.pairs < plan.pairs:
            logger.warning("%d frames: all pairs would be %s; using --max_gap %d instead (%s; tracks lose about "
                           "3 AJ, see README 'Long videos'); --max_gap all keeps every pair", num_frames,
                           plan.describe(), gap, windowed.describe())
            return windowed
    logger.info("preparing %d frames of %dx%d: %s", num_frames, image_hw[1], image_hw[0], plan.describe())
    return plan


def pair_plan(num_frames: int, image_hw: tuple[int, int], max_gap: int | None,
              chain_direct_max_gap: int | None) -> PairPlan:
    """The plan of ``num_frames`` frames of ``image_hw`` in window ``max_gap``; flows are computed directly up
    to ``chain_direct_max_gap`` frames apart (None: every pair) and chained beyond."""
    reach = min(max_gap or num_frames, num_frames - 1)
    pairs = _ordered_pairs(num_frames, reach)
    flows = _ordered_pairs(num_frames, min(reach, chain_direct_max_gap or reach))
    pixels = image_hw[0] * image_hw[1]
    seconds = pixels / 256 ** 2 * (flows * SECONDS_PER_PAIR["flow"] + pairs * SECONDS_PER_PAIR["chain"])
    disk = pairs * (_NPY_HEADER_BYTES + pixels * 2 * 4 + pixels // 8)  # float32 flow and a ~1 bit/px PNG mask
    return PairPlan(num_frames, image_hw, max_gap, pairs, disk, seconds)


def selected_frames(source: Path, start: int, end: int | None, stride: int,
                    max_side: int | None) -> tuple[int, tuple[int, int]]:
    """(frames selected by ``start:end:stride``, working (H, W)) of a video, frame folder or data directory
    (whose frames are used as they are); (0, (0, 0)) when the input cannot be read."""
    if source.is_dir():
        if not frame_files(source):
            return 0, (0, 0)
        total, native = len(frame_files(source)), native_frame_hw(source)
        if (source / "color").is_dir():
            max_side = None
    else:
        total = video_frame_count(source)
        if total == 0:
            return 0, (0, 0)
        native = native_frame_hw(source)
    count = len(range(total)[start:end:stride])
    scale = min(1.0, (max_side or max(native)) / max(native))
    return count, (max(1, round(native[0] * scale)), max(1, round(native[1] * scale)))


def video_frame_count(path: Path) -> int:
    """Frames of a video file, from its header, else by counting packets (no decoding); 0 when it cannot be
    read (reading the frames then fails with the reason)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
    except (OSError, ValueError, IndexError, av.FFmpegError):
        return 0


def _ordered_pairs(num_frames: int, reach: int) -> int:
    """Ordered pairs (i, j), i != j, at most ``reach`` frames apart."""
    return sum(2 * (num_frames - gap) for gap in range(1, reach + 1))
