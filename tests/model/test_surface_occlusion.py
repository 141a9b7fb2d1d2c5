"""The depth test: a point behind a nearer surface is occluded, a point on the surface is visible."""

import numpy as np
import torch

from omnimotion.model.surface import SurfaceModel, SurfaceModelConfig
from omnimotion.model.surface.occlusion import depth_gap, depth_test_occluded, depth_test_score


def test_pure_depth_test_on_hand_worked_values():
    depth_j = torch.tensor([1.50, 1.50, 1.52, 0.40, 1.00])
    surface = torch.tensor([0.50, 1.50, 1.50, 1.00, 1.00])
    inside = torch.tensor([True, True, True, True, False])
    # gaps 1.0 (far behind), 0 (on it), 0.02 (within tolerance 0.05), -0.6 (in front), outside the image
    torch.testing.assert_close(depth_gap(depth_j, surface), torch.tensor([1.0, 0.0, 0.02, -0.6, 0.0]))
    assert depth_test_occluded(depth_j, surface, inside, 0.05).tolist() == [True, False, False, False, True]
    score = depth_test_score(depth_j, surface, inside, 0.05, softness=0.01)
    assert ((score > 0.5) == depth_test_occluded(depth_j, surface, inside, 0.05)).all()
    assert score[4] == 1.0 and score[0] > 0.999 and score[3] < 1e-6


def _scene_with_occluder() -> SurfaceModel:
    """Frame 0: flat background at depth 1.5. Frame 1: same background with a near square (depth 0.5)
    over pixels x, y in [8, 23] of a 32 x 32 image; identity bijection (nothing moves)."""
    cfg = SurfaceModelConfig(depth_grid_size=32, depth_tolerance=0.05)
    model = SurfaceModel(cfg, num_frames=2, image_hw=(32, 32))
    depth = torch.full((2, 32, 32), 1.5)
    depth[1, 8:24, 8:24] = 0.5
    model.init_depth(depth.numpy())
    return model


def test_model_flags_a_point_behind_a_nearer_surface_and_keeps_a_visible_one():
    model = _scene_with_occluder()
    pts = torch.tensor([[16.0, 16.0], [3.0, 28.0], [16.0, 16.0]])
    corr = model.correspondences(pts, torch.tensor([0, 0, 1]), torch.tensor([1, 1, 0]))
    torch.testing.assert_close(corr.points_j, pts)  # identity bijection
    torch.testing.assert_close(corr.depth_j, torch.tensor([1.5, 1.5, 0.5]), atol=1e-3, rtol=0)
    score = model.occlusion_score(corr.points_j, corr.depth_j, torch.tensor([1, 1, 0]))
    # background point behind the square in frame 1 -> occluded; background point beside it -> visible;
    # the square's own point seen in frame 0 lies in front of the background there -> visible
    assert (score > model.cfg.occlusion_th).tolist() == [True, False, False]
    torch.testing.assert_close(corr.surface_depth_j, torch.tensor([0.5, 1.5, 1.5]), atol=1e-3, rtol=0)


def test_model_flags_points_that_leave_the_image():
    model = _scene_with_occluder()
    pts_j = torch.tensor([[-0.5, 10.0], [31.5, 10.0], [31.0, 31.0]])
    score = model.occlusion_score(pts_j, torch.full((3,), 1.5), torch.tensor([0, 0, 0]))
    assert (score > model.cfg.occlusion_th).tolist() == [True, True, False]


def test_tracker_reads_the_depth_test_through_the_model_interface():
    from omnimotion.track.tracker import Tracker

    model = _scene_with_occluder()
    tracker = Tracker(model)  # takes occlusion_th from model.cfg (0.5: exactly the hard depth test)
    assert tracker.occlusion_th == model.cfg.occlusion_th
    tracks = tracker(np.array([[0, 16.0, 16.0], [0, 3.0, 28.0]], np.float32))
    np.testing.assert_allclose(tracks.tracks[:, 1], [[16.0, 16.0], [3.0, 28.0]], atol=1e-3)
    # the background point under the square is hidden in frame 1 only; the other one never
    assert tracks.occluded.tolist() == [[False, True], [False, False]]
