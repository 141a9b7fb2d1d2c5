"""Loss terms on hand-worked inputs, and the weighted sum with the official schedules."""

import pytest
import torch

from omnimotion.train.losses import (consecutive_difference_loss, depth_range_loss, distortion_loss,
                                     flow_loss, inside_image, robust_l1, scene_flow_smooth_loss,
                                     weighted_total)
from omnimotion.train.options import TrainConfig
from omnimotion.train.schedules import loss_weights, ramp


def test_robust_l1_drops_exactly_the_max_element():
    pred = torch.tensor([[1.0, 3.0], [0.0, 0.0], [10.0, 10.0], [2.0, 2.0]])
    gt = torch.zeros(4, 2)
    # per-element errors 2, 0, 10, 2 -> drop 10 -> mean(2, 0, 2) = 4/3
    assert robust_l1(pred, gt).item() == pytest.approx(4 / 3)
    weight = torch.tensor([0.5, 1.0, 1.0, 0.0])
    assert robust_l1(pred, gt, weight).item() == pytest.approx((1.0 + 0 + 0) / 3)  # not weight-normalised
    assert robust_l1(torch.ones(3, 2), torch.zeros(3, 2)).item() == 0.0  # all tied with the max: none kept


def test_flow_loss_ignores_predictions_outside_the_frame():
    gt = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [0.0, 0.0]])
    pred = gt + torch.tensor([[1.0, 1.0], [0.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    pred[3] = torch.tensor([-0.5, 2.0])  # outside x >= 0: no gradient from it
    valid = inside_image(pred, (5, 5))
    assert valid.tolist() == [True, True, True, False]
    # errors 1, 1, 0 -> max 1 ties -> only the 0 is kept
    assert flow_loss(pred, gt, torch.ones(4), valid).item() == 0.0
    assert inside_image(pred, (5, 5), padding=0.5).tolist() == [True, True, True, True]
    pred.requires_grad_(True)
    flow_loss(pred + torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.5], [9.0, 9.0]]), gt, torch.ones(4),
              valid).backward()
    assert pred.grad[3].abs().sum() == 0


def test_consecutive_difference_loss_is_translation_invariant_and_weighted():
    gt = torch.tensor([[0.0, 0.0], [4.0, 0.0], [4.0, 4.0]])
    assert consecutive_difference_loss(gt + 7.0, gt).item() == 0.0
    pred = gt.clone()
    pred[2, 0] += 2.0  # differences: (0,0) err 0 ; (2,0) err 1 -> max dropped -> 0
    pred[1, 1] += 1.0  # differences now: (0,1) err 0.5 ; (2,-1) err 1.5 -> drop 1.5 -> 0.5 * w0 * w1
    weights = torch.tensor([2.0, 3.0, 1.0])
    assert consecutive_difference_loss(pred, gt, weights).item() == pytest.approx(0.5 * 6.0)


def test_depth_range_loss_hand_worked():
    depths = torch.tensor([[-1.0, 0.5, 2.0, 3.0]])
    # (-1 - 0)^2 + (3 - 2)^2 = 2, over 4 elements
    assert depth_range_loss(depths, 0.0, 2.0).item() == pytest.approx(0.5)


def test_distortion_loss_hand_worked():
    z = torch.tensor([[0.0, 1.0]])
    # edges [0, 1, 1]: midpoints 0.5, 1.0, widths 1, 0
    w = torch.tensor([[0.5, 0.5]])
    # inter = 2 * 0.25 * 0.5 = 0.25 ; intra = (0.25 * 1 + 0.25 * 0) / 3
    assert distortion_loss(z, w).item() == pytest.approx(0.25 + 0.25 / 3)
    one_hot = torch.tensor([[0.0, 1.0]])
    assert distortion_loss(z, one_hot).item() == 0.0  # all weight in the zero-width last interval


def test_scene_flow_smooth_loss_zero_for_constant_velocity():
    x = torch.randn(5, 4, 3)
    velocity = torch.randn(5, 4, 3)
    assert scene_flow_smooth_loss(x, x - velocity, x + velocity).item() == pytest.approx(0.0, abs=1e-6)
    assert scene_flow_smooth_loss(x, x - velocity, x + 2 * velocity).item() > 0


def test_official_schedule_values():
    cfg = TrainConfig()
    assert ramp(0, 0, 1.0, 0, 10) == 0.0
    w = loss_weights(25000, cfg)
    assert w["rgb"] == 5.0 and w["flow_grad"] == pytest.approx(0.05) and w["distortion"] == 0.0
    w = loss_weights(50000, cfg)
    assert w["rgb"] == 10.0 and w["flow_grad"] == pytest.approx(0.1) and w["distortion"] == 5.0
    assert loss_weights(10 ** 6, cfg)["distortion"] == 10.0
    assert (w["flow"], w["depth_range"], w["scene_flow_smooth"]) == (1.0, 10.0, 20.0)
    fast = loss_weights(500, TrainConfig(schedule_scale=0.02))  # 50k-step ramps compressed into 1k
    assert fast["rgb"] == 5.0 and fast["distortion"] == 0.0


def test_weighted_total_sums_and_rejects_unweighted_terms():
    terms = {"a": torch.tensor(2.0), "b": torch.tensor(float("nan"))}
    assert weighted_total(terms, {"a": 3.0, "b": 0.0}).item() == 6.0  # zero weight skips even NaN
    with pytest.raises(KeyError, match="'b'"):
        weighted_total(terms, {"a": 1.0})
