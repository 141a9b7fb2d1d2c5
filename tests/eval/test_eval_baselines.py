"""Chained and direct flow baselines: exact flows give exact tracks, DIS on translation is near-perfect,
occlusion is flagged well above chance, each flow is computed once, prepared flows are reused."""

import cv2
import numpy as np
import pytest

from omnimotion.coords import inside_image
from omnimotion.eval.baselines import FlowCache, chain_tracks, direct_tracks
from omnimotion.eval.datasets import EvalVideo
from omnimotion.eval.scoring import score_predictions
from omnimotion.eval.tapvid import sample_queries
from omnimotion.flow import get_backend
from omnimotion.io.datadir import DataDir
from omnimotion.synthetic import make_clip
from omnimotion.synthetic import sample_queries as synthetic_queries

METHODS = {"chain": chain_tracks, "direct": direct_tracks}


class ExactFlow:
    """A flow backend that returns the synthetic clip's true flow and counts its calls."""

    def __init__(self, clip):
        self.clip = clip
        self.pairs = []
        self.index = {frame.tobytes(): i for i, frame in enumerate(clip.video)}

    def __call__(self, image_a, image_b):
        i, j = self.index[image_a.tobytes()], self.index[image_b.tobytes()]
        self.pairs.append((i, j))
        return self.clip.flow(i, j)[0]


@pytest.mark.parametrize("name", ["chain", "direct"])
def test_exact_affine_flow_gives_exact_tracks(name):
    # Background only, global affine motion: the flow field is affine, so bilinear sampling is exact up to
    # cv2.remap's 1/32-pixel interpolation weights (preprocess.warp): errors stay well below 0.01 px.
    clip = make_clip(num_frames=10, height=48, width=48, num_sprites=0, motion="mixed", seed=3)
    queries = synthetic_queries(clip, 20, seed=1, mode="strided")
    gt, gt_occluded = clip.track(queries)
    backend = ExactFlow(clip)
    tracks, occluded = METHODS[name](clip.video, queries, FlowCache(clip.video, backend))
    inside = inside_image(gt, 48, 48)
    # Points that leave the frame read clamped border flow, so only in-frame positions are exact.
    assert np.abs(tracks - gt)[inside].max() < 5e-3
    np.testing.assert_array_equal(occluded[inside], gt_occluded[inside])
    assert occluded[~inside].all()
    assert len(backend.pairs) == len(set(backend.pairs))  # every flow computed once


def _score(clip, method, query_mode="strided", **kwargs):
    gt, occluded = clip.track(synthetic_queries(clip, 48, seed=0, mode="strided"))
    video = EvalVideo("clip", clip.video, gt, occluded)
    queries = sample_queries(gt, occluded, query_mode)
    tracks, pred_occluded = METHODS[method](clip.video, queries.queries, FlowCache(clip.video, get_backend("dis")),
                                            **kwargs)
    return queries, tracks, pred_occluded, score_predictions(video, queries, tracks, pred_occluded, query_mode)


@pytest.mark.parametrize("name", ["chain", "direct"])
@pytest.mark.parametrize("seed", [0, 1])
def test_dis_on_pure_translation_is_near_perfect(name, seed):
    # Camera translation only (sub-pixel velocities); measured AJ 0.92-0.99, <delta 0.95-1.0.
    clip = make_clip(num_frames=12, height=64, width=64, num_sprites=0, motion="translate", seed=seed)
    queries, tracks, _, scores = _score(clip, name)
    assert scores["AJ"] > 0.88 and scores["delta_avg"] > 0.93 and scores["OA"] > 0.97
    visible = ~queries.occluded
    assert np.median(np.linalg.norm(tracks - queries.tracks, axis=-1)[visible]) < 0.2


@pytest.mark.parametrize("name", ["chain", "direct"])
def test_occlusion_is_flagged_well_above_chance(name):
    # Sprites crossing a moving background (occlusions and exits). Measured at the default 48 px: recall
    # 0.20-0.30 of occluded frames, precision 0.59-0.94 where 15-17% of frames are occluded.
    flagged = hits = occluded_total = frames = 0
    for seed in (0, 1):
        clip = make_clip(num_frames=24, height=128, width=128, num_sprites=2, motion="mixed", seed=seed)
        queries, _, pred_occluded, _ = _score(clip, name)
        gt_occluded = queries.occluded
        flagged += pred_occluded.sum()
        hits += (pred_occluded & gt_occluded).sum()
        occluded_total += gt_occluded.sum()
        frames += gt_occluded.size
    base_rate = occluded_total / frames
    assert hits / occluded_total > 0.15
    assert hits / flagged > 2.5 * base_rate


def test_lower_cycle_threshold_flags_more_occlusion():
    clip = make_clip(num_frames=24, height=128, width=128, num_sprites=2, motion="mixed", seed=0)
    queries, _, loose, _ = _score(clip, "chain")
    _, _, strict, _ = _score(clip, "chain", cycle_th_px=3.0)
    assert strict.sum() > loose.sum()
    assert (loose & ~strict).sum() == 0  # a larger cycle error is needed to flag at 48 px


def test_query_frame_is_never_occluded_and_tracks_start_at_queries():
    clip = make_clip(num_frames=8, height=40, width=40, num_sprites=1, motion="mixed", seed=2)
    queries = synthetic_queries(clip, 10, seed=0, mode="strided")
    for method in METHODS.values():
        tracks, occluded = method(clip.video, queries, cycle_th_px=0.0)  # default flows: DIS
        rows, frames = np.arange(10), queries[:, 0].astype(int)
        np.testing.assert_allclose(tracks[rows, frames], queries[:, 1:], atol=1e-5)
        assert not occluded[rows, frames].any()


def test_each_flow_is_computed_once():
    clip = make_clip(num_frames=8, height=32, width=32, num_sprites=0, motion="translate", seed=0)
    queries = np.array([[0, 10, 10], [5, 12, 9], [5, 20, 20]], np.float64)
    chain_backend = ExactFlow(clip)
    chain_tracks(clip.video, queries, FlowCache(clip.video, chain_backend))
    # consecutive flows both ways: 2 * (T - 1)
    assert sorted(set(chain_backend.pairs)) == sorted(chain_backend.pairs)
    assert len(chain_backend.pairs) == 14 and all(abs(i - j) == 1 for i, j in chain_backend.pairs)
    direct_backend = ExactFlow(clip)
    direct_tracks(clip.video, queries, FlowCache(clip.video, direct_backend))
    # query frames 0 and 5, both directions to the 7 other frames; (0, 5) and (5, 0) are shared
    assert len(direct_backend.pairs) == 2 * 14 - 2 == len(set(direct_backend.pairs))


def test_prepared_gap1_flows_are_reused(tmp_path):
    clip = make_clip(num_frames=5, height=32, width=32, num_sprites=0, motion="translate", seed=0)
    datadir = DataDir(tmp_path)
    datadir.color_dir.mkdir()
    for i, frame in enumerate(clip.video):
        cv2.imwrite(str(datadir.color_dir / f"{i:05d}.png"), frame[..., ::-1])
    for i in range(4):
        datadir.save_flow(i, i + 1, clip.flow(i, i + 1)[0])
        datadir.save_flow(i + 1, i, clip.flow(i + 1, i)[0])
    datadir.save_flow(0, 3, np.zeros((32, 32, 2), np.float32))  # a "chained" long-range flow: not reused
    backend = ExactFlow(clip)
    cache = FlowCache(clip.video, backend, datadir=tmp_path)
    chain_tracks(clip.video, np.array([[0, 5.0, 5.0]]), cache)
    assert cache.num_loaded == 8 and backend.pairs == []
    cache(0, 3)
    assert backend.pairs == [(0, 3)]


def test_bad_inputs_are_rejected():
    video = np.zeros((4, 8, 8, 3), np.uint8)
    cache = FlowCache(video, get_backend("dis"))
    with pytest.raises(ValueError, match="uint8"):
        chain_tracks(video.astype(np.float32), np.zeros((1, 3)), cache)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        direct_tracks(video, np.zeros((1, 2)), cache)
    with pytest.raises(ValueError, match="query frames"):
        chain_tracks(video, np.array([[4, 1.0, 1.0]]), cache)
