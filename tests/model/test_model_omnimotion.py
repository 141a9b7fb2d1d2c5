"""OmniMotionModel: correspondences, occlusion and rendering with known answers, determinism, devices."""

import pytest
import torch

from omnimotion.model import ModelConfig, OmniMotionModel
from omnimotion.model.render import sample_ray_depths

SMALL = dict(num_samples_ray=32, nvp_hidden=32, code_dim=16, time_hidden=32, canonical_hidden=32,
             affine_num_layers=2)
H, W, N_FRAMES = 24, 32, 6


def _model(seed: int = 0, **overrides) -> OmniMotionModel:
    torch.manual_seed(seed)
    return OmniMotionModel(ModelConfig(**{**SMALL, **overrides}), N_FRAMES, (H, W))


def _pixels(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=g) * torch.tensor([W - 1.0, H - 1.0])


def _make_identity_with_wall(model: OmniMotionModel, wall_index: int = 16) -> float:
    """Turn the bijection into the identity and the canonical field into one opaque plane at z = z_wall.

    Zero output layers give s = t = 0 in every coupling layer; without the affine layer M is then exactly the
    identity, so canonical = local coordinates and every ray meets the plane at the same sample.
    """
    with torch.no_grad():
        for layer in model.deform_mlp.layers1:
            layer.map_st[0].linears[-1].weight.zero_()
            layer.map_st[0].linears[-1].bias.zero_()
    z_wall = sample_ray_depths(1, model.cfg.num_samples_ray, 0.0, 2.0, stratified=False)[0, wall_index].item()

    def wall_field(u, apply_contraction=True):
        density = 80.0 * ((u[..., 2] - z_wall).abs() < 0.01).to(u.dtype)
        return density, torch.full_like(u, 0.25)

    model.color_mlp.density_and_rgb = wall_field
    return z_wall


def test_models_built_after_the_same_seed_are_identical():
    a, b, c = _model(seed=7), _model(seed=7), _model(seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


def test_official_default_sizes():
    # parameter counts of the official default architecture (docs/method.md#representation):
    # 167,552 + 2,010,129 + 806,404
    model = OmniMotionModel(ModelConfig(), 10, (H, W))
    counts = [sum(p.numel() for p in getattr(model, name).parameters())
              for name in ("feature_mlp", "deform_mlp", "color_mlp")]
    assert counts == [167_552, 2_010_129, 806_404]
    assert len(model.deform_mlp.affine_mlp.hidden) == 8            # the official accidental depth
    without_affine = OmniMotionModel(ModelConfig(use_affine=False), 10, (H, W))
    assert sum(p.numel() for p in without_affine.deform_mlp.parameters()) == 1_611_276


def test_state_dict_has_only_the_three_official_submodules_and_round_trips():
    model = _model()
    assert {k.split(".")[0] for k in model.state_dict()} == {"feature_mlp", "deform_mlp", "color_mlp"}
    other = _model(seed=3)
    other.load_state_dict(model.state_dict())
    pts, frames = _pixels(5), torch.tensor([0, 1, 2, 3, 4])
    with torch.no_grad():
        a = model.correspondences(pts, frames, frames.flip(0), stratified=False, use_max_loc=True)
        b = other.correspondences(pts, frames, frames.flip(0), stratified=False, use_max_loc=True)
    torch.testing.assert_close(a.points_j, b.points_j)


@pytest.mark.parametrize("use_affine", [True, False])
def test_same_frame_max_loc_returns_the_input_pixels(use_affine):
    model = _model(use_affine=use_affine)
    pts = _pixels(50)
    frames = torch.arange(50) % N_FRAMES
    with torch.no_grad():
        corr = model.correspondences(pts, frames, frames, stratified=False, use_max_loc=True)
    torch.testing.assert_close(corr.points_j, pts, atol=1e-4, rtol=0)
    # float64 pixels (e.g. from numpy) are accepted and give the same float32 answer
    with torch.no_grad():
        again = model.correspondences(pts.double(), frames, frames, stratified=False, use_max_loc=True)
    assert again.points_j.dtype == torch.float32
    torch.testing.assert_close(again.points_j, corr.points_j)


def test_training_correspondence_shapes_dtypes_and_depth_masking():
    model = _model()
    n, k = 20, model.cfg.num_samples_ray
    pts = _pixels(n)
    fi, fj = torch.arange(n) % N_FRAMES, (torch.arange(n) + 2) % N_FRAMES
    corr = model.correspondences(pts, fi, fj, stratified=True, generator=torch.Generator().manual_seed(0))
    shapes = dict(points_j=(n, 2), depth_j=(n,), weights=(n, k), samples_i=(n, k, 3), samples_j=(n, k, 3),
                  rgb_i=(n, 3), ray_depths=(n, k), canonical=(n, k, 3))
    for name, shape in shapes.items():
        value = getattr(corr, name)
        assert value.shape == shape, name
        assert value.dtype == torch.float32 and value.device == pts.device, name
    assert ((corr.rgb_i >= 0) & (corr.rgb_i <= 1)).all()
    outside = (corr.samples_j[..., 2] < 0) | (corr.samples_j[..., 2] > 2)
    assert (corr.weights[outside] == 0).all()
    # stratified depths are jittered, the samples sit on the source rays
    assert not torch.allclose(corr.ray_depths, sample_ray_depths(n, k, 0.0, 2.0, stratified=False))
    torch.testing.assert_close(corr.samples_i[..., 2], corr.ray_depths)
    # samples_j is the bijection's image: map_between reproduces it
    torch.testing.assert_close(model.map_between(corr.samples_i, fi, fj), corr.samples_j)
    torch.testing.assert_close(model.from_canonical(corr.canonical, fj), corr.samples_j)
    torch.testing.assert_close(model.to_canonical(corr.samples_i, fi), corr.canonical)
    # the training output is differentiable into every parameter group
    (corr.points_j.sum() + corr.rgb_i.sum()).backward()
    for name in ("feature_mlp", "deform_mlp", "color_mlp"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), name
        assert any(g.abs().sum() > 0 for g in grads), name


def test_reusing_canonical_samples_equals_map_between_in_value_and_gradient():
    model = _model()
    pts, fi = _pixels(12), torch.arange(12) % N_FRAMES
    fk = (fi + 1) % N_FRAMES
    corr = model.correspondences(pts, fi, (fi + 2) % N_FRAMES, stratified=True)
    reused = model.from_canonical(corr.canonical, fk)
    grads = torch.autograd.grad(reused.square().sum(), list(model.deform_mlp.parameters()))
    direct = model.map_between(corr.samples_i, fi, fk)
    direct_grads = torch.autograd.grad(direct.square().sum(), list(model.deform_mlp.parameters()))
    torch.testing.assert_close(reused, direct)
    for a, b in zip(grads, direct_grads):
        torch.testing.assert_close(a, b)


def test_wall_scene_correspondence_depth_and_occlusion():
    model = _model(use_affine=False)
    z_wall = _make_identity_with_wall(model)
    pts = _pixels(10)
    frames = torch.arange(10) % N_FRAMES
    other = (frames + 3) % N_FRAMES
    with torch.no_grad():
        corr = model.correspondences(pts, frames, other, stratified=False, use_max_loc=True)
        torch.testing.assert_close(corr.points_j, pts, atol=1e-4, rtol=0)     # identity motion
        torch.testing.assert_close(corr.depth_j, torch.full((10,), z_wall))
        composited = model.correspondences(pts, frames, other, stratified=False, use_max_loc=False)
        torch.testing.assert_close(composited.weights.sum(-1), torch.ones(10), atol=1e-5, rtol=0)
        torch.testing.assert_close(composited.depth_j, torch.full((10,), z_wall), atol=1e-5, rtol=0)
        # a point in front of the only dense sample is visible, one behind it is occluded
        in_front = model.occlusion_score(pts, torch.full((10,), z_wall - 0.4), other)
        behind = model.occlusion_score(pts, torch.full((10,), z_wall + 0.4), other)
        on_surface = model.occlusion_score(corr.points_j, corr.depth_j, other)
    th = model.cfg.occlusion_th
    assert (in_front < 1e-6).all() and (on_surface < 1e-6).all()
    assert (behind > th).all()


def test_render_depth_and_rgb_of_the_wall_scene():
    model = _model(use_affine=False)
    z_wall = _make_identity_with_wall(model)
    depth = model.render_depth(2, chunk_size=100)
    rgb = model.render_rgb(2, chunk_size=1000)
    assert depth.shape == (H, W) and rgb.shape == (H, W, 3)
    torch.testing.assert_close(depth, torch.full((H, W), z_wall), atol=1e-5, rtol=0)
    torch.testing.assert_close(rgb, torch.full((H, W, 3), 0.25), atol=1e-5, rtol=0)


def test_render_depth_matches_per_ray_compositing():
    model = _model()
    depth = model.render_depth(1, chunk_size=97)
    with torch.no_grad():
        pts = torch.tensor([[5.0, 7.0], [31.0, 23.0]])
        x, z = model.lift(pts, stratified=False)
        w, _ = model.ray_weights(model.to_canonical(x, torch.tensor([1, 1])))
    torch.testing.assert_close(depth[[7, 23], [5, 31]], (w * z).sum(-1))


def test_bad_inputs_are_reported():
    model = _model()
    pts = _pixels(3)
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        model.correspondences(pts, torch.tensor([0, 1, 6]), torch.tensor([0, 1, 2]), stratified=False)
    with pytest.raises(TypeError, match="integer"):
        model.correspondences(pts, torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0, 1, 2]), stratified=False)
    with pytest.raises(ValueError, match="shape"):
        model.correspondences(pts, torch.tensor([0, 1]), torch.tensor([0, 1]), stratified=False)
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        model.correspondences(pts[:, :1], torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]), stratified=False)
    with pytest.raises(ValueError, match="max_depth"):
        ModelConfig(min_depth=2.0, max_depth=1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = _model()
    pts, fi, fj = _pixels(16), torch.arange(16) % N_FRAMES, (torch.arange(16) + 1) % N_FRAMES
    with torch.no_grad():
        cpu = model.correspondences(pts, fi, fj, stratified=False, use_max_loc=True)
        model.cuda()
        gpu = model.correspondences(pts.cuda(), fi.cuda(), fj.cuda(), stratified=False, use_max_loc=True)
        score = model.occlusion_score(gpu.points_j, gpu.depth_j, fj.cuda())
    assert gpu.points_j.device.type == "cuda" and score.device.type == "cuda"
    torch.testing.assert_close(gpu.points_j.cpu(), cpu.points_j, atol=1e-3, rtol=0)
    assert model.render_depth(0).device.type == "cuda"
