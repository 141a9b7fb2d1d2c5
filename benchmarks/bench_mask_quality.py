"""Precision and recall of the filter's reliable mask per frame gap, on a synthetic clip with exact flow.

    python benchmarks/bench_mask_quality.py [--frames 24 --size 128 --cycle_th 3]

Prepares the clip with DIS flow and filtering only (no chaining, so the masks are the filter's), then compares
each pair's mask with the ground truth. A pixel "should be reliable" when it is visible in the target frame
and its DIS flow lands within ``cycle_th`` px of the true position. Reported per gap bucket:
share of pixels marked reliable (ch0 or ch1), the same share in the ground truth, precision and recall of
the marked pixels, and the recall of occlusion (share of pixels occluded in the target that are not marked).
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from omnimotion.preprocess.options import PrepareConfig
from omnimotion.preprocess.pipeline import prepare
from omnimotion.synthetic import make_clip, write_frames

BUCKETS = ((1, 1), (2, 4), (5, 8), (9, 16), (17, 10_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--cycle_th", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    clip = make_clip(num_frames=args.frames, height=args.size, width=args.size, num_sprites=2, motion="mixed",
                     seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        frames = Path(tmp) / "frames"
        write_frames(clip, frames)
        options = PrepareConfig(cycle_th=args.cycle_th, chain=False, max_side=None, chain_direct_max_gap=None)
        data = prepare(frames, Path(tmp) / "data", options, workers=args.workers)
        counts = _count(data, clip, args.cycle_th)
    print(f"synthetic clip: {args.frames} frames, {args.size}x{args.size}, DIS medium, cycle_th {args.cycle_th} px")
    print("| gap | marked reliable | truly reliable | precision | recall | occluded pixels flagged unreliable |")
    print("|---|---|---|---|---|---|")
    for (low, high), c in counts.items():
        label = f"{low}" if low == high else (f"{low}-{high}" if high < 10_000 else f"{low}+")
        print(f"| {label} | {c['marked'] / c['all']:.1%} | {c['truth'] / c['all']:.1%} | "
              f"{c['hit'] / max(c['marked'], 1):.1%} | {c['hit'] / max(c['truth'], 1):.1%} | "
              f"{c['occ_flagged'] / max(c['occ'], 1):.1%} |")


def _count(data, clip, cycle_th: float) -> dict[tuple[int, int], dict[str, int]]:
    counts: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for i in range(data.num_frames):
        for j in range(data.num_frames):
            if i == j:
                continue
            bucket = next(b for b in BUCKETS if b[0] <= abs(i - j) <= b[1])
            true_flow, occluded = clip.flow(i, j)
            reliable, occluded_reliable = data.load_mask(i, j)
            marked = reliable | occluded_reliable
            close = np.linalg.norm(data.load_flow(i, j) - true_flow, axis=-1) < cycle_th
            truth = ~occluded & close
            c = counts[bucket]
            c["all"] += marked.size
            c["marked"] += int(marked.sum())
            c["truth"] += int(truth.sum())
            c["hit"] += int((marked & truth).sum())
            c["occ"] += int(occluded.sum())
            c["occ_flagged"] += int((occluded & ~marked).sum())
    return dict(sorted(counts.items()))


if __name__ == "__main__":
    main()
