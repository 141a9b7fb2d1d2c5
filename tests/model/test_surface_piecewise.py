"""Monotonic piecewise-linear maps: identity at zero, exact inverse, monotonic, finite gradients at knots."""

import math

import pytest
import torch

from omnimotion.model.surface.piecewise import (knots_from_raw, monotone_interp, num_raw_params,
                                                piecewise_forward, piecewise_inverse)

K = 8
LO, HI = -1.25, 1.25


def _random_knots(n: int, seed: int = 0, scale: float = 2.0):
    gen = torch.Generator().manual_seed(seed)
    raw = torch.randn(n, num_raw_params(K), generator=gen) * scale
    return knots_from_raw(raw, LO, HI)


def test_zero_parameters_give_the_identity_inside_and_in_the_tails():
    x_knots, y_knots = knots_from_raw(torch.zeros(5, num_raw_params(K)), LO, HI)
    x = torch.tensor([-7.0, -1.25, -0.3, 0.0, 3.9])
    torch.testing.assert_close(piecewise_forward(x, x_knots, y_knots), x, atol=1e-6, rtol=0)


def test_uniform_bins_are_the_affine_coupling_about_the_interval_centre():
    # raw: equal width/slope logits, log-scale 0.5 -> s = tanh(0.5) (max_log_scale 1), shift 0.3.
    # Uniform bins => y = c + shift + exp(s) * (x - c) with c = 0 (centre of [-1.25, 1.25]), everywhere.
    raw = torch.zeros(1, num_raw_params(K))
    raw[0, 2 * K], raw[0, 2 * K + 1] = 0.5, 0.3
    x_knots, y_knots = knots_from_raw(raw, LO, HI)
    x = torch.tensor([-4.0, -1.0, 0.2, 1.25, 6.0])
    expected = 0.3 + math.exp(math.tanh(0.5)) * x
    got = piecewise_forward(x, x_knots.expand(5, -1), y_knots.expand(5, -1))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_inverse_of_forward_is_identity_on_random_parameters():
    n = 20000
    x_knots, y_knots = _random_knots(n)
    x = torch.randn(n, generator=torch.Generator().manual_seed(1)) * 2  # inside and well into both tails
    y = piecewise_forward(x, x_knots, y_knots)
    assert (piecewise_inverse(y, x_knots, y_knots) - x).abs().max() < 1e-5
    # and the other way round
    assert (piecewise_forward(piecewise_inverse(x, x_knots, y_knots), x_knots, y_knots) - x).abs().max() < 1e-5


def test_knots_map_onto_knots():
    x_knots, y_knots = _random_knots(100)
    for k in range(K + 1):
        torch.testing.assert_close(piecewise_forward(x_knots[:, k], x_knots, y_knots), y_knots[:, k],
                                   atol=2e-6, rtol=0)
        torch.testing.assert_close(piecewise_inverse(y_knots[:, k], x_knots, y_knots), x_knots[:, k],
                                   atol=2e-6, rtol=0)


def test_strictly_increasing_everywhere_with_bounded_slopes():
    n_maps, n_pts = 200, 400
    x_knots, y_knots = _random_knots(n_maps, seed=3, scale=5.0)  # saturate the tanh clamps
    x = torch.linspace(-5, 5, n_pts)
    y = piecewise_forward(x.repeat(n_maps), x_knots.repeat_interleave(n_pts, 0),
                          y_knots.repeat_interleave(n_pts, 0)).view(n_maps, n_pts)
    slopes = y.diff(dim=1) / x.diff()
    # every slope lies in [exp(-(1 + 1.5)), exp(1 + 1.5)] (max_log_scale + max_log_slope)
    assert slopes.min() > math.exp(-2.5) * 0.999
    assert slopes.max() < math.exp(2.5) * 1.001
    assert (x_knots.diff(dim=1) > 0).all() and (y_knots.diff(dim=1) > 0).all()


def test_gradients_are_finite_exactly_at_breakpoints():
    raw = (torch.randn(64, num_raw_params(K), generator=torch.Generator().manual_seed(4)) * 2).requires_grad_()
    x_knots, y_knots = knots_from_raw(raw, LO, HI)
    for k in range(K + 1):
        query = x_knots[:, k].detach().clone().requires_grad_()  # exactly on the breakpoint
        y = piecewise_forward(query, x_knots, y_knots)
        x_back = piecewise_inverse(y, x_knots, y_knots)
        grad_raw, grad_query = torch.autograd.grad((y.sum() + x_back.sum()), (raw, query),
                                                   retain_graph=True)
        assert torch.isfinite(grad_raw).all() and torch.isfinite(grad_query).all()
        # d y / d query at a knot is the slope of the segment to its right (or of the last one at x_K)
        seg = min(k, K - 1)
        right_slope = (y_knots[:, seg + 1] - y_knots[:, seg]) / (x_knots[:, seg + 1] - x_knots[:, seg])
        dy = torch.autograd.grad(piecewise_forward(query, x_knots, y_knots).sum(), query)[0]
        torch.testing.assert_close(dy, right_slope.detach(), atol=1e-4, rtol=1e-4)


def test_fast_interpolation_matches_a_naive_loop():
    x_knots, y_knots = _random_knots(50, seed=5)
    queries = torch.randn(50, generator=torch.Generator().manual_seed(6)) * 2
    fast = monotone_interp(queries, x_knots, y_knots)
    for i in range(50):
        xs, ys, q = x_knots[i].tolist(), y_knots[i].tolist(), float(queries[i])
        seg = 0
        while seg < K - 1 and q >= xs[seg + 1]:
            seg += 1
        expected = ys[seg] + (ys[seg + 1] - ys[seg]) / (xs[seg + 1] - xs[seg]) * (q - xs[seg])
        assert abs(float(fast[i]) - expected) < 1e-5


def test_wrong_parameter_count_is_rejected():
    with pytest.raises(ValueError, match="2K\\+2"):
        knots_from_raw(torch.zeros(3, 7), LO, HI)
