"""Speed of omnimotion.synthetic and how well a real flow method does on its clips. Run by hand:

    python benchmarks/synthetic_clip.py [--frames 50 --size 256 --sprites 3 --repeats 3]

Reports seconds to build a clip, for one dense ``flow(i, j)`` and for ``track`` of 256 queries, and the
end-point error of OpenCV DIS (medium preset) against the exact flow on unoccluded pixels of adjacent frames,
split into background and sprites (a sanity check that the textures suit optical flow). Timings on a shared
machine are noisy; the best of ``--repeats`` runs is reported.
"""

from __future__ import annotations

import argparse
import logging
import time

import cv2
import numpy as np

from omnimotion.synthetic import make_clip, sample_queries

logger = logging.getLogger("synthetic_benchmark")


def _best_time(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _dis_errors(clip, motion: str) -> None:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    errors = {"background": [], "sprites": []}
    for i in range(clip.num_frames - 1):
        exact, occluded = clip.flow(i, i + 1)
        grey = [cv2.cvtColor(clip.video[t], cv2.COLOR_RGB2GRAY) for t in (i, i + 1)]
        estimate = dis.calc(grey[0], grey[1], None)
        error = np.linalg.norm(estimate - exact, axis=-1)
        ids = clip.layer_ids[i]
        errors["background"].append(error[~occluded & (ids == 0)])
        errors["sprites"].append(error[~occluded & (ids > 0)])
    for part, values in errors.items():
        values = np.concatenate(values)
        if values.size:
            logger.info("%s: DIS EPE on %s (adjacent frames, unoccluded): mean %.3f px, median %.3f px, "
                        "<1 px %.1f%%", motion, part, values.mean(), np.median(values), 100 * np.mean(values < 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--sprites", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cv2.setNumThreads(1)
    for motion in ("translate", "mixed"):
        seconds, clip = _best_time(lambda: make_clip(args.frames, args.size, args.size, args.sprites, motion),
                                   args.repeats)
        logger.info("%s: make_clip(%d frames, %dx%d, %d sprites): %.3f s", motion, args.frames, args.size,
                    args.size, args.sprites, seconds)
        seconds, _ = _best_time(lambda: clip.flow(0, clip.num_frames - 1), args.repeats)
        logger.info("%s: flow(0, %d): %.4f s", motion, clip.num_frames - 1, seconds)
        queries = sample_queries(clip, 256, mode="first")
        seconds, _ = _best_time(lambda: clip.track(queries), args.repeats)
        logger.info("%s: track(256 'first' queries): %.3f s", motion, seconds)
        _dis_errors(clip, motion)


if __name__ == "__main__":
    main()
