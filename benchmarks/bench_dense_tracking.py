"""Dense tracking cost: every pixel of one frame tracked through all frames, CPU (run by hand, never in tests).

Usage: python benchmarks/bench_dense_tracking.py [--method surface|omnimotion] [--size 256] [--frames 50]
       [--threads 2] [--chunk_size 1024] [--points N]   (time only the first N pixels and extrapolate)

``--method surface`` (default, the model of ``omnimotion run``): ``SurfaceModel`` with its default settings.
``--method omnimotion``: the faithful model at the ``fast`` preset's size (omnimotion.config.PRESETS["fast"]:
8 samples per ray, no affine pre-layer, NVP 128, canonical 256, time 128, code 64). Weights are random:
tracking cost does not depend on what the weights learned. Reports wall and CPU seconds, point-frame pairs per second and peak RSS (whole
process, MB). Wall time is noisy on a shared machine; CPU time (all threads) less so.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import resource
import time

import torch

from omnimotion.config import PRESETS
from omnimotion.model import ModelConfig, OmniMotionModel, SurfaceModel, SurfaceModelConfig
from omnimotion.track import Tracker, dense_queries
from omnimotion.track.tracker import DEFAULT_CHUNK_SIZE

log = logging.getLogger("bench_dense_tracking")


def fast_model_config() -> ModelConfig:
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in PRESETS["fast"].items() if k in fields})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=("surface", "omnimotion"), default="surface")
    parser.add_argument("--size", type=int, default=256, help="frame height and width")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk_size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--points", type=int, default=None, help="track only this many pixels, extrapolate")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    hw = (args.size, args.size)
    model = (SurfaceModel(SurfaceModelConfig(), args.frames, hw) if args.method == "surface"
             else OmniMotionModel(fast_model_config(), args.frames, hw)).eval()
    queries = dense_queries((args.size, args.size), frame=0)
    total_points = len(queries)
    if args.points is not None:
        queries = queries[:args.points]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, cpu_start = time.perf_counter(), time.process_time()
    tracks = Tracker(model, chunk_size=args.chunk_size)(queries)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pairs = tracks.num_points * tracks.num_frames
    log.info("%s: %d points x %d frames (%dx%d), chunk %d, %d threads: %.1f s wall, %.1f s CPU, %.0f pairs/s, "
             "peak RSS %.0f MB (%.0f MB before tracking)", args.method, tracks.num_points, tracks.num_frames, args.size,
             args.size, args.chunk_size, args.threads, seconds, cpu_seconds, pairs / seconds, rss_peak, rss_before)
    if tracks.num_points < total_points:
        scale = total_points / tracks.num_points
        log.info("extrapolated to all %d pixels: %.0f s wall, %.0f s CPU", total_points, seconds * scale,
                 cpu_seconds * scale)


if __name__ == "__main__":
    main()
