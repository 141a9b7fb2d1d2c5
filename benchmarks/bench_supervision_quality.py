"""How good are the long-range flow targets the trainer would learn from? (run by hand, not a test)

On TAP-Vid DAVIS first-32 clips (human tracks, ``../shared/data/tapvid_davis_first32``) it computes DIS
flow for every pair the evaluation needs (query frames <-> all frames, plus consecutive frames), runs the
filter and the chaining, and compares at the ground-truth points, per frame-gap bucket:

(a) direct DIS flow, (b) consecutive DIS flows composed without any check, (c) the official chaining
output (direct flow where cycle-valid, chained elsewhere), (d) ``prefer="chain"`` (chained flow wherever
the chain is valid, direct only where it broke), (e) ``direct_max_gap=1`` (checked chains only). For (a), (c), (d) it also counts the GT points marked
valid (mask ch0 | ch1 at the nearest pixel) and the error on those: that is what training consumes.

TAP-Vid points are raster pixels (centre at i + 0.5); ours have centres at integers, so we subtract 0.5.

    python benchmarks/bench_supervision_quality.py --clips horsejump-high dog parkour [--appearance embedded]

Numbers are from a shared 2-core machine: timings are noisy, errors are not.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from omnimotion.flow import get_backend
from omnimotion.flow.opencv import DEFAULT_DIS_PRESET
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.chain import chain_flows
from omnimotion.preprocess.filter import filter_flows
from omnimotion.preprocess.warp import sample_bilinear

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tapvid_davis_first32"
BUCKETS = [(1, 1), (2, 4), (5, 8), (9, 16), (17, 31)]
TAPVID_OFFSET = 0.5
# (name, prefer, direct_max_gap) of chain_flows
VARIANTS = [("chain_direct", "direct", None), ("chain_chain", "chain", None), ("chain_only", "direct", 1)]


def write_clip(root: Path, video: np.ndarray, pairs: set[tuple[int, int]], preset: str) -> DataDir:
    (root / "color").mkdir(parents=True)
    for t, frame in enumerate(video):  # PNG: lossless, so the colour check sees the flow's input
        cv2.imwrite(str(root / "color" / f"{t:05d}.png"), frame[..., ::-1])
    data = DataDir(root)
    dis = get_backend("dis", preset=preset)
    for i, j in sorted(pairs):
        data.save_flow(i, j, dis(video[i], video[j]))
    return data


def needed_pairs(num: int, query_frames: np.ndarray) -> set[tuple[int, int]]:
    pairs = {(t, t + 1) for t in range(num - 1)} | {(t + 1, t) for t in range(num - 1)}
    for q in np.unique(query_frames):
        pairs |= {(int(q), t) for t in range(num) if t != q} | {(t, int(q)) for t in range(num) if t != q}
    return pairs


def composed(data: DataDir, q: int, t: int, points: np.ndarray) -> np.ndarray:
    """(b): follow consecutive flows from frame q to frame t, no checks."""
    step = 1 if t > q else -1
    position = points.copy()
    for k in range(q, t, step):
        position = position + sample_bilinear(data.load_flow(k, k + step), position)
    return position


def read_direct(data: DataDir, q: int, t: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flow file q->t at the points, and its mask (ch0 | ch1) at the nearest pixel."""
    reliable, occluded = data.load_mask(q, t)
    height, width = data.image_hw
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, width - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, height - 1)
    return points + sample_bilinear(data.load_flow(q, t), points), (reliable | occluded)[ys, xs]


def evaluate(datas: dict[str, DataDir], gt: np.ndarray, query_frames: np.ndarray) -> list[dict]:
    rows = []
    num = gt.shape[1]
    for n in range(len(gt)):
        q = int(query_frames[n])
        point = gt[n, q][None]
        if not np.isfinite(point).all():
            continue
        for t in range(num):
            if t == q or not np.isfinite(gt[n, t]).all():
                continue
            row = {"gap": abs(t - q)}
            for name, data in datas.items():
                predicted, valid = read_direct(data, q, t, point)
                row[name] = (float(np.linalg.norm(predicted[0] - gt[n, t])), bool(valid[0]))
            row["composed"] = (float(np.linalg.norm(composed(datas["direct"], q, t, point)[0] - gt[n, t])),
                               True)
            rows.append(row)
    return rows


def summarise(rows: list[dict], methods: list[str]) -> str:
    lines = ["| method | gap | n | median EPE | <4px | n valid | median EPE valid | <4px valid |",
             "|---|---|---|---|---|---|---|---|"]
    for method in methods:
        for lo, hi in BUCKETS:
            sel = [r[method] for r in rows if lo <= r["gap"] <= hi]
            if not sel:
                continue
            err = np.array([e for e, _ in sel])
            valid = np.array([v for _, v in sel])
            ev = err[valid]
            valid_cols = (f"{valid.sum()} | {np.median(ev):.2f} | {(ev < 4).mean():.0%}" if valid.any()
                          else "0 | - | -")
            lines.append(f"| {method} | {lo}-{hi} | {len(err)} | {np.median(err):.2f} | "
                         f"{(err < 4).mean():.0%} | {valid_cols} |")
    return "\n".join(lines)


def run_clip(name: str, work: Path, appearance: str, preset: str, cycle_th: float) -> list[dict]:
    clip = np.load(DATA / f"{name}.npz")
    video, gt = clip["video"], clip["points"].astype(np.float64) - TAPVID_OFFSET
    query_frames = clip["query_frame"]
    start = time.time()
    data = write_clip(work / "direct", video, needed_pairs(len(video), query_frames), preset)
    flow_s = time.time() - start
    filter_flows(data, cycle_th=cycle_th, appearance=appearance, workers=1, progress=False)
    datas = {"direct": data}
    for variant, prefer, direct_max_gap in VARIANTS:
        copy = work / variant
        shutil.copytree(work / "direct", copy)
        datas[variant] = DataDir(copy)
        chain_flows(datas[variant], appearance=appearance, workers=1, progress=False, prefer=prefer,
                    direct_max_gap=direct_max_gap)
    logging.info("%s: flows %.0f s, all stages %.0f s", name, flow_s, time.time() - start)
    return evaluate(datas, gt, query_frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", default=["horsejump-high", "dog", "parkour"])
    parser.add_argument("--appearance", default="embedded", help="embedded | none | dino")
    parser.add_argument("--preset", default=DEFAULT_DIS_PRESET, help="DIS preset")
    parser.add_argument("--cycle_th", type=float, default=3.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cv2.setNumThreads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips:
            rows += run_clip(name, Path(tmp) / name, args.appearance, args.preset, args.cycle_th)
    print(f"clips {args.clips}, appearance {args.appearance}, DIS {args.preset}, cycle_th {args.cycle_th}")
    print("(a) direct = raw DIS i->j with the filter's mask; (b) composed = consecutive DIS, no checks;")
    print("(c) chain_direct = official chaining; (d) chain_chain = prefer='chain';")
    print("(e) chain_only = direct_max_gap=1: checked chains of consecutive flows, no direct long flows")
    print(summarise(rows, ["direct", "composed"] + [name for name, _, _ in VARIANTS]))


if __name__ == "__main__":
    main()
