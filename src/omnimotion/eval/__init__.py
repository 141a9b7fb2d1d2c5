"""Measure trackers as the TAP-Vid benchmark does: metrics, datasets, flow baselines and the evaluation loop.

Conventions: our (x, y) pixels with integer centres everywhere except inside ``metrics`` (TAP-Vid raster
pixels of 256x256 frames, queries (t, y, x)); ``tapvid`` is the one place that converts.
"""

from omnimotion.eval.baselines import CYCLE_TH_PX, FlowCache, chain_tracks, direct_tracks
from omnimotion.eval.datasets import EvalVideo, VideoSource, iter_videos, load_npz_video
from omnimotion.eval.methods import MethodOptions, TrackingMethod, baseline_methods
from omnimotion.eval.metrics import compute_tapvid_metrics, mean_over_videos, temporal_coherence
from omnimotion.eval.runner import EvalConfig, EvalResults, rescore_config, run_evaluation
from omnimotion.eval.scoring import pck, score_predictions
from omnimotion.eval.tapvid import (QuerySet, pixels_to_raster, queries_from_tapvid, queries_to_tapvid,
                                    raster_to_pixels, sample_queries)

__all__ = [
    "compute_tapvid_metrics", "temporal_coherence", "mean_over_videos",
    "QuerySet", "sample_queries", "pixels_to_raster", "raster_to_pixels", "queries_to_tapvid",
    "queries_from_tapvid",
    "EvalVideo", "VideoSource", "iter_videos", "load_npz_video",
    "FlowCache", "chain_tracks", "direct_tracks", "CYCLE_TH_PX",
    "MethodOptions", "TrackingMethod", "baseline_methods",
    "EvalConfig", "EvalResults", "run_evaluation", "rescore_config", "score_predictions", "pck",
]
