"""The fused training forward equals the model's own correspondence and mapping calls."""

import torch

from omnimotion.model import ModelConfig, OmniMotionModel
from omnimotion.train.forward import training_forward
from omnimotion.train.sampler import CorrespondenceBatch


def test_fused_forward_matches_correspondences_and_map_between():
    torch.manual_seed(0)
    model = OmniMotionModel(ModelConfig(num_samples_ray=6, nvp_hidden=32, canonical_hidden=32, time_hidden=32,
                                        code_dim=16, affine_num_layers=2), num_frames=6, image_hw=(20, 24))
    n = 10
    pts_i = torch.rand(n, 2) * torch.tensor([23.0, 19.0])
    frame_i = torch.tensor([0, 1, 2, 3, 4, 5, 1, 2, 3, 4])
    frame_j = torch.tensor([1, 3, 0, 5, 2, 4, 2, 4, 1, 0])
    batch = CorrespondenceBatch(frame_i, frame_j, pts_i, pts_i + 1, torch.rand(n, 3), torch.rand(n, 3),
                                torch.ones(n), torch.ones(n, dtype=torch.bool))
    smooth = torch.tensor([1, 2, 7])  # source frames 1, 2, 2: both neighbours exist
    fused = training_forward(model, batch, smooth, generator=torch.Generator().manual_seed(5))
    corr = model.correspondences(pts_i, frame_i, frame_j, stratified=True,
                                 generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(fused.pred_j, corr.points_j)
    torch.testing.assert_close(fused.ray_weights, corr.weights)
    torch.testing.assert_close(fused.mapped_depths, corr.samples_j[..., 2])
    torch.testing.assert_close(fused.pred_rgb_i, corr.rgb_i)
    torch.testing.assert_close(fused.ray_depths, corr.ray_depths)
    x = corr.samples_i[smooth]
    torch.testing.assert_close(fused.smooth_x, x)
    torch.testing.assert_close(fused.smooth_prev, model.map_between(x, frame_i[smooth], frame_i[smooth] - 1))
    torch.testing.assert_close(fused.smooth_next, model.map_between(x, frame_i[smooth], frame_i[smooth] + 1))
