"""GaborNet: the fused forward equals the per-filter definition; the official initialisation and layout."""

import math

import pytest
import torch

from omnimotion.model.gabor import GaborNet


def reference_gabornet(net: GaborNet, x: torch.Tensor) -> torch.Tensor:
    """The textbook MFN recursion with one filter evaluation at a time (the official formulation)."""
    out = net.filters[0](x)
    for filt, lin in zip(net.filters[1:], net.linear):
        out = filt(x) * lin(out)
    return net.output_linear(out)


@pytest.mark.parametrize("in_size,hidden,layers", [(1, 32, 2), (3, 64, 3)])
def test_fused_forward_matches_per_filter_definition(in_size, hidden, layers):
    torch.manual_seed(0)
    net = GaborNet(in_size, hidden, 4, n_layers=layers, alpha=3.0)
    x = torch.rand(7, 5, in_size) * 2 - 1
    out = net(x)
    assert out.shape == (7, 5, 4)
    torch.testing.assert_close(out, reference_gabornet(net, x), rtol=1e-4, atol=1e-6)


def test_single_filter_is_gabor_formula():
    # g(x) = sin(Wx + b) exp(-gamma/2 ||x - mu||^2), worked for one unit at x = mu: the envelope is 1
    torch.manual_seed(0)
    net = GaborNet(3, 8, 4, n_layers=1)
    f = net.filters[0]
    x = f.mu[2:3].detach().clone()
    expected = torch.sin(f.linear(x))[0, 2]
    assert f(x)[0, 2].item() == pytest.approx(expected.item(), abs=1e-6)


def test_official_initialisation_statistics():
    torch.manual_seed(0)
    hidden, layers, alpha, scale = 512, 3, 3.0, 256.0
    net = GaborNet(3, hidden, 4, n_layers=layers, alpha=alpha, input_scale=scale)
    gammas = torch.cat([f.gamma.detach() for f in net.filters])
    # Gamma(shape = alpha / (L+1) = 0.75, rate 1): mean 0.75, variance 0.75
    assert gammas.mean().item() == pytest.approx(0.75, abs=0.06)
    assert gammas.var().item() == pytest.approx(0.75, rel=0.25)
    assert (gammas > 0).all()
    for f in net.filters:
        assert f.mu.min() >= -1 and f.mu.max() <= 1
        assert f.linear.bias.min() >= -math.pi and f.linear.bias.max() <= math.pi
        # weight = U(+-1/sqrt(in)) * 256 / sqrt(4) * sqrt(gamma): dividing by sqrt(gamma) brings it back in range
        unscaled = f.linear.weight / (scale / math.sqrt(layers + 1) * torch.sqrt(f.gamma[:, None]))
        assert unscaled.abs().max().item() <= 1 / math.sqrt(3) + 1e-6
    bound = math.sqrt(1.0 / hidden)
    for lin in net.linear:
        assert lin.weight.abs().max().item() <= bound
        assert lin.weight.abs().max().item() > 0.9 * bound


def test_state_dict_layout_is_official():
    net = GaborNet(1, 16, 8, n_layers=2)
    keys = set(net.state_dict())
    expected = {"output_linear.weight", "output_linear.bias"}
    expected |= {f"linear.{i}.{p}" for i in range(2) for p in ("weight", "bias")}
    expected |= {f"filters.{i}.{p}" for i in range(3) for p in ("linear.weight", "linear.bias", "mu", "gamma")}
    assert keys == expected
    assert net.state_dict()["filters.0.mu"].shape == (16, 1)
    assert net.state_dict()["filters.0.gamma"].shape == (16,)
