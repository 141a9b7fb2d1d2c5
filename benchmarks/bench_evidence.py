"""What each part of the flow evidence adds, on models an evaluation already trained (run by hand).

    omnimotion eval --dataset D --method omnimotion,chain --out OUT      # trains and tracks (minutes per clip)
    python benchmarks/bench_evidence.py --dataset D --out OUT           # re-tracks each model, seconds per clip

For every video of D with a finished model in ``OUT/work/<video>/omnimotion/data``, the model's own tracks are
corrected by the data directory's flows in each variant, and scored as ``omnimotion eval`` scores them
(TAP-Vid AJ / <delta_avg / OA / TC, PCK where the file has masks; on files with a ``valid`` mask also the last
annotated frame, pooled over tracks):

- ``model``: the model alone (``flow_evidence none``);
- ``consecutive``: ``positions`` with paths of consecutive flows only (and the data directory's chained flows
  from the query frame): the flow where it vouches, the model's motion elsewhere;
- ``multi-gap``: paths with steps of ``EVIDENCE_GAPS`` frames, without the model check;
- ``checked``: the default, ``multi-gap`` whose multi-frame steps must agree with the model's motion
  (``MODEL_CHECK_PX``, ``omnimotion.track.evidence``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from omnimotion.eval.baselines import chain_tracks, FlowCache
from omnimotion.eval.datasets import iter_videos
from omnimotion.eval.metrics import within_fraction
from omnimotion.eval.runner import _safe
from omnimotion.eval.scoring import score_in_detail
from omnimotion.eval.tapvid import sample_queries
from omnimotion.flow import get_backend
from omnimotion.io.checkpoint import load_checkpoint
from omnimotion.io.datadir import DataDir
from omnimotion.track import Tracker, apply_flow_evidence
from omnimotion.track import evidence

# name: (steps of a path, largest disagreement with the model's motion)
VARIANTS = {"consecutive": ((1,), np.inf), "multi-gap": (evidence.EVIDENCE_GAPS, np.inf),
            "checked": (evidence.EVIDENCE_GAPS, evidence.MODEL_CHECK_PX)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True, type=Path, help="the OUT of an 'omnimotion eval --method omnimotion'")
    parser.add_argument("--query_mode", default="strided", choices=("strided", "first"))
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {}
    for source in iter_videos(args.dataset):
        data_dir = args.out / "work" / _safe(source.name) / "omnimotion" / "data"
        checkpoint = _finished_checkpoint(data_dir)
        if checkpoint is None:
            continue
        video = source.load()
        mode = "first" if video.valid is not None else args.query_mode
        queries = sample_queries(video.tracks, video.occluded, mode, valid=video.valid)
        data = DataDir(data_dir)
        model = Tracker.from_checkpoint(checkpoint, device="cpu", flow_evidence="none", progress=False)(
            queries.queries.astype(np.float32))
        chain = chain_tracks(video.video, queries.queries, FlowCache(video.video, get_backend("dis")))  # as eval
        results = {"chain": chain, "model": (model.tracks, model.occluded)}
        for name, (gaps, model_check_px) in VARIANTS.items():
            # benchmark-only switches: the package has one setting
            evidence.EVIDENCE_GAPS, evidence.MODEL_CHECK_PX = gaps, model_check_px
            corrected = apply_flow_evidence(model, data, "positions")
            results[name] = (corrected.tracks, corrected.occluded)
        line = [f"{source.name:24s}"]
        for name, (tracks, occluded) in results.items():
            scores = score_in_detail(video, queries, tracks, occluded, mode)
            rows.setdefault(name, []).append(scores)
            pck = f" (PCK {100 * scores['PCK']:.1f})" if np.isfinite(scores["PCK"]) else ""
            line.append(f"{name} {100 * scores['AJ']:.1f}{pck}")
        print("  ".join(line), flush=True)
    for name, scores in rows.items():
        print(_summary(name, scores))


def _finished_checkpoint(data_dir: Path) -> Path | None:
    """The newest checkpoint in ``data_dir`` if its training reached ``num_iters``, else None."""
    checkpoints = sorted(data_dir.glob("out/*/model_*.pth"))
    if not checkpoints:
        return None
    state = load_checkpoint(checkpoints[-1], map_location="cpu")
    return checkpoints[-1] if state["step"] >= state["config"]["train"]["num_iters"] else None


def _summary(name: str, scores: list[dict]) -> str:
    mean = {key: np.mean([s[key] for s in scores]) for key in ("AJ", "delta_avg", "OA", "TC", "PCK")}
    text = (f"{name:12s} AJ {100 * mean['AJ']:.1f}  <d {100 * mean['delta_avg']:.1f}  OA {100 * mean['OA']:.1f}  "
            f"TC {mean['TC']:.2f}  ({len(scores)} videos)")
    if np.isfinite(mean["PCK"]):
        text += f"  PCK {100 * mean['PCK']:.1f}"
    if "last_errors" in scores[0]:
        errors = np.concatenate([np.asarray(s["last_errors"], float) for s in scores])
        last_oa = np.nanmean([s["last_OA"] for s in scores])
        text += (f"  | last frame, pooled over {len(errors)} tracks: d {100 * within_fraction(errors).mean():.1f}"
                 f"  median {np.median(errors):.1f} px  OA (mean over videos) {100 * last_oa:.1f}")
    return text


if __name__ == "__main__":
    main()
