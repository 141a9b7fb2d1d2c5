import numpy as np
import pytest
from track_doubles import FRAMES, HEIGHT, WIDTH, LayeredClipModel, translating_clip

from omnimotion.coords import resize_points
from omnimotion.track.queries import QueryError, grid_queries
from omnimotion.track.tracker import Tracker


def _mixed_queries(clip):
    """A grid at frames 0, 5 and 11: some on the square, some behind its path, some leaving the frame."""
    queries = np.concatenate([grid_queries((HEIGHT, WIDTH), 5, frame=f) for f in (0, 5, 11)])
    on_square = clip.visible_layer(0, queries[:, 1:]) == 1
    assert on_square.any() and (~on_square).any()
    return queries


def test_tracks_follow_ground_truth_and_occlusion():
    clip = translating_clip()
    queries = _mixed_queries(clip)
    tracks = Tracker(LayeredClipModel(clip), chunk_size=500, progress=False)(queries)
    gt_tracks, gt_occluded = clip.track(queries)
    assert tracks.tracks.shape == (len(queries), FRAMES, 2) and tracks.image_hw == (HEIGHT, WIDTH)
    np.testing.assert_allclose(tracks.tracks, gt_tracks, atol=1e-3)
    # the clip has both kinds of frames: hidden behind the square and out of frame (background drifts right)
    assert gt_occluded.sum() > 50 and (~gt_occluded).sum() > 1000
    # flagged occluded in (here: all) occluded frames, visible in all visible ones
    assert np.mean(tracks.occluded[gt_occluded]) > 0.99
    assert np.mean(~tracks.occluded[~gt_occluded]) > 0.99


def test_query_frame_equals_query_and_is_visible():
    clip = translating_clip()
    # a model 0.3 px off everywhere: every frame but the query frame shows the bias
    queries = _mixed_queries(clip)
    tracks = Tracker(LayeredClipModel(clip, bias_px=0.3), progress=False)(queries)
    rows, frames = np.arange(len(queries)), queries[:, 0].astype(int)
    np.testing.assert_array_equal(tracks.tracks[rows, frames], queries[:, 1:])
    assert not tracks.occluded[rows, frames].any()
    gt, _ = clip.track(queries)
    other = np.ones(tracks.occluded.shape, bool)
    other[rows, frames] = False
    np.testing.assert_allclose(tracks.tracks[other] - gt[other], 0.3, atol=1e-3)


def test_forward_then_backward_returns_to_query():
    clip = translating_clip()
    tracker = Tracker(LayeredClipModel(clip), progress=False)
    queries = grid_queries((HEIGHT, WIDTH), 7, frame=0)
    forward = tracker(queries)
    last = FRAMES - 1
    keep = ~forward.occluded[:, last]
    back_queries = np.concatenate([np.full((keep.sum(), 1), last, np.float32), forward.tracks[keep, last]], 1)
    backward = tracker(back_queries)
    assert keep.sum() > 10
    np.testing.assert_allclose(backward.tracks[:, 0], queries[keep, 1:], atol=1e-3)


def test_chunking_does_not_change_results_and_bounds_calls():
    clip = translating_clip()
    queries = _mixed_queries(clip)
    small_model = LayeredClipModel(clip)
    small = Tracker(small_model, chunk_size=37, progress=False)(queries)
    big = Tracker(LayeredClipModel(clip), chunk_size=10**6, progress=False)(queries)
    np.testing.assert_array_equal(small.tracks, big.tracks)
    np.testing.assert_array_equal(small.occluded, big.occluded)
    assert small_model.largest_call == 37


def test_output_in_original_video_pixels():
    clip = translating_clip()
    # the model was fitted on a 2x smaller video: queries and tracks are in the big video's pixels
    big_hw = (2 * HEIGHT, 2 * WIDTH)
    model_queries = np.array([[0, 10.0, 20.0], [4, 50.0, 7.5]], np.float32)
    big_queries = model_queries.copy()
    big_queries[:, 1:] = resize_points(model_queries[:, 1:], (HEIGHT, WIDTH), big_hw)
    tracks = Tracker(LayeredClipModel(clip), output_hw=big_hw, progress=False)(big_queries)
    gt, _ = clip.track(model_queries)
    assert tracks.image_hw == big_hw
    np.testing.assert_allclose(tracks.tracks, resize_points(gt, (HEIGHT, WIDTH), big_hw), atol=1e-3)
    with pytest.raises(QueryError, match="outside"):  # (130, 10) is inside the big frame only up to x=127
        Tracker(LayeredClipModel(clip), output_hw=big_hw)(np.array([[0, 130.0, 10.0]]))


def test_occlusion_threshold_is_strict():
    clip = translating_clip()
    # scores are exactly 1.0 behind the square: a threshold of 1.0 flags only out-of-frame points
    queries = _mixed_queries(clip)
    tracks = Tracker(LayeredClipModel(clip), occlusion_th=1.0, progress=False)(queries)
    out_of_frame = ((tracks.tracks < 0) | (tracks.tracks > [WIDTH - 1, HEIGHT - 1])).any(-1)
    np.testing.assert_array_equal(tracks.occluded, out_of_frame)


def test_bad_queries_are_rejected_with_a_clear_error():
    clip = translating_clip()
    tracker = Tracker(LayeredClipModel(clip), progress=False)
    with pytest.raises(QueryError, match=r"frame 12; the video has frames 0\.\.11"):
        tracker(np.array([[12, 3.0, 3.0]]))
    with pytest.raises(QueryError, match="outside the 64x48 frame"):
        tracker(np.array([[0, 3.0, 48.0]]))
    with pytest.raises(ValueError, match="chunk_size"):
        Tracker(LayeredClipModel(clip), chunk_size=0)


def test_queries_on_the_frame_border_are_tracked():
    clip = translating_clip()
    # the four corners of the frame's extent and a left-edge point (TAP-Vid raster x = 0 and x = W)
    queries = np.array([[0, -0.5, -0.5], [3, WIDTH - 0.5, -0.5], [5, -0.5, HEIGHT - 0.5],
                        [11, WIDTH - 0.5, HEIGHT - 0.5], [2, -0.5, 20.25]], np.float32)
    tracks = Tracker(LayeredClipModel(clip), progress=False)(queries)
    rows, frames = np.arange(len(queries)), queries[:, 0].astype(int)
    np.testing.assert_array_equal(tracks.tracks[rows, frames], queries[:, 1:])
    assert not tracks.occluded[rows, frames].any()
    gt, _ = clip.track(queries)
    np.testing.assert_allclose(tracks.tracks, gt, atol=1e-3)


def test_dense_flow_matches_clip_flow():
    clip = translating_clip()
    tracker = Tracker(LayeredClipModel(clip), chunk_size=1000, progress=False)
    flow = tracker.flow(2, 6)
    gt_flow, gt_occluded = clip.flow(2, 6)
    assert flow.flow.shape == (HEIGHT, WIDTH, 2) and flow.occluded.shape == (HEIGHT, WIDTH)
    np.testing.assert_allclose(flow.flow, gt_flow, atol=1e-3)
    np.testing.assert_array_equal(flow.occluded, gt_occluded)
    same = tracker.flow(3, 3)
    assert not same.flow.any() and not same.occluded.any()


def test_mixed_motion_clip_with_two_sprites_and_an_exit():
    # rotation, zoom, two overlapping sprites and one leaving the frame (synthetic.make_clip "mixed")
    from omnimotion.synthetic import make_clip, sample_queries

    clip = make_clip(num_frames=16, height=48, width=48, num_sprites=2, motion="mixed", seed=4)
    queries = sample_queries(clip, 120, seed=1, mode="strided")
    tracks = Tracker(LayeredClipModel(clip), chunk_size=999, progress=False)(queries)
    gt_tracks, gt_occluded = clip.track(queries)
    np.testing.assert_allclose(tracks.tracks, gt_tracks, atol=1e-2)
    assert gt_occluded.mean() > 0.05
    assert np.mean(tracks.occluded == gt_occluded) > 0.99




def test_fast_path_matches_model_correspondences():
    # the source-ray reuse with a real (randomly initialised) OmniMotionModel gives what
    # model.correspondences(use_max_loc=True) + occlusion_score give, pair by pair
    import torch

    from omnimotion.model import ModelConfig, OmniMotionModel

    torch.manual_seed(0)
    cfg = ModelConfig(num_samples_ray=8, nvp_hidden=32, code_dim=16, time_hidden=32, canonical_hidden=32,
                      num_coupling_layers=3, use_affine=False)
    model = OmniMotionModel(cfg, 5, (24, 30)).eval()
    with torch.no_grad():  # sparser, more varied density: the max-weight sample is not always the nearest
        model.color_mlp.output_linear.bias[3] -= 4.0
        model.color_mlp.output_linear.weight[3] *= 5.0
    queries = np.concatenate([grid_queries((24, 30), 5, frame=f) for f in (0, 3)])
    with torch.no_grad():  # a threshold at the median score, so that both outcomes occur
        pts, frames = torch.from_numpy(queries[:, 1:]), torch.from_numpy(queries[:, 0]).long()
        corr = model.correspondences(pts, frames, 4 - frames, stratified=False, use_max_loc=True)
        threshold = model.occlusion_score(corr.points_j, corr.depth_j, 4 - frames).median().item()
    fast = Tracker(model, chunk_size=64, occlusion_th=threshold, progress=False)(queries)
    slow = Tracker(model, chunk_size=64, occlusion_th=threshold, progress=False, fast=False)(queries)
    np.testing.assert_allclose(fast.tracks, slow.tracks, atol=1e-4)
    assert 0.05 < slow.occluded.mean() < 0.95, "the threshold should split this model's scores"
    assert np.mean(fast.occluded == slow.occluded) > 0.99
    fast_flow = Tracker(model, chunk_size=100, progress=False).flow(1, 4)
    slow_flow = Tracker(model, chunk_size=100, progress=False, fast=False).flow(1, 4)
    np.testing.assert_allclose(fast_flow.flow, slow_flow.flow, atol=1e-4)
