import numpy as np
import torch

from omnimotion.coords import denormalize_coords, inside_image, normalize_coords, pixel_grid


def test_normalize_denormalize_round_trip_numpy_and_torch():
    pts = np.array([[0.0, 0.0], [99.0, 49.0], [12.5, 30.25]], np.float32)
    norm = normalize_coords(pts, height=50, width=100)
    # corners map to -1 and +1 (pixel centres at integers, divide by W-1, H-1)
    np.testing.assert_allclose(norm[0], [-1, -1])
    np.testing.assert_allclose(norm[1], [1, 1])
    np.testing.assert_allclose(denormalize_coords(norm, 50, 100), pts, atol=1e-5)
    torch_norm = normalize_coords(torch.from_numpy(pts), 50, 100)
    np.testing.assert_allclose(torch_norm.numpy(), norm, atol=1e-6)


def test_pixel_grid_is_x_then_y():
    grid = pixel_grid(3, 4)
    assert grid.shape == (3, 4, 2)
    assert tuple(grid[2, 3]) == (3.0, 2.0)


def test_inside_image_bounds_inclusive():
    pts = np.array([[0, 0], [9, 4], [9.01, 0], [-0.01, 2]], np.float32)
    assert inside_image(pts, height=5, width=10).tolist() == [True, True, False, False]


def test_resize_points_follows_cv2_resize():
    import cv2

    from omnimotion.coords import resize_points

    # a 2x2 white block whose centroid is pixel (10.5, 6.5) in a 40x20 image; doubling the size with
    # pixel-area scaling puts it at (10.5 + 0.5) * 2 - 0.5 = 21.5 and (6.5 + 0.5) * 2 - 0.5 = 13.5
    image = np.zeros((20, 40), np.float32)
    image[6:8, 10:12] = 1.0
    big = cv2.resize(image, (80, 40), interpolation=cv2.INTER_NEAREST)
    ys, xs = np.nonzero(big)
    centroid = np.array([[xs.mean(), ys.mean()]], np.float32)
    np.testing.assert_allclose(resize_points(np.array([[10.5, 6.5]], np.float32), (20, 40), (40, 80)),
                               centroid)
    np.testing.assert_allclose(centroid, [[21.5, 13.5]])
    back = resize_points(resize_points(centroid, (40, 80), (20, 40)), (20, 40), (40, 80))
    np.testing.assert_allclose(back, centroid, atol=1e-5)


def test_inside_extent_reaches_the_pixel_edges():
    from omnimotion.coords import inside_extent

    # a 10x5 frame: centres span [0, 9] x [0, 4], edges [-0.5, 9.5] x [-0.5, 4.5]
    pts = np.array([[-0.5, -0.5], [9.5, 4.5], [9.0, 4.0], [-0.51, 2], [9.51, 2], [3, -0.51], [3, 4.51]])
    assert inside_extent(pts, height=5, width=10).tolist() == [True, True, True, False, False, False, False]
    assert inside_extent(torch.tensor(pts), 5, 10).tolist() == inside_extent(pts, 5, 10).tolist()
