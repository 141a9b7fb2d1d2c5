"""Bilinear sampler: hand values, zero padding, and agreement with a naive exact reference."""

import numpy as np

from omnimotion.preprocess.warp import sample_bilinear


def naive_bilinear(image, x, y):
    """Exact bilinear with zero outside, one point at a time (reference)."""
    height, width = image.shape[:2]
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    total = np.zeros(image.shape[2:])
    for yi, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xi, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= xi < width and 0 <= yi < height:
                total = total + wx * wy * image[yi, xi]
    return total


def test_hand_values_and_zero_padding():
    image = np.float32([[0, 10], [20, 30]])
    points = np.float32([[0.5, 0.5], [1, 0], [1.5, 0], [-1, 0], [0.25, 1]])
    # centre: mean 15; (1,0) exact 10; half a pixel outside: half of 10; a pixel outside: 0; 20 + 0.25*10
    np.testing.assert_allclose(sample_bilinear(image, points), [15, 10, 5, 0, 22.5])


def test_matches_naive_reference_on_a_smooth_multichannel_map():
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:20, 0:30].astype(np.float32)
    image = np.stack([np.sin(xs / 5) * 4, np.cos(ys / 4) * 3, xs * 0.1, ys * 0.2, xs * ys * 0.01], -1)
    points = rng.uniform(-2, 32, (300, 2)).astype(np.float32)
    fast = sample_bilinear(image, points.reshape(10, 30, 2))
    assert fast.shape == (10, 30, 5)
    reference = np.stack([naive_bilinear(image, x, y) for x, y in points]).reshape(10, 30, 5)
    # Positions are rounded to 1/32 px by OpenCV; the map changes by at most ~1 per px, so < 0.05.
    np.testing.assert_allclose(fast, reference, atol=0.05)
