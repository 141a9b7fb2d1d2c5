"""Correspondence sampler: pair probabilities, window, eligibility, weights, swap, mining, state."""

import math

import numpy as np
import pytest
import torch

from prepared_dirs import write_prepared_dir

from omnimotion.io.datadir import DataDirError
from omnimotion.preprocess.pipeline import StageRecord
from omnimotion.train.options import TrainConfig
from omnimotion.train.sampler import (CorrespondenceSampler, count_map_probabilities, eligible_pixels,
                                      error_map_from_flows, target_probabilities)
from omnimotion.train.schedules import max_interval, pair_weight

H, W, T = 8, 10, 4


def _video():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(T, H, W, 3), dtype=np.uint8)


def _pair(i, j):
    """Flow ((j - i) / 4, 0) everywhere (half pixels tell the drawn direction from a swapped one); gap >= 2: only columns < 4 reliable, column 9 occluded-but-reliable;
    adjacent pairs: nothing reliable (all pixels must still be eligible)."""
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = (j - i) / 4
    reliable = np.zeros((H, W), bool)
    occluded = np.zeros((H, W), bool)
    if abs(i - j) >= 2:
        reliable[:, :4] = True
        occluded[:, 9] = True
    return flow, reliable, occluded


@pytest.fixture
def data(prepared_dir_factory):
    return prepared_dir_factory(_video(), _pair)


def test_target_probabilities_weight_by_stats_and_upweight_adjacent():
    stats = np.zeros((5, 5))
    stats[0, 1:4] = [10, 30, 60]
    frames, prob = target_probabilities(0, 3, stats)
    # normalised [0.1, 0.3, 0.6]; frame 1 is adjacent -> 0.5; renormalise by 1.4
    np.testing.assert_allclose(prob, np.array([0.5, 0.3, 0.6]) / 1.4)
    assert frames.tolist() == [1, 2, 3]
    frames, prob = target_probabilities(2, 1, np.ones((5, 5)))
    assert frames.tolist() == [1, 3] and np.allclose(prob, [0.5, 0.5])


def test_eligible_pixels_rules():
    reliable = np.array([[True, False], [False, False]])
    occluded = np.array([[False, True], [False, False]])
    everything, ok = eligible_pixels(reliable, occluded, gap=1)
    assert everything.all() and ok
    union, ok = eligible_pixels(reliable, occluded, gap=-3)
    assert union.tolist() == [[True, True], [False, False]] and ok
    fallback, ok = eligible_pixels(~np.ones((2, 2), bool), ~np.ones((2, 2), bool), gap=2)
    assert fallback.all() and not ok


def test_count_map_probabilities_and_error_map():
    np.testing.assert_allclose(count_map_probabilities(np.array([[0, 3, 8]], np.uint16)), [[1, 0.5, 1 / 3]])
    pred = np.zeros((9, 9, 2), np.float32)
    flow = np.zeros((9, 9, 2), np.float32)
    flow[4, 4] = (3.0, 4.0)  # end-point error 5 at the centre, blurred by a 5x5 Gaussian
    err = error_map_from_flows(pred, flow)
    assert err.argmax() == 4 * 9 + 4 and 0 < err[4, 4] < 5 and err[0, 0] == 0
    assert err.sum() == pytest.approx(5.0, rel=1e-5)  # the blur keeps the total


def test_pair_weight_and_window():
    assert pair_weight(1, 20) == 1.0
    assert pair_weight(-11, 20) == pytest.approx(math.cos(math.pi / 4))
    assert pair_weight(21, 20) == pytest.approx(0.0, abs=1e-12)
    cfg = TrainConfig()
    assert max_interval(0, cfg, 50) == 20
    assert max_interval(4001, cfg, 50) == 22
    assert max_interval(10 ** 6, cfg, 50) == 49
    assert max_interval(0, cfg, 1) == 1  # a one-frame video still gets gap 1
    with pytest.raises(ValueError, match="start_interval must be >= 1"):
        TrainConfig(start_interval=0)


def test_batch_fields_follow_flow_masks_and_swap(data):
    cfg = TrainConfig(num_pairs=40, num_pts=16, start_interval=3)
    batch = CorrespondenceSampler(data, cfg).sample(step=0)
    n = 40 * 16
    assert batch.pts_i.shape == (n, 2) and batch.rgb_j.shape == (n, 3) and batch.weights.shape == (n,)
    gap = batch.frame_j - batch.frame_i
    # flow is ((j - i) / 4, 0) in the drawn direction; a swap reverses it, so the relation always holds
    np.testing.assert_allclose((batch.pts_j - batch.pts_i)[:, 0], gap.float() / 4)
    assert torch.all(batch.pts_j[:, 1] == batch.pts_i[:, 1])
    forward = batch.pts_i[:, 0] == batch.pts_i[:, 0].round()  # drawn pixels are integer, targets are not
    assert forward.any() and (~forward).any()
    frames = torch.from_numpy(_video()).float() / 255
    xs, ys = batch.pts_i[forward].long().T
    assert torch.allclose(batch.rgb_i[forward], frames[batch.frame_i[forward], ys, xs])
    far_forward = forward & (gap.abs() >= 2)
    assert far_forward.any()
    assert torch.all((batch.pts_i[far_forward, 0] < 4) | (batch.pts_i[far_forward, 0] == 9))
    expected = torch.tensor([pair_weight(int(g), 3) for g in gap])
    keep = forward | batch.covisible
    assert torch.allclose(batch.weights[keep], expected[keep])
    # swapped, not cycle-consistent (adjacent pairs here, or occluded-but-reliable): no supervision
    assert (~keep).any() and torch.all(batch.weights[~keep] == 0)


def test_window_limits_gaps(data):
    sampler = CorrespondenceSampler(data, TrainConfig(num_pairs=30, num_pts=2, start_interval=1,
                                                      interval_growth_steps=10))
    batch = sampler.sample(step=5)
    assert (batch.frame_j - batch.frame_i).abs().max() == 1
    gaps = torch.cat([(b.frame_j - b.frame_i).abs() for b in (sampler.sample(25) for _ in range(5))])
    assert gaps.max() == 3  # window 1 + 25 // 10 = 3


def test_a_directory_prepared_with_max_gap_caps_the_window_and_needs_only_its_pairs(data):
    for i, j in ((0, 3), (3, 0)):
        data.flow_path(i, j).unlink()
    cfg = TrainConfig(num_pairs=40, num_pts=2, start_interval=1, interval_growth_steps=1)
    with pytest.raises(DataDirError, match="00000.png_00003.png"):  # all pairs are expected by default
        CorrespondenceSampler(data, cfg).check_files()
    StageRecord(data).set("flow", {"backend": "dis", "options": {}, "max_gap": 2, "done": True})
    sampler = CorrespondenceSampler(data, cfg)
    sampler.check_files()
    gaps = torch.cat([(b.frame_j - b.frame_i).abs() for b in (sampler.sample(100) for _ in range(5))])
    assert gaps.max() == 2


def test_state_dict_restores_the_same_batches(data):
    cfg = TrainConfig(num_pairs=3, num_pts=5, use_count_map=True)
    sampler = CorrespondenceSampler(data, cfg)
    sampler.sample(0)
    state = sampler.state_dict()
    first = [sampler.sample(s) for s in (1, 2)]
    other = CorrespondenceSampler(data, cfg)
    other.load_state_dict(state)
    for a, b in zip(first, [other.sample(s) for s in (1, 2)]):
        assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_hard_mining_and_motion_share_concentrate_points(data):
    cfg = TrainConfig(num_pairs=10, num_pts=20, use_error_map=True, start_interval=1)
    sampler = CorrespondenceSampler(data, cfg)
    errors = np.zeros((T, H, W), np.float32)
    errors[:, 2, 7] = 1.0
    sampler.set_error_maps(errors)
    batch = sampler.sample(0)
    forward = (batch.pts_i == batch.pts_i.round()).all(dim=1)
    hot = (batch.pts_i[:, 0] == 7) & (batch.pts_i[:, 1] == 2) & forward
    # each pair's union holds the hot pixel + 20 uniform draws, so it is kept with high probability
    assert hot.sum() >= 5  # uniform sampling would give 10 * 20 / 80 * P(forward) ~ 1.25

    def moving_pair(i, j):
        flow = np.zeros((H, W, 2), np.float32)
        flow[0] = (1.0, 0.0)  # only the top row (10 of 80 pixels) moves
        return flow, np.ones((H, W), bool), np.zeros((H, W), bool)

    moving = write_prepared_dir(data.root.parent / "moving", _video(), moving_pair)
    sampler = CorrespondenceSampler(moving, TrainConfig(num_pairs=4, num_pts=20, motion_share=0.5))
    top_row = (sampler.sample(0).pts_i[:, 1] == 0).sum()
    # the motion half takes all 10 moving pixels of each pair (uniform sampling: 80 * 10 / 80 = 10 in all)
    assert top_row >= 4 * 10
