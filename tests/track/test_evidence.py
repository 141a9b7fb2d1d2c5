"""Flow evidence: with exact flows and masks it restores ground-truth visibility (and positions) of any tracks."""

import numpy as np
import pytest
from track_doubles import translating_clip, write_exact_data_dir

from omnimotion.coords import inside_image, resize_points
from omnimotion.track import ROUND_TRIP_OCCLUSION, Tracks, apply_flow_evidence, flow_evidence, grid_queries


@pytest.fixture(scope="module")
def exact(tmp_path_factory):
    clip = translating_clip()
    data = write_exact_data_dir(clip, tmp_path_factory.mktemp("evidence") / "clip")
    # integer grid points of two query frames, and fractional points on the uniformly drifting background
    queries = np.concatenate([grid_queries(data.image_hw, 5, frame=0), grid_queries(data.image_hw, 7, frame=6),
                              np.array([[3, 40.25, 40.5], [9, 55.75, 3.5]], np.float32)])
    gt, gt_occluded = clip.track(queries)
    return clip, data, queries, gt, gt_occluded


def stuck_everywhere_hidden(queries: np.ndarray, num_frames: int, image_hw) -> Tracks:
    """A worst-case model: every point stays at its query pixel and is hidden everywhere but its query frame."""
    occluded = np.ones((len(queries), num_frames), bool)
    occluded[np.arange(len(queries)), queries[:, 0].astype(int)] = False
    return Tracks(np.repeat(queries[:, None, 1:], num_frames, axis=1), occluded, queries, image_hw)


def test_visibility_mode_restores_visibility_and_keeps_positions(exact):
    clip, data, queries, _, gt_occluded = exact
    assert 0.05 < gt_occluded.mean() < 0.5  # the square hides some points, some leave the frame
    stuck = stuck_everywhere_hidden(queries, clip.num_frames, data.image_hw)
    fixed = apply_flow_evidence(stuck, data, "visibility")
    np.testing.assert_array_equal(fixed.occluded, gt_occluded)
    np.testing.assert_array_equal(fixed.tracks, stuck.tracks)
    assert apply_flow_evidence(stuck, data, "none") is stuck


def test_positions_mode_takes_the_flow_where_reliable_and_continues_the_model_motion_elsewhere(exact):
    clip, data, queries, gt, gt_occluded = exact
    frames = np.arange(clip.num_frames)
    drift = 0.5 * np.abs(frames[None] - queries[:, :1])  # px in x, growing away from the query frame
    model = gt + np.stack([drift, np.zeros_like(drift)], axis=-1)
    tracks = Tracks(model, np.ones_like(gt_occluded), queries, data.image_hw)
    fixed = apply_flow_evidence(tracks, data, "positions")
    visible = ~gt_occluded
    np.testing.assert_allclose(fixed.tracks[visible], gt[visible], atol=0.05)  # cv2.remap's 1/32 px tables
    # elsewhere: the model's motion since the nearest visible frame between the query frame and this one
    for n, start in enumerate(queries[:, 0].astype(int)):
        for k in np.flatnonzero(gt_occluded[n]):
            between = frames[min(start, k):max(start, k) + 1]
            anchors = between[visible[n, between]]
            anchor = anchors[np.argmin(np.abs(anchors - k))]
            expected = gt[n, k] + [drift[n, k] - drift[n, anchor], 0.0]
            np.testing.assert_allclose(fixed.tracks[n, k], expected, atol=0.05)
    assert (gt_occluded & (fixed.tracks != model).any(-1)).any()  # the occluded frames did move


def test_a_round_trip_that_misses_hides_a_point_the_model_sees(exact):
    clip, data, queries, gt, gt_occluded = exact
    evidence = flow_evidence(data, queries)
    assert evidence.round_trip[evidence.reliable].max() < 0.05  # exact flows come back where they started
    gap = np.abs(np.arange(clip.num_frames)[None] - queries[:, :1])
    behind_square = gt_occluded & inside_image(gt, *data.image_hw)
    # the flow goes there with the background (+1, 0) and comes back with the square (-4, -1) per frame
    np.testing.assert_allclose(evidence.round_trip[behind_square], np.hypot(3, 1) * gap[behind_square], atol=0.05)
    lost = np.hypot(3, 1) * gap > ROUND_TRIP_OCCLUSION * max(data.image_hw)  # 12 px: 4 frames apart or more
    assert lost[behind_square].any() and not lost[behind_square].all()
    sees_everything = Tracks(gt, np.zeros_like(gt_occluded), queries, data.image_hw)
    for mode in ("visibility", "positions"):
        fixed = apply_flow_evidence(sees_everything, data, mode)
        np.testing.assert_array_equal(fixed.occluded[behind_square], lost[behind_square])
        assert not fixed.occluded[~gt_occluded].any()


def test_tracks_of_a_resized_video_are_corrected_in_its_pixels(exact):
    clip, data, queries, gt, gt_occluded = exact
    video_hw = (2 * data.image_hw[0], 3 * data.image_hw[1])
    big = queries.copy()
    big[:, 1:] = resize_points(queries[:, 1:], data.image_hw, video_hw)
    fixed = apply_flow_evidence(stuck_everywhere_hidden(big, clip.num_frames, video_hw), data, "positions")
    visible = ~gt_occluded
    np.testing.assert_allclose(fixed.tracks[visible], resize_points(gt, data.image_hw, video_hw)[visible], atol=0.15)
    np.testing.assert_array_equal(fixed.occluded, gt_occluded)


def test_a_missing_pair_is_bridged_through_the_frame_before_and_bad_calls_fail(exact, tmp_path):
    clip, data, queries, gt, gt_occluded = exact
    full = flow_evidence(data, queries, with_points=True)
    data.mask_path(0, 4).rename(tmp_path / "hidden.png")
    try:
        evidence = flow_evidence(data, queries, with_points=True)
    finally:
        (tmp_path / "hidden.png").rename(data.mask_path(0, 4))
    from_frame_0 = queries[:, 0] == 0
    # from frame 0 to 4 through frame 3: the points the flow follows into frame 3 and on into 4
    bridged = full.reliable[from_frame_0, 3] & ~gt_occluded[from_frame_0, 4]
    np.testing.assert_array_equal(evidence.reliable[from_frame_0, 4], bridged)
    np.testing.assert_allclose(evidence.points[from_frame_0, 4][bridged], gt[from_frame_0, 4][bridged], atol=1e-3)
    np.testing.assert_array_equal(np.delete(evidence.reliable, 4, axis=1), np.delete(full.reliable, 4, axis=1))
    np.testing.assert_array_equal(evidence.reliable[~from_frame_0], full.reliable[~from_frame_0])
    assert flow_evidence(data, queries).points is None
    stuck = stuck_everywhere_hidden(queries, clip.num_frames, data.image_hw)
    with pytest.raises(ValueError, match="is not one of none, visibility, positions"):
        apply_flow_evidence(stuck, data, "snap")
    short = Tracks(stuck.tracks[:1, :5], stuck.occluded[:1, :5], queries[:1], data.image_hw)
    with pytest.raises(ValueError, match="tracks have 5 frames"):
        apply_flow_evidence(short, data, "visibility")


def test_with_only_nearby_pairs_the_evidence_hops_and_matches_all_pairs_where_the_flow_vouches(exact, tmp_path):
    clip, data, queries, gt, gt_occluded = exact
    full = flow_evidence(data, queries, with_points=True)
    far = [(i, j) for i in range(clip.num_frames) for j in range(clip.num_frames) if abs(i - j) > 2]
    for i, j in far:
        data.mask_path(i, j).rename(tmp_path / f"{i}_{j}.png")
    try:
        windowed = flow_evidence(data, queries, with_points=True)
    finally:
        for i, j in far:
            (tmp_path / f"{i}_{j}.png").rename(data.mask_path(i, j))
    # hops lose the points hidden at a hop frame, so: a subset of the full evidence, and as exact
    assert windowed.reliable.sum() > 0.8 * full.reliable.sum() and not (windowed.reliable & ~full.reliable).any()
    np.testing.assert_allclose(windowed.points[windowed.reliable], gt[windowed.reliable], atol=1e-3)
    near = np.abs(np.arange(clip.num_frames)[None] - queries[:, :1]) <= 2
    np.testing.assert_array_equal(windowed.reliable[near], full.reliable[near])


def test_flow_positions_ignore_neighbouring_pixels_whose_chain_broke(tmp_path):
    clip = translating_clip()
    data = write_exact_data_dir(clip, tmp_path / "clip")
    queries = grid_queries(data.image_hw, 3, frame=0)
    queries[:, 1:] += [0.4, 0.3]  # between pixels: four neighbours each
    before = flow_evidence(data, queries, with_points=True)
    xs, ys = np.floor(queries[:, 1]).astype(int), np.floor(queries[:, 2]).astype(int)
    touched = np.zeros(len(queries), bool)
    for k in range(1, clip.num_frames):
        flow, broke = data.load_flow(0, k), ~data.load_mask(0, k)[0]
        flow[broke] = 1000.0  # a broken chain's flow says nothing about its neighbours
        data.save_flow(0, k, flow)
        touched |= before.reliable[:, k] & (broke[ys, xs] | broke[ys, xs + 1] | broke[ys + 1, xs]
                                            | broke[ys + 1, xs + 1])
    assert touched.sum() >= 5  # reliable points next to a broken chain exist
    after = flow_evidence(data, queries, with_points=True)
    np.testing.assert_array_equal(after.points, before.points)
    gt, _ = clip.track(queries)
    error = np.linalg.norm(after.points - gt, axis=-1)[after.reliable]
    assert np.median(error) < 0.05


def test_flow_positions_ignore_reliable_neighbours_that_followed_another_surface(tmp_path):
    clip = translating_clip()
    data = write_exact_data_dir(clip, tmp_path / "clip")
    even_x, even_y = np.meshgrid(np.arange(2, data.image_hw[1] - 2, 4), np.arange(2, data.image_hw[0] - 2, 4))
    queries = np.stack([np.zeros(even_x.size), even_x.ravel() + 0.4, even_y.ravel() + 0.3], axis=1).astype(np.float32)
    for k in range(1, clip.num_frames):  # every odd-odd pixel's chain went 30 px astray, yet stays reliable
        flow = data.load_flow(0, k)
        flow[1::2, 1::2] += 30.0
        data.save_flow(0, k, flow)
    evidence = flow_evidence(data, queries, with_points=True)
    assert evidence.reliable.sum() > 100
    gt, _ = clip.track(queries)
    error = np.linalg.norm(evidence.points - gt, axis=-1)[evidence.reliable]
    assert error.max() < 0.01, error.max()  # mixing the astray neighbour in (weight 0.12) would move 5 px
