"""End to end: train a small model on a synthetic clip (exact flows) for a short run, then track with it."""

import numpy as np
import pytest
from track_doubles import write_exact_data_dir

from omnimotion.config import compose
from omnimotion.synthetic import make_clip
from omnimotion.track import Tracker, grid_queries
from omnimotion.train.trainer import fit

ITERS = 200


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    clip = make_clip(num_frames=8, height=32, width=32, num_sprites=1, motion="translate", seed=3)
    data = write_exact_data_dir(clip, tmp_path_factory.mktemp("trained") / "clip")
    cfg = compose(preset="fast", overrides={"num_iters": ITERS, "i_weight": ITERS, "i_img": 10**6, "i_print": 10**6,
                                            "i_cache": 10**6, "device": "cpu", "tensorboard": False,
                                            "progress": False})
    tracker = Tracker.from_checkpoint(fit(data.root, cfg), device="cpu", progress=False)
    queries = grid_queries((32, 32), 3, frame=0)
    yield clip, tracker, queries, tracker(queries)


@pytest.mark.slow
def test_trained_model_tracks_follow_ground_truth(trained):
    clip, _, queries, tracks = trained
    gt, gt_occluded = clip.track(queries)
    visible = ~gt_occluded
    error = np.linalg.norm(tracks.tracks - gt, axis=-1)[visible]
    # standing still would be off by the true motion; the model must do clearly better
    static = np.linalg.norm(queries[:, None, 1:] - gt, axis=-1)[visible]
    assert np.median(error) < 0.5 * np.median(static)
    assert np.percentile(error, 90) < 1.5
    # occlusion: most hidden point-frames flagged, almost all visible ones not
    assert gt_occluded.mean() > 0.05
    assert tracks.occluded[gt_occluded].mean() > 0.5
    assert (~tracks.occluded[visible]).mean() > 0.95


@pytest.mark.slow
def test_trained_model_forward_backward_cycle(trained):
    clip, tracker, queries, tracks = trained
    last = clip.num_frames - 1
    keep = ~tracks.occluded[:, last]
    back = tracker(np.concatenate([np.full((keep.sum(), 1), last, np.float32), tracks.tracks[keep, last]], 1))
    cycle = np.linalg.norm(back.tracks[:, 0] - queries[keep, 1:], axis=-1)
    assert keep.sum() > 50 and np.median(cycle) < 0.5 and np.percentile(cycle, 90) < 1.5
