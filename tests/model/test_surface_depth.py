"""Per-frame depth grids and the scaling of user depth maps."""

import numpy as np
import pytest
import torch

from omnimotion.coords import pixel_grid
from omnimotion.model.surface.depth import FrameDepth, depth_grid_shape, normalize_depth_maps

H, W = 12, 16


def test_flat_initialisation_is_mid_range():
    depth = FrameDepth(3, (H, W), (4, 5), depth_range=(0.0, 2.0))
    torch.testing.assert_close(depth.render(1), torch.ones(H, W))
    pts = torch.tensor([[0.0, 0.0], [15.0, 11.0], [7.3, 4.1]])
    torch.testing.assert_close(depth.depth_at(pts, torch.tensor([0, 1, 2])), torch.ones(3))


def test_point_lookup_agrees_with_the_rendered_map_at_pixel_centres():
    depth = FrameDepth(2, (H, W), (4, 5))
    with torch.no_grad():
        depth.logits.normal_()
    grid = torch.from_numpy(pixel_grid(H, W)).reshape(-1, 2)
    for frame in (0, 1):
        at = depth.depth_at(grid, torch.full((H * W,), frame)).view(H, W)
        torch.testing.assert_close(at, depth.render(frame), atol=1e-5, rtol=0)
    # the frames are independent: frame 1's lookup never reads frame 0's cells
    assert not torch.allclose(depth.render(0), depth.render(1))


def test_set_from_maps_reproduces_a_smooth_depth_ramp():
    ramp = np.broadcast_to(np.linspace(0.5, 1.5, W, dtype=np.float32), (H, W))
    maps = np.stack([ramp, ramp[:, ::-1]])
    depth = FrameDepth(2, (H, W), (6, 8))
    depth.set_from_maps(maps)
    # a linear ramp survives area-downsampling + bilinear upsampling up to the ramp's step at the ends
    assert np.abs(depth.render(0).detach().numpy() - maps[0]).max() < 0.05
    assert np.abs(depth.render(1).detach().numpy() - maps[1]).max() < 0.05
    with pytest.raises(ValueError, match="expected"):
        depth.set_from_maps(maps[:1])


def test_depth_grid_shape_follows_the_longer_side():
    assert depth_grid_shape((256, 256), 32) == (32, 32)
    assert depth_grid_shape((240, 480), 32) == (16, 32)
    assert depth_grid_shape((8, 10), 32) == (8, 10)  # never more cells than pixels


def test_normalize_depth_maps_keeps_order_and_inner_range():
    # values 1..5 with percentiles (0, 100) -> [0.2, 1.8] (margin 0.1 of [0, 2]): 1 -> 0.2, 3 -> 1.0, 5 -> 1.8
    maps = np.array([[[1.0, 3.0, 5.0]]], np.float32)
    got = normalize_depth_maps(maps, (0.0, 2.0), margin=0.1, percentiles=(0.0, 100.0))
    np.testing.assert_allclose(got, [[[0.2, 1.0, 1.8]]], atol=1e-6)
    # disparity: larger = nearer, so the order flips
    flipped = normalize_depth_maps(maps, (0.0, 2.0), margin=0.1, is_disparity=True, percentiles=(0.0, 100.0))
    np.testing.assert_allclose(flipped, [[[1.8, 1.0, 0.2]]], atol=1e-6)
    np.testing.assert_allclose(normalize_depth_maps(np.full((2, 2, 2), 7.0)), 1.0)
