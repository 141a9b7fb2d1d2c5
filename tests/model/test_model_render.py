"""Pure ray math: sampling, projection, contraction, compositing and occlusion, with hand-worked values."""

import math

import pytest
import torch

from omnimotion.model.render import (alpha_composite, composite, contract, depth_range_mask, occlusion_eps,
                                     occlusion_score_from_weights, project, sample_ray_depths, select_max_weight,
                                     unproject)


def test_deterministic_depths_are_linspace():
    z = sample_ray_depths(3, 5, 0.0, 2.0, stratified=False)
    assert z.shape == (3, 5)
    torch.testing.assert_close(z[1], torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0]))


def test_stratified_depths_stay_in_their_strata():
    g = torch.Generator().manual_seed(3)
    z = sample_ray_depths(2000, 5, 0.0, 2.0, stratified=True, generator=g)
    # grid 0, .5, 1, 1.5, 2 -> strata [0,.25], [.25,.75], [.75,1.25], [1.25,1.75], [1.75,2]
    lower = torch.tensor([0.0, 0.25, 0.75, 1.25, 1.75])
    upper = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.0])
    assert (z >= lower).all() and (z <= upper).all()
    # uniform within each stratum: the mean is the stratum centre
    torch.testing.assert_close(z.mean(0), (lower + upper) / 2, atol=0.02, rtol=0)
    again = sample_ray_depths(2000, 5, 0.0, 2.0, stratified=True, generator=torch.Generator().manual_seed(3))
    assert torch.equal(z, again)


def test_unproject_then_project_round_trip():
    pixels = torch.tensor([[0.0, 0.0], [79.0, 59.0], [12.5, 30.25]])
    depths = torch.tensor([[0.0, 1.0], [0.5, 2.0], [1.5, 0.25]])
    x = unproject(pixels, depths, height=60, width=80)
    assert x.shape == (3, 2, 3)
    torch.testing.assert_close(x[0, 0], torch.tensor([-1.0, -1.0, 0.0]))   # top-left centre -> (-1, -1)
    torch.testing.assert_close(x[1, 1], torch.tensor([1.0, 1.0, 2.0]))     # bottom-right centre -> (1, 1)
    px, z = project(x, height=60, width=80)
    torch.testing.assert_close(px, pixels[:, None].expand(-1, 2, -1))
    torch.testing.assert_close(z, depths)


def test_contraction_values_and_finite_gradients():
    u = torch.tensor([[0.0, 0.0, 0.0], [0.3, -0.4, 0.0], [0.0, 4.0, 0.0], [1.0, 0.0, 0.0]], requires_grad=True)
    out = contract(u)
    torch.testing.assert_close(out[1], u[1])                                # inside the unit ball: unchanged
    torch.testing.assert_close(out[2], torch.tensor([0.0, 1.75, 0.0]))      # (2 - 1/4) * (0, 1, 0)
    torch.testing.assert_close(out[3], torch.tensor([1.0, 0.0, 0.0]))       # continuous at ||u|| = 1
    out.sum().backward()
    assert torch.isfinite(u.grad).all()
    assert contract(torch.randn(1000, 3) * 100).norm(dim=-1).max() < 2.0


def test_alpha_composite_hand_values():
    # density 0, ln 2, ln 2 -> alpha 0, 1/2, 1/2 -> T 1, 1, 1/2 -> w 0, 1/2, 1/4
    w = alpha_composite(torch.tensor([[0.0, math.log(2), math.log(2)]]))
    torch.testing.assert_close(w, torch.tensor([[0.0, 0.5, 0.25]]))
    # mask_near zeroes the nearest alphas: the first sample no longer absorbs
    w = alpha_composite(torch.tensor([[math.log(2), math.log(2)]]), num_masked_near=1)
    torch.testing.assert_close(w, torch.tensor([[0.0, 0.5]]))


def test_concentrated_density_composites_to_that_sample():
    k, hit = 8, 5
    density = torch.zeros(4, k)
    density[:, hit] = 60.0
    density[:, hit + 1:] = 3.0        # things behind the surface are hidden by it
    w = alpha_composite(density)
    torch.testing.assert_close(w.sum(-1), torch.ones(4), atol=1e-6, rtol=0)
    values = torch.randn(4, k, 3)
    torch.testing.assert_close(composite(w, values), values[:, hit], atol=1e-5, rtol=0)
    torch.testing.assert_close(select_max_weight(w, values), values[:, hit])


def test_composite_does_not_renormalise():
    w = torch.tensor([[0.25, 0.25]])
    values = torch.tensor([[[2.0], [4.0]]])
    torch.testing.assert_close(composite(w, values), torch.tensor([[1.5]]))


def test_depth_range_mask():
    z = torch.tensor([-0.01, 0.0, 1.0, 2.0, 2.01])
    torch.testing.assert_close(depth_range_mask(z, 0.0, 2.0), torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0]))


def test_occlusion_score_in_front_visible_behind_occluded():
    k = 32
    z = sample_ray_depths(2, k, 0.0, 2.0, stratified=False)
    w = torch.zeros(2, k)
    w[:, 16] = 1.0                      # the only dense sample, at z_16 = 32/31
    eps = occlusion_eps(0.0, 2.0, k)
    assert eps == pytest.approx(0.06875)
    point_depth = torch.tensor([z[0, 16] - 0.3, z[0, 16] + 0.3])
    score = occlusion_score_from_weights(w, z, point_depth, eps)
    torch.testing.assert_close(score, torch.tensor([0.0, 1.0]))
    # a point on the surface itself is not occluded by it (the eps margin)
    assert occlusion_score_from_weights(w[:1], z[:1], z[:1, 16], eps).item() == 0.0
