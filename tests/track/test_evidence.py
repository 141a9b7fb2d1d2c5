"""Flow evidence: with exact flows it restores ground-truth visibility (and positions) of any tracks."""

import numpy as np
import pytest
from track_doubles import translating_clip, write_exact_data_dir

from omnimotion.coords import inside_image, resize_points
from omnimotion.track import Tracks, apply_flow_evidence, flow_evidence, grid_queries


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


def test_a_point_the_model_sees_behind_the_square_is_hidden_and_found_again_after_it(exact):
    clip, data, queries, gt, gt_occluded = exact
    behind_square = gt_occluded & inside_image(gt, *data.image_hw)
    after_square = np.zeros_like(behind_square)  # visible frames after a frame the square covered the point
    for n, start in enumerate(queries[:, 0].astype(int)):
        covered = np.flatnonzero(behind_square[n, start:]) + start
        if len(covered):
            after_square[n, covered[0]:] = ~gt_occluded[n, covered[0]:]
    assert behind_square.sum() > 10 and after_square.sum() > 10
    sees_everything = Tracks(gt, np.zeros_like(gt_occluded), queries, data.image_hw)
    fixed = apply_flow_evidence(sees_everything, data, "positions")
    np.testing.assert_array_equal(fixed.occluded, gt_occluded)  # hidden behind the square, found after it
    np.testing.assert_allclose(fixed.tracks[after_square], gt[after_square], atol=0.05)


def test_paths_that_skip_frames_find_points_a_chain_of_consecutive_flows_loses(exact, tmp_path):
    import shutil

    from omnimotion.track.gapflows import GapFlows

    clip, data, queries, gt, gt_occluded = exact
    copy = type(data)(shutil.copytree(data.root, tmp_path / "consecutive"))
    for i in range(clip.num_frames):
        for j in range(clip.num_frames):
            if abs(i - j) > 1 and i != j:
                copy.flow_path(i, j).unlink()
    chain = flow_evidence(copy, queries, flows=GapFlows(copy))
    full = flow_evidence(data, queries, flows=GapFlows(data))
    assert not (chain.reliable & ~full.reliable).any()
    np.testing.assert_array_equal(full.reliable, ~gt_occluded & ~np.eye(clip.num_frames, dtype=bool)[
        queries[:, 0].astype(int)])
    assert (full.reliable & ~chain.reliable).sum() > 10  # a chain ends where the square passes over its point


def test_the_path_with_the_smallest_round_trip_misses_wins(exact, tmp_path):
    import shutil

    clip, data, queries, gt, gt_occluded = exact
    copy = type(data)(shutil.copytree(data.root, tmp_path / "biased"))
    for k in range(clip.num_frames - 1):  # consecutive steps drift 0.3 px, within the cycle check
        copy.save_flow(k, k + 1, copy.load_flow(k, k + 1) + [0.3, 0.0])
    evidence = flow_evidence(copy, queries, with_points=True)
    frames = np.arange(clip.num_frames)
    two_apart = (frames[None] - queries[:, :1] == 2) & evidence.reliable  # one exact step beats two biased ones
    assert two_apart.sum() > 10
    np.testing.assert_allclose(evidence.points[two_apart], gt[two_apart], atol=0.05)


def test_a_long_step_that_disagrees_with_the_model_breaks_its_path(exact, tmp_path):
    import shutil

    clip, data, queries, gt, gt_occluded = exact
    copy = type(data)(shutil.copytree(data.root, tmp_path / "period"))
    for k in range(clip.num_frames - 1):  # consecutive steps drift 0.3 px, within the cycle check
        copy.save_flow(k, k + 1, copy.load_flow(k, k + 1) + [0.3, 0.0])
    for k in range(clip.num_frames - 2):  # steps of two frames land 20 px off, round trips still exact
        copy.save_flow(k, k + 2, copy.load_flow(k, k + 2) + [20.0, 0.0])
        copy.save_flow(k + 2, k, copy.load_flow(k + 2, k) - [20.0, 0.0])
    two_apart = np.arange(clip.num_frames)[None] - queries[:, :1] == 2
    fooled = flow_evidence(copy, queries, with_points=True)
    wrong = two_apart & fooled.reliable & (np.abs(fooled.points - gt)[..., 0] > 19)
    assert wrong.sum() > 10  # without the model, the self-consistent wrong step wins
    checked = flow_evidence(copy, queries, with_points=True, model=gt)
    assert (two_apart & checked.reliable).sum() >= wrong.sum()
    np.testing.assert_allclose(checked.points[two_apart & checked.reliable], gt[two_apart & checked.reliable],
                               atol=0.7)  # two biased consecutive steps


def test_where_every_path_broke_the_point_stays_visible_only_where_the_model_and_the_flow_agree(exact, tmp_path):
    import shutil

    clip, data, queries, gt, gt_occluded = exact
    copy = type(data)(shutil.copytree(data.root, tmp_path / "cut"))
    for late in range(2, clip.num_frames):  # every step from frames 0-1 to later frames misses by 5 px
        for early in (0, 1):
            copy.save_flow(late, early, copy.load_flow(late, early) + [5.0, 0.0])
    rows = queries[:, 0] == 0
    later = np.arange(clip.num_frames) >= 3  # frame 2: the cut step itself
    sees_everything = Tracks(gt, np.zeros_like(gt_occluded), queries, data.image_hw)
    fixed = apply_flow_evidence(sees_everything, copy, "positions")
    assert fixed.occluded[rows, 2].all()
    # visible where no occlusion came in between (a broken path cannot find a point again), else occluded
    hidden_since = np.logical_or.accumulate(gt_occluded[rows], axis=1)[:, later]
    assert (hidden_since & ~gt_occluded[rows][:, later]).any()
    np.testing.assert_array_equal(fixed.occluded[rows][:, later], hidden_since)
    seen = ~hidden_since
    np.testing.assert_allclose(fixed.tracks[rows][:, later][seen], gt[rows][:, later][seen], atol=0.05)
    hides_everything = Tracks(gt, ~np.eye(clip.num_frames, dtype=bool)[queries[:, 0].astype(int)], queries,
                              data.image_hw)
    assert apply_flow_evidence(hides_everything, copy, "positions").occluded[rows][:, 2:].all()


def test_tracks_of_a_resized_video_are_corrected_in_its_pixels(exact):
    clip, data, queries, gt, gt_occluded = exact
    video_hw = (2 * data.image_hw[0], 3 * data.image_hw[1])
    big = queries.copy()
    big[:, 1:] = resize_points(queries[:, 1:], data.image_hw, video_hw)
    fixed = apply_flow_evidence(stuck_everywhere_hidden(big, clip.num_frames, video_hw), data, "positions")
    visible = ~gt_occluded
    np.testing.assert_allclose(fixed.tracks[visible], resize_points(gt, data.image_hw, video_hw)[visible], atol=0.15)
    np.testing.assert_array_equal(fixed.occluded, gt_occluded)


def test_bad_calls_fail(exact):
    clip, data, queries, gt, gt_occluded = exact
    assert flow_evidence(data, queries).points is None
    stuck = stuck_everywhere_hidden(queries, clip.num_frames, data.image_hw)
    with pytest.raises(ValueError, match="is not one of none, visibility, positions"):
        apply_flow_evidence(stuck, data, "snap")
    short = Tracks(stuck.tracks[:1, :5], stuck.occluded[:1, :5], queries[:1], data.image_hw)
    with pytest.raises(ValueError, match="tracks have 5 frames"):
        apply_flow_evidence(short, data, "visibility")
