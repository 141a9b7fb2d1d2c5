"""Benchmark the flow baselines (chained and direct flow, DIS) with the evaluation command's own code.

Run by hand (takes a few minutes on 2 cores; timings are noisy when the machine is shared):

    python benchmarks/bench_eval_baselines.py --out /tmp/bench_eval [--data ../shared/data] [--synthetic 8]

1. ``omnimotion eval`` logic on every real clip under ``--data`` (TAP-Vid DAVIS first-32 clips strided;
   BADJA clips with PCK, queried at each joint's first annotated visible frame) and on ``synthetic:K``.
2. The cycle-threshold trade-off on the DAVIS clips: AJ / <delta_avg / OA per threshold, with each clip's
   flows computed once and shared across thresholds.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from omnimotion.eval import (EvalConfig, FlowCache, MethodOptions, baseline_methods, chain_tracks, direct_tracks,
                             iter_videos, run_evaluation, sample_queries, score_predictions)
from omnimotion.preprocess.options import PrepareConfig
from omnimotion.flow import get_backend

THRESHOLDS_PX = (1.0, 3.0, 5.0, 10.0, 48.0)


def threshold_sweep(dataset: str, flow: str) -> str:
    """Markdown table: mean AJ / <delta_avg / OA (%) over the videos of ``dataset`` per method and threshold."""
    sums: dict[tuple[str, float], list[list[float]]] = {}
    for source in iter_videos(dataset):
        video = source.load()
        queries = sample_queries(video.tracks, video.occluded, "strided")
        cache = FlowCache(video.video, get_backend(flow))
        for name, method in (("chain", chain_tracks), ("direct", direct_tracks)):
            for threshold in THRESHOLDS_PX:
                tracks, occluded = method(video.video, queries.queries, cache, threshold)
                scores = score_predictions(video, queries, tracks, occluded, "strided")
                sums.setdefault((name, threshold), []).append([scores["AJ"], scores["delta_avg"], scores["OA"]])
    lines = ["| method | cycle_th_px | AJ | <δavg | OA |", "|---|---|---|---|---|"]
    for (name, threshold), values in sums.items():
        aj, delta, oa = 100 * np.mean(values, axis=0)
        lines.append(f"| {name} | {threshold:g} | {aj:.1f} | {delta:.1f} | {oa:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_eval_baselines"))
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--synthetic", type=int, default=8, help="number of synthetic clips (50 frames, 256x256)")
    parser.add_argument("--flow", default="dis")
    parser.add_argument("--skip_sweep", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cv2.setNumThreads(1)  # the machine is shared; comparable single-thread timings
    options = MethodOptions(prepare=PrepareConfig(flow=args.flow))
    report = []
    for label, dataset in (("real clips", args.data), (f"synthetic:{args.synthetic}", f"synthetic:{args.synthetic}")):
        if label == "real clips" and not Path(dataset).is_dir():
            logging.warning("skipping the real clips: %s is missing", dataset)
            continue
        config = EvalConfig(dataset=dataset, methods=["chain", "direct"], query_mode="strided",
                            out_dir=args.out / label.replace(":", "_").replace(" ", "_"), method_options=options)
        results = run_evaluation(config, baseline_methods())
        report += [f"# {label}", "", results.markdown]
    davis = Path(args.data) / "tapvid_davis_first32"
    if not args.skip_sweep and davis.is_dir():
        report += ["# Cycle threshold trade-off (TAP-Vid DAVIS first-32, strided)", "",
                   threshold_sweep(str(davis), args.flow)]
    text = "\n".join(report)
    (args.out / "benchmark.md").write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
