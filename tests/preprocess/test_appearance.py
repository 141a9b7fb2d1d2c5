"""Appearance features: shapes, discrimination on synthetic clips, caching, DINO loading and errors."""

import importlib.util

import numpy as np
import pytest

from omnimotion.coords import inside_image, pixel_grid
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.appearance import (EMBEDDED_THRESHOLD, FeatureStore, cosine_similarity,
                                              get_appearance, resolve_appearance)
from omnimotion.preprocess.warp import sample_bilinear, scale_points_to_grid
from omnimotion.synthetic import make_clip, write_frames


def test_embedded_features_shape_and_corner_aligned_grid():
    image = np.random.default_rng(0).integers(0, 256, (33, 49, 3), dtype=np.uint8)
    features = get_appearance("embedded").features(image)
    assert features.shape == (9, 13, 38) and features.dtype == np.float32  # (33-1)/4+1, (49-1)/4+1
    assert np.isfinite(features).all()
    # Corners aligned: image pixel (W-1, H-1) reads map pixel (w-1, h-1).
    np.testing.assert_allclose(scale_points_to_grid(np.float32([[48, 32]]), (33, 49), (9, 13)), [[12, 8]])


def test_cosine_similarity_hand_values():
    a = np.float32([[1, 0], [1, 1], [0, 0]])
    b = np.float32([[2, 0], [-1, -1], [1, 0]])
    np.testing.assert_allclose(cosine_similarity(a, b), [1, -1, 0], atol=1e-6)


def test_true_correspondences_pass_and_shifted_ones_mostly_do_not():
    appearance = get_appearance("embedded")
    assert appearance.threshold == EMBEDDED_THRESHOLD
    rng = np.random.default_rng(0)
    true_pass, wrong_pass = [], []
    for seed in (0, 1):
        clip = make_clip(num_frames=16, height=64, width=64, seed=seed)
        maps = [appearance.features(frame) for frame in clip.video]
        grid = pixel_grid(64, 64).reshape(-1, 2)
        at = lambda t, p: sample_bilinear(maps[t], scale_points_to_grid(p, (64, 64), maps[t].shape[:2]))
        for i, j in ((0, 3), (2, 8), (5, 15), (12, 4), (15, 0)):
            flow, occluded = clip.flow(i, j)
            visible = ~occluded.reshape(-1)
            source, target = grid[visible], grid[visible] + flow.reshape(-1, 2)[visible]
            true_pass.append(cosine_similarity(at(i, source), at(j, target)) > appearance.threshold)
            angle, radius = rng.uniform(0, 2 * np.pi, len(target)), rng.uniform(8, 24, len(target))
            wrong = target + np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1)
            inside = inside_image(wrong, 64, 64)
            wrong_pass.append(cosine_similarity(at(i, source[inside]), at(j, wrong[inside]))
                              > appearance.threshold)
    # Measured 0.99 and 0.57: flat same-coloured areas make some 8-24 px shifts indistinguishable.
    assert np.concatenate(true_pass).mean() >= 0.95
    assert np.concatenate(wrong_pass).mean() <= 0.7


def test_feature_store_caches_and_recomputes_corrupt_files(tmp_path):
    clip = make_clip(num_frames=3, height=32, width=40, seed=0)
    write_frames(clip, tmp_path / "color")
    data = DataDir(tmp_path)
    store = resolve_appearance(data, "embedded", progress=False)
    path = store.path(1)
    assert path == tmp_path / "features" / "embedded" / "00001.jpg.npy"
    reference = np.load(path)
    path.write_bytes(b"truncated")
    store = resolve_appearance(data, "embedded", progress=False)
    np.testing.assert_array_equal(np.load(path), reference)
    assert store.at_pixels(1, np.float32([[0, 0]])).shape == (1, 38)
    assert resolve_appearance(data, "none") is None


def test_auto_uses_official_dino_features_when_present(tmp_path):
    clip = make_clip(num_frames=2, height=32, width=32, seed=0)
    write_frames(clip, tmp_path / "color")
    data = DataDir(tmp_path)
    for i in range(2):
        (tmp_path / "features" / "dino").mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / "features" / "dino" / f"{data.frame_names[i]}.npy", np.ones((2, 2, 384), np.float32))
    store = resolve_appearance(data, None, progress=False)
    assert isinstance(store, FeatureStore) and store.folder.name == "dino" and store.threshold == 0.5


def test_unknown_kind_and_missing_weights_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown appearance kind"):
        get_appearance("sift")
    with pytest.raises(ValueError, match="weights"):
        get_appearance("dino")
    with pytest.raises(ValueError, match="uint8 RGB"):
        get_appearance("embedded").features(np.zeros((8, 8), np.float32))
    if importlib.util.find_spec("timm") is None:
        with pytest.raises(ImportError, match=r"omnimotion\[dino\]"):
            get_appearance("dino", weights=tmp_path / "dino.pth")
    else:
        with pytest.raises(FileNotFoundError, match="dino.pth"):
            get_appearance("dino", weights=tmp_path / "dino.pth")


def test_dino_with_random_weights_gives_token_maps(tmp_path):
    timm = pytest.importorskip("timm")
    import torch

    model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0)
    torch.save({"teacher": {f"backbone.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "w.pth")
    appearance = get_appearance("dino", weights=tmp_path / "w.pth")
    features = appearance.features(np.zeros((96, 128, 3), np.uint8))
    assert features.shape == (30, 40, 384)  # short side 480, long 640 (multiple of 64), /16
    assert appearance.threshold == 0.5
