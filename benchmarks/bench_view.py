"""How quickly ``omnimotion view`` answers: a click, and a 64x64-point region (run by hand, never in tests).

Usage: python benchmarks/bench_view.py [--work /tmp/bench_view] [--frames 32] [--size 256] [--threads 1]
       [--clicks 20] [--run_dir DIR --checkpoint PTH]

Without ``--run_dir`` it prepares a synthetic clip (``--frames`` frames of ``--size``² px) as ``omnimotion run``
does (DIS flows, filtering, chaining; kept in ``--work`` and reused) and saves an untrained surface model (the
``run`` default; tracking cost does not depend on what the weights learned). It then serves the run with the
viewer's server on 127.0.0.1 and times, over HTTP as the page asks:

* a click: ``POST /api/track`` with one new point (tracker + flow evidence, as ``omnimotion track``), on
  ``--clicks`` frames spread over the video: the first click on a frame (its flow files are read), a
  second one there (they are cached), and a first click on a frame the page has warmed (``POST /api/warm``,
  sent when a frame stays on screen for 250 ms); median and worst of each;
* a region: ``POST /api/region`` for a 64x64-pixel box with 64 points per side (4096 points), until the last
  line; also when the first progress line came and how many came.

Wall times on a shared machine are noisy; the process CPU time is given beside them.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import torch

from omnimotion.preprocess.options import PrepareConfig
from omnimotion.io.checkpoint import save_checkpoint
from omnimotion.model import SurfaceModel, SurfaceModelConfig
from omnimotion.preprocess.pipeline import prepare
from omnimotion.synthetic import make_clip, write_frames
from omnimotion.view import CachedDataDir, ViewSession, make_server

log = logging.getLogger("bench_view")


def make_run(work: Path, frames: int, size: int) -> tuple[Path, Path]:
    """A prepared synthetic run with an untrained surface-model checkpoint (reused when already there)."""
    run_dir, checkpoint = work / "run", work / "run" / "out" / "surface" / "model_000001.pth"
    if checkpoint.exists():
        return run_dir, checkpoint
    write_frames(make_clip(num_frames=frames, height=size, width=size, seed=0), work / "frames")
    started = time.perf_counter()
    prepare(work / "frames", run_dir, PrepareConfig(max_side=size), progress=False)
    log.info("prepared %d frames of %dx%d in %.0f s", frames, size, size, time.perf_counter() - started)
    torch.manual_seed(0)
    cfg = SurfaceModelConfig()
    model = SurfaceModel(cfg, frames, (size, size))
    save_checkpoint(checkpoint, {"surface_model": model.state_dict(), "method": "surface", "optimizer": {},
                                 "scheduler": {}, "num_imgs": frames, "step": 1, "image_hw": [size, size],
                                 "config": {"surface": dataclasses.asdict(cfg)}})
    return run_dir, checkpoint


def post(address: tuple[str, int], path: str, payload: dict) -> list[tuple[float, bytes]]:
    """The answer's lines with the time each arrived (seconds since the request was sent)."""
    connection = http.client.HTTPConnection(*address, timeout=600)
    started = time.perf_counter()
    connection.request("POST", path, json.dumps(payload), {"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {response.read()[:200]!r}")
    lines = [(time.perf_counter() - started, line) for line in iter(response.readline, b"")]
    connection.close()
    return lines


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/bench_view", help="where the synthetic run is made and kept")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--run_dir", default=None, help="time a real run instead (needs --checkpoint)")
    parser.add_argument("--checkpoint", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    if args.run_dir:
        run_dir, checkpoint = Path(args.run_dir), Path(args.checkpoint)
    else:
        run_dir, checkpoint = make_run(Path(args.work), args.frames, args.size)
    session = ViewSession.open(run_dir, checkpoint, device="cpu", flow_evidence="positions")  # run's default
    server = make_server(session)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = server.server_address[:2]
    h, w = session.image_hw
    rng = np.random.default_rng(0)
    post(address, "/api/track", {"queries": [[0, w // 2, h // 2]]})  # warm-up: first model call, imports
    first, again, warmed = [], [], []
    for i in range(args.clicks):
        frame = int(i * session.num_frames / args.clicks)
        for times in (first, again):
            query = [frame, int(rng.integers(w)), int(rng.integers(h))]
            times.append(timed(lambda: post(address, "/api/track", {"queries": [query]}))[:2])
    session.data = CachedDataDir(session.data.root)  # forget the files read so far
    for i in range(args.clicks):
        frame = int((i + 0.5) * session.num_frames / args.clicks)
        session.warm(frame).join()
        query = [frame, int(rng.integers(w)), int(rng.integers(h))]
        warmed.append(timed(lambda: post(address, "/api/track", {"queries": [query]}))[:2])
    for name, times in (("first click on a frame", first), ("another click there", again),
                        ("first click on a warmed frame", warmed)):
        wall, cpu = (np.asarray(column) * 1000 for column in zip(*times))
        log.info("%s (%d frames of %dx%d, %d torch threads): median %.0f ms, worst %.0f ms wall; median %.0f "
                 "ms CPU", name, session.num_frames, w, h, args.threads, np.median(wall), wall.max(), np.median(cpu))
    box = [w // 2 - 32, h // 2 - 32, w // 2 + 31, h // 2 + 31]
    region_wall, region_cpu, lines = timed(lambda: post(address, "/api/region",
                                                        {"frame": session.num_frames // 2, "box": box, "side": 64}))
    result = json.loads(lines[-1][1])
    log.info("region (%d points): %.2f s wall, %.2f s CPU; first progress line after %.3f s, %d progress lines",
             len(result["queries"]), region_wall, region_cpu, lines[0][0], len(lines) - 1)
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
