"""Benchmark of the full preprocessing (flow + filter + chain) with DIS; run by hand, never in tests.

    python benchmarks/bench_preprocess.py                 # all cases, each in its own process
    python benchmarks/bench_preprocess.py --case synthetic_256 --workers 2 --keep /tmp/bench

Cases: a 50-frame synthetic clip (omnimotion.synthetic.make_clip) at 256x256 and at 854x480, and the real
32-frame TAP-Vid DAVIS clip ../shared/data/tapvid_davis_first32/<name>.npz at 256x256. For each: seconds per
stage, pairs per second, and peak RSS of this process and of the largest worker process (getrusage; max RSS
is per process, not a sum), and CPU seconds per stage (this process + workers): on a shared machine wall
time is inflated by other jobs, CPU time much less. Disk: 854x480 needs about 8 GB of flows (deleted afterwards unless --keep).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from omnimotion.preprocess.options import PrepareConfig
from omnimotion.flow.opencv import DEFAULT_DIS_PRESET

CASES = {"synthetic_256": (50, 256, 256), "synthetic_854x480": (50, 480, 854), "davis_256": None}
DAVIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tapvid_davis_first32"


def _frames(case: str, davis_name: str, num_frames: int | None = None) -> np.ndarray:
    if case == "davis_256":
        return np.load(DAVIS / f"{davis_name}.npz")["video"]
    from omnimotion.synthetic import make_clip

    num, height, width = CASES[case]
    return make_clip(num_frames=num_frames or num, height=height, width=width, num_sprites=3, motion="mixed", seed=0).video


def run_case(case: str, workers: int, preset: str, davis_name: str, keep: Path | None,
             num_frames: int | None = None) -> dict:
    import cv2

    from omnimotion.preprocess import pipeline

    root = Path(tempfile.mkdtemp(prefix=f"bench_{case}_", dir=keep))
    source = root / "frames"
    source.mkdir()
    for t, frame in enumerate(_frames(case, davis_name, num_frames)):
        cv2.imwrite(str(source / f"{t:05d}.png"), frame[..., ::-1])
    timings: dict[str, float] = {}
    for stage in ("compute_exhaustive_flows", "filter_flows", "chain_flows"):
        _time_stage(pipeline, stage, timings)  # what users run, with each stage's wall time recorded
    start = time.perf_counter()
    options = PrepareConfig(dis_preset=preset, max_side=None, chain_direct_max_gap=None)
    data = pipeline.prepare(source, root / "data", options, workers=workers, progress=False)
    total = time.perf_counter() - start
    pairs = data.num_frames * (data.num_frames - 1)
    stage_total = timings["flow_s"] + timings["filter_s"] + timings["chain_s"]
    result = {"case": case, "frames": data.num_frames, "hw": list(data.image_hw), "pairs": pairs,
              "workers": workers, "preset": preset, "frames_s": round(total - stage_total, 2),
              **{k: round(v, 2) for k, v in timings.items()}, "total_s": round(total, 1),
              "flow_pairs_per_s": round(pairs / timings["flow_s"], 1),
              "cpu_ms_per_pair": {stage: round(1000 * timings[f"{stage}_cpu_s"] / pairs, 1)
                                  for stage in ("flow", "filter", "chain")},
              "all_stages_pairs_per_s": round(pairs / stage_total, 1),
              "peak_rss_main_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
              "peak_rss_largest_child_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
              "flow_disk_gb": round(sum(p.stat().st_size for p in data.flow_dir.iterdir()) / 1e9, 2)}
    if keep is None:
        shutil.rmtree(root)
    return result


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (robust to a busy machine)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _time_stage(module, name: str, timings: dict[str, float]) -> None:
    function = getattr(module, name)
    key = {"compute_exhaustive_flows": "flow_s", "filter_flows": "filter_s", "chain_flows": "chain_s"}[name]

    def timed(*args, **kwargs):
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        try:
            return function(*args, **kwargs)
        finally:
            timings[key] = time.perf_counter() - start
            # Worker pools end with their stage, so their CPU time is in RUSAGE_CHILDREN by now.
            timings[key.replace("_s", "_cpu_s")] = _cpu_seconds() - cpu_start

    setattr(module, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), default=None, help="one case (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preset", default=DEFAULT_DIS_PRESET)
    parser.add_argument("--davis", default="bike-packing", help="TAP-Vid DAVIS clip name for davis_256")
    parser.add_argument("--keep", type=Path, default=None, help="keep outputs under this folder")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames of the synthetic clips (default 50); per-pair costs of all stages hardly "
                             "depend on it, so a short clip estimates a long one on a busy machine")
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.workers, args.preset, args.davis, args.keep, args.frames)),
              flush=True)
        return
    for case in CASES:
        if case == "davis_256" and not DAVIS.exists():
            print(json.dumps({"case": case, "skipped": f"{DAVIS} not found"}))
            continue
        command = [sys.executable, __file__, "--case", case, "--workers", str(args.workers), "--preset",
                   args.preset, "--davis", args.davis] + (["--keep", str(args.keep)] if args.keep else []) \
            + (["--frames", str(args.frames)] if args.frames else [])
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
