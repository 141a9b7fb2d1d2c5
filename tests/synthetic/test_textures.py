"""omnimotion.synthetic.textures: deterministic, contrasted, textured everywhere, distinct per call."""

import cv2
import numpy as np
import pytest

from omnimotion.synthetic import make_texture


def test_texture_shape_dtype_and_determinism():
    texture = make_texture(np.random.default_rng(1), 40, 56)
    assert texture.shape == (40, 56, 3) and texture.dtype == np.uint8
    np.testing.assert_array_equal(texture, make_texture(np.random.default_rng(1), 40, 56))


@pytest.mark.parametrize("seed", range(3))
def test_texture_has_gradient_in_almost_every_window(seed):
    # Flow needs texture everywhere: in >= 95% of 8x8 windows the grey level varies by > 4 levels (std),
    # and each channel spans a wide range after the contrast stretch (1st-99th percentile -> 10-245).
    texture = make_texture(np.random.default_rng(seed), 96, 128)
    grey = cv2.cvtColor(texture, cv2.COLOR_RGB2GRAY).astype(float)
    windows = grey.reshape(12, 8, 16, 8).transpose(0, 2, 1, 3).reshape(-1, 64)
    assert np.mean(windows.std(axis=1) > 4.0) >= 0.95
    assert (texture.reshape(-1, 3).std(axis=0) > 35).all()


def test_textures_differ_between_draws():
    rng = np.random.default_rng(0)
    first, second = make_texture(rng, 32, 32), make_texture(rng, 32, 32)
    assert np.abs(first.astype(int) - second).mean() > 30


def test_texture_rejects_tiny_size():
    with pytest.raises(ValueError, match="too small"):
        make_texture(np.random.default_rng(0), 1, 10)
