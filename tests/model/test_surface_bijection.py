"""SurfaceBijection: identity at initialisation, exact inverse with random grids, time conditioning."""

import pytest
import torch

from omnimotion.model.surface.bijection import SurfaceBijection
from omnimotion.model.surface.piecewise import knots_from_raw

NUM_FRAMES = 6


def _points(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.rand(n, 2, generator=gen) * 2 - 1, torch.rand(n, 1, generator=gen) * 2], dim=1)
    return x, torch.randint(0, NUM_FRAMES, (n,), generator=gen)


def _randomise(bijection: SurfaceBijection, head_std: float, seed: int = 1) -> None:
    """Non-zero heads (the grids are already random): a genuinely deforming bijection."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in bijection.layers:
            layer.head.weight.copy_(torch.randn(layer.head.weight.shape, generator=gen) * head_std)
            layer.head.bias.copy_(torch.randn(layer.head.bias.shape, generator=gen) * head_std)


def test_identity_at_initialisation():
    bijection = SurfaceBijection(NUM_FRAMES)
    x, t = _points(500)
    torch.testing.assert_close(bijection(x, t), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(bijection.inverse(x, t), x, atol=1e-6, rtol=0)


def test_round_trip_is_exact_in_float64_for_a_strong_deformation():
    bijection = SurfaceBijection(NUM_FRAMES).double()
    _randomise(bijection, head_std=0.3)
    x, t = _points(2000)
    x = x.double()
    u = bijection(x, t)
    assert (u - x).abs().mean() > 0.2  # not a near-identity
    assert (bijection.inverse(u, t) - x).abs().max() < 1e-9


def test_round_trip_in_float32_for_a_moderate_deformation():
    # float32 rounding is amplified by the conditioners' slopes through the 6 layers, so the bound
    # depends on how rough the fields are: ~1e-4 normalised (0.013 px at 256 px) at this amplitude
    bijection = SurfaceBijection(NUM_FRAMES)
    _randomise(bijection, head_std=0.1)
    x, t = _points(2000)
    u = bijection(x, t)
    assert (u - x).abs().mean() > 0.05
    assert (bijection.inverse(u, t) - x).abs().max() < 1e-4


def test_each_layer_keeps_its_conditioning_coordinates():
    bijection = SurfaceBijection(NUM_FRAMES)
    _randomise(bijection, head_std=0.1)
    x, t = _points(100)
    tau = bijection._time_features(t)
    for index, layer in enumerate(bijection.layers):
        y = layer(x, tau[index])
        torch.testing.assert_close(y[:, list(layer.kept)], x[:, list(layer.kept)], atol=0, rtol=0)
        assert (y[:, layer.dim] - x[:, layer.dim]).abs().max() > 1e-3


def test_the_map_depends_on_the_frame():
    bijection = SurfaceBijection(NUM_FRAMES)
    _randomise(bijection, head_std=0.1)
    x, _ = _points(100)
    u0 = bijection(x, torch.zeros(100, dtype=torch.long))
    u5 = bijection(x, torch.full((100,), 5))
    assert (u0 - u5).abs().mean() > 1e-2


def test_heads_learn_first_then_everything_receives_gradients():
    # zero heads: at step 0 only the heads of layers whose output the loss sees get a gradient (an image
    # motion target has no z component, so the z-layers' heads get none yet; documented in the module).
    # After one optimiser step every head and time feature receives a gradient, after two every plane.
    bijection = SurfaceBijection(NUM_FRAMES)
    x, t = _points(256)
    target = x[:, :2] + torch.tensor([0.1, -0.05])
    optimiser = torch.optim.Adam(bijection.parameters(), lr=1e-2)
    (bijection(x, t)[:, :2] - target).abs().mean().backward()
    for layer in bijection.layers:
        assert (layer.head.weight.grad.abs().sum() > 0) == (layer.dim != 2)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in bijection.time.parameters())
    optimiser.step()
    optimiser.zero_grad()
    (bijection(x, t)[:, :2] - target).abs().mean().backward()
    assert all(layer.head.weight.grad.abs().sum() > 0 for layer in bijection.layers)
    assert all(p.grad.abs().sum() > 0 for p in bijection.time.parameters())
    optimiser.step()
    optimiser.zero_grad()
    (bijection(x, t)[:, :2] - target).abs().mean().backward()
    assert all(p.grad.abs().sum() > 0 for layer in bijection.layers for p in layer.planes.parameters())


def test_frame_index_out_of_range_is_an_error():
    bijection = SurfaceBijection(NUM_FRAMES)
    x, _ = _points(3)
    with pytest.raises(IndexError, match=r"\[0, 5\]"):
        bijection(x, torch.tensor([0, 6, 1]))


def test_without_the_space_time_product_the_bijection_is_still_exact():
    bijection = SurfaceBijection(NUM_FRAMES, space_time_product=False).double()
    assert bijection.layers[0].head.in_features == 2 * bijection.channels
    _randomise(bijection, head_std=0.3)
    x, t = _points(500)
    u = bijection(x.double(), t)
    assert (u - x).abs().mean() > 0.1
    assert (bijection.inverse(u, t) - x).abs().max() < 1e-9


def test_blockwise_head_equals_the_head_on_concatenated_features():
    bijection = SurfaceBijection(NUM_FRAMES)
    _randomise(bijection, head_std=0.2)
    layer = bijection.layers[1]
    x, t = _points(50)
    tau = bijection._time_features(t)[1]
    space = layer.planes((x[:, list(layer.kept)] - layer.kept_centre) / layer.kept_half)
    raw = layer.head(torch.cat([space * tau, space, tau], dim=1))
    expected = knots_from_raw(raw, *layer.bounds[layer.dim])
    got = layer.knots(x, tau)
    torch.testing.assert_close(got[0], expected[0])
    torch.testing.assert_close(got[1], expected[1])
