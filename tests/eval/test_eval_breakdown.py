"""Last-frame score and error breakdown: hand-worked cases, pooling over videos, and the flow-vouched split."""

import math

import numpy as np
import pytest

from omnimotion.eval.breakdown import error_breakdown, flow_vouched
from omnimotion.eval.lastframe import last_frame_scores
from omnimotion.eval.metrics import within_fraction
from omnimotion.eval.report import format_markdown, mean_rows


def test_within_fraction_is_strict_and_averages_the_thresholds():
    # thresholds 1, 2, 4, 8, 16: 0 px is within all 5; exactly 2 px within 4, 8, 16 (3/5); 16 px within none
    np.testing.assert_allclose(within_fraction(np.array([0.0, 1.5, 2.0, 16.0])), [1.0, 0.8, 0.6, 0.0])


def _last_frame_case():
    # three tracks, T = 5, annotated at frames 0..2 and 4 (frame 3 unannotated, as davis_fulllength's middle)
    gt = np.zeros((3, 5, 2))
    valid = np.array([[1, 1, 1, 0, 1]] * 3, bool)
    gt_occluded = np.zeros((3, 5), bool)
    gt_occluded[2, 4] = True  # track 2 is hidden at the last frame
    pred = gt.copy()
    pred[0, 4] = [3.0, 4.0]  # 5 px: within 8 and 16 -> 2/5
    pred[1, 4] = [0.5, 0.0]  # 0.5 px: within all -> 5/5
    pred[0, 3] = [90.0, 0]  # unannotated frame: never read
    pred_occluded = np.zeros((3, 5), bool)
    pred_occluded[1, 4] = True  # wrong (track 1 is visible); track 2 predicted visible: wrong too
    scored = valid & (np.arange(5) > 0)[None]  # "first" mode, queries at frame 0
    return gt, gt_occluded, pred, pred_occluded, scored, valid


def test_last_frame_score_hand_worked():
    scores = last_frame_scores(*_last_frame_case())
    assert scores["last_frame"] == 4 and scores["last_visible"] == 2 and scores["last_annotated"] == 3
    assert scores["last_delta"] == pytest.approx((2 / 5 + 5 / 5) / 2)  # 0.7
    assert scores["last_median_px"] == pytest.approx((5.0 + 0.5) / 2)
    assert scores["last_OA"] == pytest.approx(1 / 3)  # only track 0 agrees
    assert scores["last_errors"] == pytest.approx([5.0, 0.5])


def test_last_frame_without_visible_tracks_is_nan():
    gt, gt_occluded, pred, pred_occluded, scored, valid = _last_frame_case()
    gt_occluded[:, 4] = True
    scores = last_frame_scores(gt, gt_occluded, pred, pred_occluded, scored, valid)
    assert scores["last_visible"] == 0 and math.isnan(scores["last_delta"]) and math.isnan(scores["last_median_px"])
    assert scores["last_OA"] == pytest.approx(1 / 3)  # track 2 is predicted visible: the others say occluded


def test_breakdown_hand_worked():
    # one track queried at frame 2 of T = 7 (strided: every other frame scored); hidden at frames 0 and 4
    gt = np.zeros((1, 7, 2))
    gt_occluded = np.array([[1, 0, 0, 0, 1, 0, 0]], bool)
    valid = np.ones((1, 7), bool)
    scored = valid & (np.arange(7) != 2)[None]
    pred = gt.copy()
    pred[0, :, 0] = [0, 3, 0, 0.5, 0, 20, 1.5]  # errors at the visible scored frames 1, 3, 5, 6: 3, 0.5, 20, 1.5
    pred_occluded = np.array([[0, 1, 0, 0, 1, 0, 0]], bool)  # frame 1: false positive; frame 0: false negative
    vouched = np.array([[0, 1, 1, 1, 0, 0, 0]], bool)  # the flow vouches at 1 and 3
    result = error_breakdown(gt, gt_occluded, pred, pred_occluded, scored, valid, np.array([2]), vouched)
    # per-frame fractions within 1, 2, 4, 8, 16: 3 px -> 3/5, 0.5 -> 1, 20 -> 0, 1.5 -> 4/5
    assert result["visible_frames"] == 4 and result["delta_visible"] == pytest.approx((0.6 + 1 + 0 + 0.8) / 4)
    assert result["vouched_frames"] == 2 and result["delta_vouched"] == pytest.approx((0.6 + 1) / 2)
    assert result["unvouched_frames"] == 2 and result["delta_unvouched"] == pytest.approx((0 + 0.8) / 2)
    assert (result["occ_fp"], result["occ_fn"], result["occluded_frames"]) == (1, 1, 2)
    # beyond an occlusion seen from frame 2: frames 5 and 6 (after frame 4); nothing visible before frame 0
    assert result["reacquired_frames"] == 2 and result["delta_reacquired"] == pytest.approx((0 + 0.8) / 2)
    without = error_breakdown(gt, gt_occluded, pred, pred_occluded, scored, valid, np.array([2]))
    assert math.isnan(without["vouched_frames"]) and without["occ_fp"] == 1


def test_reacquisition_counts_only_occlusions_at_annotated_frames():
    # davis_fulllength: unannotated frames are stored occluded; they must not count as an occlusion
    gt_occluded = np.array([[0, 0, 1, 1, 0]], bool)
    valid = np.array([[1, 1, 0, 0, 1]], bool)
    scored = valid & (np.arange(5) > 0)[None]
    gt = np.zeros((1, 5, 2))
    result = error_breakdown(gt, gt_occluded, gt, np.zeros((1, 5), bool), scored, valid, np.array([0]))
    assert result["reacquired_frames"] == 0 and result["occluded_frames"] == 0


def _row(video, delta_last, visible, errors, vouched=None):
    row = {"video": video, "group": "g", "method": "chain", "query_mode": "first", "num_queries": 2, "AJ": 0.5,
           "delta_avg": 0.5, "OA": 0.5, "TC": 1.0, "PCK": math.nan, "seconds": 1.0, "last_frame": 9,
           "last_delta": delta_last, "last_visible": visible, "last_annotated": 2, "last_OA": 0.5,
           "last_errors": errors, "last_median_px": float(np.median(errors)) if errors else math.nan,
           "visible_frames": 10.0, "delta_visible": 0.5, "occ_fp": 1.0, "occ_fn": 0.0, "occluded_frames": 4.0,
           "reacquired_frames": 0.0, "delta_reacquired": math.nan, "evidence": "no data directory",
           "vouched_frames": math.nan, "unvouched_frames": math.nan, "delta_vouched": math.nan,
           "delta_unvouched": math.nan}
    if vouched is not None:
        row.update(vouched_frames=vouched, unvouched_frames=10.0 - vouched, delta_vouched=0.8, delta_unvouched=0.2,
                   evidence="omnimotion")
    return row


def test_means_pool_tracks_and_point_frames_over_videos():
    rows = [_row("a", 1.0, 3, [0.0, 1.0, 2.0], vouched=6.0), _row("b", 0.0, 1, [40.0]), _row("c", math.nan, 0, [])]
    mean = mean_rows(rows)[0]
    assert mean["last_delta"] == pytest.approx(0.5)  # mean over the videos that have it, (1 + 0) / 2
    assert mean["last_delta_pooled"] == pytest.approx(3 / 4)  # pooled over the 4 visible tracks
    assert mean["last_OA_pooled"] == pytest.approx(0.5)  # 2 annotated per video, each video at 0.5
    assert mean["last_median_px"] == pytest.approx(1.5)  # median of 0, 1, 2, 40
    assert mean["last_visible"] == 4 and mean["occ_fp"] == 3 and mean["visible_frames"] == 30
    assert mean["vouched_frames"] == 6 and mean["delta_vouched"] == pytest.approx(0.8)  # only video a has it
    assert mean["evidence"] == "omnimotion (1 of 3 videos)"
    markdown = format_markdown(rows)
    assert "| g | mean (3 videos) | chain | first | 6 | 50.0 | 50.0 | 50.0 | 1.00 | - | 50.0 | 1.50 | 50.0 |" in markdown
    assert "- g, chain: δ 75.0 over 4 visible tracks, OA 50.0 over 6 annotated" in markdown
    assert "## Where the error is" in markdown
    assert "| g | a | chain | 10 | 60.0 | 80.0 | 20.0 | 1 (10.0) | 0 (0.0) | 0 | - | omnimotion |" in markdown
    assert "| g | b | chain | 10 | - | - | - | 1 (10.0) | 0 (0.0) | 0 | - | - |" in markdown
    assert "Empty vouched cells: no data directory" in markdown


def test_tables_without_sparse_annotations_have_no_last_frame_columns():
    row = _row("a", 1.0, 3, [0.0])
    for key in [k for k in row if k.startswith("last_")]:
        del row[key]
    assert "δ last" not in format_markdown([row]) and "## Where the error is" in format_markdown([row])


def test_flow_vouched_reads_the_data_directory_in_its_own_pixels(tmp_path):
    from omnimotion.io.datadir import DataDir
    from omnimotion.synthetic import make_clip, write_frames

    # a 3-frame data directory at 16x20 whose flows into frame 2 are cycle-consistent only on the left half
    clip = make_clip(num_frames=3, height=16, width=20, num_sprites=1, seed=0)
    write_frames(clip, tmp_path / "color")
    data = DataDir(tmp_path)
    for i in range(3):
        for j in range(3):
            if i != j:
                flow = np.zeros((16, 20, 2), np.float32)
                if j == 2:
                    flow[:, 10:] = 5.0  # the way back is still zero: a 7 px round-trip miss
                data.save_flow(i, j, flow)
    # queries in pixels of a 2x larger video: x = 5 -> 2.25 (left half), x = 30 -> 14.75 (right half)
    queries = np.array([[0, 5.0, 8.0], [0, 30.0, 8.0]], np.float32)
    vouched = flow_vouched(tmp_path, queries, (3, 32, 40))
    np.testing.assert_array_equal(vouched, [[False, True, True], [False, True, False]])
    with pytest.raises(ValueError, match="has 3 frames but the video 4"):
        flow_vouched(tmp_path, queries, (4, 32, 40))
