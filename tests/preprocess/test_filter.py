"""Cycle-consistency filter: hand-made flows with known masks, synthetic clips, official output formats."""

import json

import cv2
import numpy as np
import pytest

from omnimotion.coords import inside_image, pixel_grid
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.filter import cycle_masks, filter_flows
from omnimotion.preprocess.warp import sample_bilinear
from omnimotion.synthetic import make_clip, write_frames


def constant(height, width, dx, dy):
    return np.broadcast_to(np.float32([dx, dy]), (height, width, 2)).copy()


def test_consistent_constant_shift_is_reliable_where_it_stays_inside():
    height, width = 8, 16
    reliable, occluded = cycle_masks(constant(height, width, 4, 0), constant(height, width, -4, 0), 3.0, gap=1)
    # q.x = x + 4: inside up to x = W-5 (fb 0); at x = W-4 the backward flow is read from zero padding
    # (fb = 4 >= 3), beyond it too.
    expected = np.broadcast_to(np.arange(width) <= width - 5, (height, width))
    np.testing.assert_array_equal(reliable, expected)
    assert not occluded.any()


def test_inconsistent_backward_flow_depends_on_threshold():
    height, width = 6, 6
    forward, backward = constant(height, width, 0, 0), constant(height, width, 2.5, 0)  # fb = 2.5 px
    assert cycle_masks(forward, backward, 3.0, gap=5)[0].all()
    assert not cycle_masks(forward, backward, 2.0, gap=5)[0].any()
    assert not cycle_masks(forward, constant(height, width, 3.0, 0), 3.0, gap=5)[0].any()  # strict <


def occluder_flows(width=32, height=4, start=10, size=5, shift=6):
    """Static background; an occluder at x in [start, start+size) moves +shift from frame i to j."""
    forward = np.zeros((height, width, 2), np.float32)
    backward = np.zeros((height, width, 2), np.float32)
    forward[:, start:start + size, 0] = shift
    backward[:, start + shift:start + shift + size, 0] = -shift
    return forward, backward


def test_second_cycle_marks_pixels_hidden_by_the_occluder():
    forward, backward = occluder_flows()
    reliable, occluded = cycle_masks(forward, backward, 3.0, gap=1)
    # Background x in 16..20 is covered in j: fb = 6 > 4.5, and the round trip lands on the occluder in i
    # (x - 6), whose forward flow returns to q exactly: occluded but reliable. Everything else is consistent.
    hidden = np.zeros(32, bool)
    hidden[16:21] = True
    np.testing.assert_array_equal(occluded, np.broadcast_to(hidden, occluded.shape))
    np.testing.assert_array_equal(reliable, ~occluded)
    # Pairs 3 or more frames apart have no second cycle; appearance is ignored below a gap of 3.
    assert not cycle_masks(forward, backward, 3.0, gap=3)[1].any()
    no_appearance = np.zeros(forward.shape[:2], bool)
    np.testing.assert_array_equal(cycle_masks(forward, backward, 3.0, 2, no_appearance)[0], reliable)
    assert not cycle_masks(forward, backward, 3.0, 3, no_appearance)[0].any()


@pytest.fixture(scope="module")
def clip():
    return make_clip(num_frames=8, height=64, width=64, motion="mixed", seed=1)


def detectable_occlusion(clip, i, j, cycle_th):
    """Pixels hidden in j (inside the frame) whose occluder moved >= 2 cycle_th relative to them."""
    flow, occluded = clip.flow(i, j)
    back, _ = clip.flow(j, i)
    target = pixel_grid(clip.height, clip.width) + flow
    relative = np.linalg.norm(flow + sample_bilinear(back, np.round(target)), axis=-1)
    return occluded & inside_image(target, clip.height, clip.width) & (relative >= 2 * cycle_th), occluded


def make_datadir(tmp_path, clip, flows):
    write_frames(clip, tmp_path / "color")
    data = DataDir(tmp_path)
    for (i, j), flow in flows.items():
        data.save_flow(i, j, flow)
    return data


def gt_flows(clip, max_gap):
    return {(i, j): clip.flow(i, j)[0] for i in range(clip.num_frames) for j in range(clip.num_frames)
            if i != j and abs(i - j) <= max_gap}


def test_filter_flows_on_ground_truth_flags_occlusions_and_keeps_visible(tmp_path, clip):
    data = make_datadir(tmp_path, clip, gt_flows(clip, max_gap=4))
    filter_flows(data, cycle_th=3.0, appearance="none", workers=1, progress=False)
    flagged = kept = detectable_total = visible_total = 0
    for i in range(clip.num_frames):
        for j in range(max(0, i - 4), min(clip.num_frames, i + 5)):
            if i == j:
                continue
            reliable, _ = data.load_mask(i, j)
            detectable, occluded = detectable_occlusion(clip, i, j, 3.0)
            flagged += (~reliable[detectable]).sum()
            detectable_total += detectable.sum()
            kept += reliable[~occluded].sum()
            visible_total += (~occluded).sum()
    assert detectable_total > 500
    assert flagged / detectable_total >= 0.9
    assert kept / visible_total >= 0.8


def test_official_formats_and_only_existing_pairs(tmp_path, clip):
    data = make_datadir(tmp_path, clip, gt_flows(clip, max_gap=2))
    filter_flows(data, cycle_th=3.0, appearance="none", workers=2, progress=False)
    stats = json.loads(data.flow_stats_path.read_text())
    names = data.frame_names
    assert set(stats) == set(names)
    for i, name in enumerate(names):
        partners = {names[j] for j in range(len(names)) if j != i and abs(i - j) <= 2}
        assert set(stats[name]) == partners
    png = cv2.imread(str(data.mask_path(0, 1)), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and png.shape == (64, 64, 3) and set(np.unique(png)) <= {0, 255}
    assert not png[..., 0].any()  # channel 2 (BGR order on disk) is always 0
    reliable, occluded = data.load_mask(0, 1)
    assert stats[names[0]][names[1]] == int((reliable | occluded).sum())
    count = cv2.imread(str(data.count_map_path(0)), cv2.IMREAD_UNCHANGED)
    assert count.dtype == np.uint16
    expected = sum((lambda m: m[0] | m[1])(data.load_mask(0, j)).astype(int) for j in (1, 2))
    np.testing.assert_array_equal(count, expected)
    assert not data.mask_path(0, 3).exists()


def test_threshold_changes_masks_and_dis_flows_are_mostly_right(tmp_path, clip):
    from omnimotion.flow import get_backend

    dis = get_backend("dis")
    pairs = [(0, 1), (1, 0), (2, 6), (6, 2)]
    data = make_datadir(tmp_path, clip, {(i, j): dis(clip.video[i], clip.video[j]) for i, j in pairs})
    counts = {}
    for cycle_th in (1.0, 3.0):
        filter_flows(data, cycle_th=cycle_th, appearance="embedded", workers=1, progress=False)
        counts[cycle_th] = sum(data.load_mask(i, j)[0].sum() for i, j in pairs)
    assert counts[1.0] < counts[3.0]
    # At 3 px the reliable DIS pixels are mostly within 3 px of the truth, and most visible ones are kept.
    for i, j in ((0, 1), (2, 6)):
        reliable, _ = data.load_mask(i, j)
        flow, occluded = clip.flow(i, j)
        error = np.linalg.norm(data.load_flow(i, j) - flow, axis=-1)
        assert (error[reliable] < 3).mean() >= 0.85
        assert reliable[~occluded].mean() >= 0.8


def test_bad_threshold_is_refused(tmp_path, clip):
    data = make_datadir(tmp_path, clip, {})
    with pytest.raises(ValueError, match="cycle_th"):
        filter_flows(data, cycle_th=0, progress=False)
