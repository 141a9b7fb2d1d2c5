"""TAP-Vid metrics and TC: docs/method.md#test-vectors vectors, hand-worked shifts, and a loop-by-loop reference."""

import numpy as np
import pytest

from omnimotion.eval.metrics import compute_tapvid_metrics, mean_over_videos, temporal_coherence


def _one_track(pred_xs, pred_occ=(False,) * 4, gt_occ=(False,) * 4, query_t=0, mode="first"):
    """Anchors §2.5 setup: one track, T=4, GT at (0, 0) everywhere, prediction at (x, 0)."""
    gt = np.zeros((1, 1, 4, 2))
    pred = np.zeros((1, 1, 4, 2))
    pred[0, 0, :, 0] = pred_xs
    query = np.array([[[query_t, 0.0, 0.0]]])
    return compute_tapvid_metrics(query, np.array([[gt_occ]]), gt, np.array([[pred_occ]]), pred, mode)


B_XS = (0.0, 0.5, 3.0, 20.0)


def test_anchor_case_a_perfect():
    m = _one_track((0, 0, 0, 0))
    assert m["average_jaccard"][0] == 1 and m["average_pts_within_thresh"][0] == 1
    assert m["occlusion_accuracy"][0] == 1


def test_anchor_case_b_first():
    m = _one_track(B_XS)
    # errors on eval frames {1,2,3}: 0.5, 3, 20
    np.testing.assert_allclose([m[f"pts_within_{t}"][0] for t in (1, 2, 4, 8, 16)], [1/3, 1/3, 2/3, 2/3, 2/3])
    np.testing.assert_allclose([m[f"jaccard_{t}"][0] for t in (1, 2, 4, 8, 16)], [0.2, 0.2, 0.5, 0.5, 0.5])
    assert m["average_jaccard"][0] == pytest.approx(0.38, abs=1e-12)
    assert m["average_pts_within_thresh"][0] == pytest.approx(8 / 15, abs=1e-12)
    assert m["occlusion_accuracy"][0] == 1.0


def test_anchor_case_c_pred_occluded():
    m = _one_track(B_XS, pred_occ=(False, False, False, True))
    assert m["average_jaccard"][0] == pytest.approx(0.5, abs=1e-12)
    assert m["average_pts_within_thresh"][0] == pytest.approx(8 / 15, abs=1e-12)
    assert m["occlusion_accuracy"][0] == pytest.approx(2 / 3, abs=1e-12)


def test_anchor_case_d_gt_occluded():
    m = _one_track(B_XS, gt_occ=(False, False, True, False))
    assert m["average_jaccard"][0] == pytest.approx(0.25, abs=1e-12)
    assert m["average_pts_within_thresh"][0] == pytest.approx(0.5, abs=1e-12)
    assert m["occlusion_accuracy"][0] == pytest.approx(2 / 3, abs=1e-12)


def test_anchor_case_e_strided():
    m = _one_track(B_XS, query_t=2, mode="strided")
    assert m["average_jaccard"][0] == pytest.approx(0.5, abs=1e-12)
    assert m["average_pts_within_thresh"][0] == pytest.approx(2 / 3, abs=1e-12)
    assert m["occlusion_accuracy"][0] == 1.0


def test_anchor_tc_case():
    gt = np.zeros((1, 1, 4, 2))
    pred = np.array([[[[0, 0], [0, 0], [3, 4], [3, 4]]]], float)
    assert temporal_coherence(gt, np.zeros((1, 1, 4), bool), pred)[0] == pytest.approx(5.0)


def _random_video(rng, n=6, t=10):
    gt = rng.uniform(0, 256, (1, n, t, 2))
    occ = rng.random((1, n, t)) < 0.2
    return gt, occ


@pytest.mark.parametrize("mode", ["first", "strided"])
def test_perfect_predictions(mode):
    rng = np.random.default_rng(0)
    gt, occ = _random_video(rng)
    query = np.zeros((1, 6, 3))
    query[..., 0] = rng.integers(0, 5, 6)
    m = compute_tapvid_metrics(query, occ, gt, occ, gt.copy(), mode)
    for key in ("average_jaccard", "average_pts_within_thresh", "occlusion_accuracy"):
        assert m[key][0] == 1.0
    assert temporal_coherence(gt, occ, gt.copy())[0] == 0.0


@pytest.mark.parametrize("shift, delta, aj", [
    ((1.5, 0.0), 4 / 5, 4 / 5),         # 1.5 px: misses theta=1 only
    ((1.5, 1.5), 3 / 5, 3 / 5),         # 2.12 px: misses theta=1, 2
    ((2.0, 0.0), 3 / 5, 3 / 5),         # exactly 2 px is a miss (strict)
    ((16.0, 0.0), 0.0, 0.0),            # exactly 16 px misses everything
])
def test_shifted_predictions_follow_thresholds(shift, delta, aj):
    # With perfect occlusion and every frame visible, jaccard_theta is 1 if within theta else
    # 0 / (V + V) = 0, so AJ equals delta.
    rng = np.random.default_rng(1)
    gt = rng.integers(20, 200, (2, 5, 8, 2)).astype(float)  # integers: gt + shift - gt is exact
    occ = np.zeros((2, 5, 8), bool)
    query = np.zeros((2, 5, 3))
    m = compute_tapvid_metrics(query, occ, gt, occ, gt + np.array(shift), "strided")
    np.testing.assert_allclose(m["average_pts_within_thresh"], [delta, delta], atol=1e-12)
    np.testing.assert_allclose(m["average_jaccard"], [aj, aj], atol=1e-12)
    # A constant shift has zero acceleration error.
    np.testing.assert_allclose(temporal_coherence(gt, occ, gt + np.array(shift)), [0, 0], atol=1e-12)


def test_shift_with_occlusion_counts_false_positives():
    # T=3, strided query at 0: eval frames 1, 2; GT occluded at 2, pred visible everywhere, shifted 1.5 px.
    gt = np.zeros((1, 1, 3, 2))
    occ = np.array([[[False, False, True]]])
    m = compute_tapvid_metrics(np.zeros((1, 1, 3)), occ, gt, np.zeros_like(occ), gt + [1.5, 0], "strided")
    # theta=1: TP 0, V 1, FP 2 (frame 1 wrong, frame 2 occluded) -> 0; theta>=2: TP 1, V 1, FP 1 -> 1/2
    assert m["average_jaccard"][0] == pytest.approx((0 + 4 * 0.5) / 5)
    assert m["average_pts_within_thresh"][0] == pytest.approx(4 / 5)
    assert m["occlusion_accuracy"][0] == pytest.approx(0.5)


def test_no_visible_evaluated_frame_is_nan_and_skipped_in_mean():
    # Our decision for 0/0 (docs/method.md#test-vectors): NaN, as the reference's division, and the mean skips it.
    gt = np.zeros((1, 1, 3, 2))
    occ = np.array([[[False, True, True]]])
    m = compute_tapvid_metrics(np.zeros((1, 1, 3)), occ, gt, occ, gt, "first")
    assert np.isnan(m["pts_within_1"][0]) and np.isnan(m["average_pts_within_thresh"][0])
    assert m["occlusion_accuracy"][0] == 1.0
    assert np.isnan(temporal_coherence(gt, occ, gt)[0])  # no visible triple
    assert mean_over_videos([0.5, np.nan, 0.7]) == pytest.approx(0.6)
    assert np.isnan(mean_over_videos([np.nan]))


def test_valid_mask_removes_unannotated_frames():
    gt = np.zeros((1, 1, 4, 2))
    pred = gt.copy()
    pred[0, 0, 3] = 50.0  # wrong on frame 3 only
    occ = np.zeros((1, 1, 4), bool)
    valid = np.array([[[True, True, True, False]]])
    m = compute_tapvid_metrics(np.zeros((1, 1, 3)), occ, gt, occ, pred, "first", valid=valid)
    assert m["average_jaccard"][0] == 1.0
    assert compute_tapvid_metrics(np.zeros((1, 1, 3)), occ, gt, occ, pred, "first")["average_jaccard"][0] < 1


def test_bad_shapes_and_mode_are_rejected():
    gt = np.zeros((1, 2, 4, 2))
    occ = np.zeros((1, 2, 4), bool)
    with pytest.raises(ValueError, match="pred_tracks"):
        compute_tapvid_metrics(np.zeros((1, 2, 3)), occ, gt, occ, gt[:, :1], "first")
    with pytest.raises(ValueError, match="query_mode"):
        compute_tapvid_metrics(np.zeros((1, 2, 3)), occ, gt, occ, gt, "middle")


def _loop_reference(query, gt_occ, gt, pred_occ, pred, mode):
    """Element-by-element restatement of docs/method.md#tap-vid-metrics for one video; returns (AJ, delta, OA)."""
    n, t = gt_occ.shape
    ok = total = 0
    deltas, jaccards = [], []
    for theta in (1, 2, 4, 8, 16):
        correct = vis = tp = fp = 0
        for i in range(n):
            q = int(round(query[i, 0]))
            for j in range(t):
                if (mode == "first" and j <= q) or (mode == "strided" and j == q):
                    continue
                d2 = (pred[i, j, 0] - gt[i, j, 0]) ** 2 + (pred[i, j, 1] - gt[i, j, 1]) ** 2
                within = d2 < theta * theta
                if theta == 1:
                    total += 1
                    ok += pred_occ[i, j] == gt_occ[i, j]
                if not gt_occ[i, j]:
                    vis += 1
                    correct += within
                    tp += within and not pred_occ[i, j]
                if not pred_occ[i, j] and (gt_occ[i, j] or not within):
                    fp += 1
        deltas.append(correct / vis)
        jaccards.append(tp / (vis + fp))
    return np.mean(jaccards), np.mean(deltas), ok / total


@pytest.mark.parametrize("mode", ["first", "strided"])
def test_matches_loop_reference_on_random_data(mode):
    rng = np.random.default_rng(7)
    gt, gt_occ = _random_video(rng, n=7, t=9)
    pred = gt + rng.normal(0, 6, gt.shape)
    pred_occ = rng.random(gt_occ.shape) < 0.3
    query = np.zeros((1, 7, 3))
    query[..., 0] = rng.integers(0, 6, 7) + rng.uniform(-0.4, 0.4, 7)  # t is rounded
    m = compute_tapvid_metrics(query, gt_occ, gt, pred_occ, pred, mode)
    expected = _loop_reference(query[0], gt_occ[0], gt[0], pred_occ[0], pred[0], mode)
    got = (m["average_jaccard"][0], m["average_pts_within_thresh"][0], m["occlusion_accuracy"][0])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    per_track = compute_tapvid_metrics(query, gt_occ, gt, pred_occ, pred, mode, get_trackwise_metrics=True)
    assert per_track["average_jaccard"].shape == (1, 7)
    for i in range(7):
        one = compute_tapvid_metrics(query[:, i:i + 1], gt_occ[:, i:i + 1], gt[:, i:i + 1],
                                     pred_occ[:, i:i + 1], pred[:, i:i + 1], mode)
        np.testing.assert_allclose(per_track["average_jaccard"][0, i], one["average_jaccard"][0], equal_nan=True)


def test_tc_ignores_frames_next_to_occlusion():
    gt = np.zeros((1, 1, 5, 2))
    occ = np.array([[[False, False, False, True, False]]])
    pred = np.array([[[[0, 0], [0, 0], [0, 0], [30, 0], [0, 0]]]], float)
    # Only the triple (0,1,2) is fully visible and its acceleration error is 0.
    assert temporal_coherence(gt, occ, pred)[0] == 0.0
    occ[0, 0, 3] = False
    # Now triples 1..3 count: |a| = 0 at t=1, 30 at t=2, 60 at t=3 -> mean 30.
    assert temporal_coherence(gt, occ, pred)[0] == pytest.approx(30.0)
