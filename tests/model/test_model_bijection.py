"""Bijection: exact inverse, non-singular Jacobian, the fast path against the official formulation, masks."""

import pytest
import torch
import torch.nn.functional as F

from omnimotion.model.bijection import Bijection

AFFINE_VARIANTS = [(False, 8), (True, 8), (True, 2)]   # (use_affine, affine_num_layers)


def _small_bijection(affine: bool, affine_layers: int, seed: int = 0) -> Bijection:
    torch.manual_seed(seed)
    return Bijection(num_layers=6, code_dim=16, hidden=32, num_hidden=3, pe_freq=4, affine=affine,
                     affine_num_layers=affine_layers)


def _inputs(n: int = 40, k: int = 6, frames: int = 4, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, k, 3, generator=g) * 2 - 1
    x[..., 2] += 1                                        # depth in [0, 2]
    codes = torch.randn(frames, 16, generator=g)          # random latents, one per frame
    times = torch.rand(frames, generator=g)
    index = torch.randint(0, frames, (n,), generator=g)
    return x, codes, times, index


# -- a straightforward reference in the official formulation: per-sample codes concatenated to the
# -- positional features, masks on whole points, and the affine step as a 3x3 homogeneous matrix
def _reference_coupling(layer, code, y, inverse):
    mask = layer.mask.reshape(3)
    kept = y[..., mask.bool()]
    angles = kept[..., None] * (torch.pi * 2.0 ** torch.arange(layer.projection.sigma.numel()))
    pe = torch.cat([kept, torch.cat([torch.sin(angles), torch.cos(angles)], -1).flatten(-2)], -1)
    c = F.leaky_relu(layer.projection.proj[0](pe), 0.01)
    st = layer.map_st[0].mlp(torch.cat([code[:, None, :].expand(-1, y.shape[1], -1), c], -1))
    s, t = st[..., :1].clamp(-8, 8), st[..., 1:]
    moved = y * torch.exp(s) + t if inverse else (y - t) * torch.exp(-s)
    return y * mask + (1 - mask) * moved


def _reference_affine(mlp, t, x, inverse):
    z = x[..., 2:]
    angles = z * (torch.pi * 2.0 ** torch.arange(mlp.freqs.numel()))
    pe = torch.stack([torch.sin(angles), torch.cos(angles)], -1).flatten(-2)
    theta = torch.cat([pe, t[:, None, None].expand_as(z), z], -1)
    for layer in mlp.hidden:
        theta = layer(theta)
    a, s1, tx, s2, ty = theta.unbind(-1)
    s1, s2 = torch.exp(s1), torch.exp(s2)
    zeros, ones = torch.zeros_like(a), torch.ones_like(a)
    mat = torch.stack([torch.cos(a) * s1, -torch.sin(a) * s1, tx, torch.sin(a) * s2, torch.cos(a) * s2, ty,
                       zeros, zeros, ones], -1).reshape(*a.shape, 3, 3)
    if inverse:
        mat = torch.linalg.inv(mat)
    xy1 = torch.cat([x[..., :2], torch.ones_like(z)], -1)
    return torch.cat([(mat @ xy1[..., None])[..., :2, 0], z], -1)


def reference_forward(bij: Bijection, x, codes, times):
    """Official-formulation forward with per-point ``codes [n, d]`` and ``times [n]``."""
    if bij.affine_mlp is not None:
        x = _reference_affine(bij.affine_mlp, times, x, inverse=False)
    for layer, projector in zip(bij.layers1, bij.code_projectors):
        x = _reference_coupling(layer, projector(codes), x, inverse=False)
    return x


def reference_inverse(bij: Bijection, u, codes, times):
    for layer, projector in zip(reversed(bij.layers1), reversed(bij.code_projectors)):
        u = _reference_coupling(layer, projector(codes), u, inverse=True)
    if bij.affine_mlp is not None:
        u = _reference_affine(bij.affine_mlp, times, u, inverse=True)
    return u


@pytest.mark.parametrize("affine,affine_layers", AFFINE_VARIANTS)
def test_inverse_of_forward_is_identity(affine, affine_layers):
    bij = _small_bijection(affine, affine_layers)
    x, codes, times, index = _inputs()
    with torch.no_grad():
        u = bij(x, codes, times, index)
        back = bij.inverse(u, codes, times, index)
        forth = bij(bij.inverse(x, codes, times, index), codes, times, index)
    assert (u - x).abs().max() > 0.05                     # the map is not trivially the identity
    torch.testing.assert_close(back, x, atol=1e-5, rtol=0)
    torch.testing.assert_close(forth, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("affine,affine_layers", AFFINE_VARIANTS)
def test_jacobian_is_non_singular(affine, affine_layers):
    bij = _small_bijection(affine, affine_layers)
    x, codes, times, _ = _inputs(n=5, k=1)
    for p in range(5):
        def point_map(v, p=p):
            return bij(v.reshape(1, 1, 3), codes[p % 4:p % 4 + 1], times[p % 4:p % 4 + 1]).reshape(3)
        jac = torch.autograd.functional.jacobian(point_map, x[p, 0])
        assert torch.isfinite(jac).all()
        assert torch.linalg.det(jac).abs().item() > 1e-4


@pytest.mark.parametrize("affine,affine_layers", AFFINE_VARIANTS)
def test_fast_path_matches_official_formulation(affine, affine_layers):
    bij = _small_bijection(affine, affine_layers)
    x, codes, times, index = _inputs()
    u = bij(x, codes, times, index)
    torch.testing.assert_close(u, reference_forward(bij, x, codes[index], times[index]), atol=2e-5, rtol=1e-5)
    back = bij.inverse(u, codes, times, index)
    torch.testing.assert_close(back, reference_inverse(bij, u, codes[index], times[index]), atol=2e-5, rtol=1e-5)
    # gradients agree too (the per-frame split of the first layer is exact)
    grads = torch.autograd.grad(back.square().sum(), list(bij.parameters()), allow_unused=True)
    ref = reference_inverse(bij, reference_forward(bij, x, codes[index], times[index]), codes[index], times[index])
    ref_grads = torch.autograd.grad(ref.square().sum(), list(bij.parameters()), allow_unused=True)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("affine_layers", [8, 2])
def test_shared_sample_depths_take_the_per_frame_affine_path_exactly(affine_layers):
    # deterministic samples: every ray has the same depths, so theta is evaluated per (frame, k) and gathered
    bij = _small_bijection(True, affine_layers)
    x, codes, times, index = _inputs()
    x[..., 2] = torch.linspace(0, 2, x.shape[1])
    with torch.no_grad():
        u = bij(x, codes, times, index)
        torch.testing.assert_close(u, reference_forward(bij, x, codes[index], times[index]), atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(bij.inverse(u, codes, times, index), x, atol=1e-5, rtol=0)


def test_per_frame_codes_equal_per_point_codes():
    bij = _small_bijection(True, 2)
    x, codes, times, index = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(bij(x, codes, times, index), bij(x, codes[index], times[index]))


def test_split_pattern_is_seeded_and_saved():
    bij = _small_bijection(False, 8, seed=5)
    dims = bij.transformed_dims
    assert sorted(dims[:3]) == [0, 1, 2] and sorted(dims[3:]) == [0, 1, 2]   # each coordinate twice
    assert _small_bijection(False, 8, seed=5).transformed_dims == dims
    state = bij.state_dict()
    for layer, dim in enumerate(dims):
        mask = state[f"layers1.{layer}.mask"]
        assert mask.shape == (1, 1, 1, 3) and mask.reshape(3)[dim] == 0 and mask.sum() == 2


def test_loading_a_state_dict_restores_its_split_pattern():
    seeds = iter(range(100))
    source = _small_bijection(False, 8, seed=next(seeds))
    target = _small_bijection(False, 8, seed=next(seeds))
    while target.transformed_dims == source.transformed_dims:
        target = _small_bijection(False, 8, seed=next(seeds))
    target.load_state_dict(source.state_dict())
    assert target.transformed_dims == source.transformed_dims
    x, codes, times, index = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(target(x, codes, times, index), source(x, codes, times, index))


def test_invalid_mask_in_state_dict_is_reported_with_its_key():
    bij = _small_bijection(False, 8)
    state = bij.state_dict()
    state["layers1.3.mask"] = torch.ones(1, 1, 1, 3)
    with pytest.raises(ValueError, match="layers1.3.mask"):
        bij.load_state_dict(state)


def test_official_state_dict_layout():
    bij = _small_bijection(True, 8)
    shapes = {k: tuple(v.shape) for k, v in bij.state_dict().items()}
    assert shapes["layers1.0.map_st.0.mlp.0.weight"] == (32, 16 + 32)   # [code | PE projection] input
    assert shapes["layers1.5.map_st.0.mlp.6.weight"] == (2, 32)
    assert shapes["layers1.0.projection.proj.0.weight"] == (32, 18)     # 2 coords + 2 x 2 x 4 sin/cos
    assert shapes["code_projectors.5.mlp.2.weight"] == (16, 16)
    assert shapes["affine_mlp.hidden.0.0.weight"] == (32, 10)           # [PE(z), t, z]
    assert shapes["affine_mlp.hidden.7.weight"] == (5, 32)
    assert not any(k.endswith("sigma") or k.endswith("freqs") for k in shapes)   # constants are not saved
    assert "affine_mlp.hidden.0.0.weight" not in _small_bijection(False, 8).state_dict()
