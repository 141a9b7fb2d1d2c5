"""DIS flow against known motion: a textured image translated by a known shift, and a moving sprite."""

import pickle

import cv2
import numpy as np
import pytest

from omnimotion import synthetic
from omnimotion.flow import DisFlow, FlowBackendError, get_backend


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth random RGB texture (blurred noise): well textured at every scale DIS looks at."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    image = cv2.GaussianBlur(noise, (0, 0), 1.5)
    image = (image - image.min()) / (image.max() - image.min()) * 255
    return image.astype(np.uint8)


def _translated_pair(dx: int, dy: int, size: int = 96):
    """Frame a is a crop of a big texture, frame b the crop moved by (-dx, -dy): content moves by (dx, dy)."""
    big = _texture(size + 40, size + 40, seed=0)
    a = big[20:20 + size, 20:20 + size]
    b = big[20 - dy:20 - dy + size, 20 - dx:20 - dx + size]
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def test_dis_translation_end_point_error_is_subpixel():
    dx, dy = 3, -2
    a, b = _translated_pair(dx, dy)
    flow = get_backend("dis")(a, b)
    assert flow.dtype == np.float32 and flow.shape == (96, 96, 2)
    # Visible pixels: those whose target (x+dx, y+dy) is inside frame b; skip a 4-px border where DIS
    # patches run out of support.
    visible = np.zeros((96, 96), bool)
    visible[4:96 - 4 - abs(dy), 4 + 0:96 - 4 - dx] = True
    epe = np.linalg.norm(flow - np.array([dx, dy], np.float32), axis=-1)[visible]
    # Bound: zero flow would score |(3,-2)| = 3.6 px; 0.5 px is well under the 3-px cycle threshold of the
    # filter, so nearly every visible pixel of such a pair survives filtering.
    assert epe.mean() < 0.5, epe.mean()
    assert np.quantile(epe, 0.9) < 1.0


def _moving_sprite(size: int, top_left: tuple[int, int], motion: tuple[int, int], seeds: tuple[int, int]):
    """A textured square sprite of ``size`` px at ``top_left`` (x, y) on a 64x64 static textured background,
    moved by ``motion`` (dx, dy): frames a and b and the exact flow from a to b."""
    (x, y), (dx, dy) = top_left, motion
    background, sprite = _texture(64, 64, seed=seeds[0]), _texture(size, size, seed=seeds[1])
    a, b = background.copy(), background.copy()
    a[y:y + size, x:x + size] = sprite
    b[y + dy:y + dy + size, x + dx:x + dx + size] = sprite
    truth = np.zeros((64, 64, 2), np.float32)
    truth[y:y + size, x:x + size] = motion
    return a, b, truth


def test_dis_moving_sprite_on_static_background():
    a, b, truth = _moving_sprite(16, top_left=(10, 20), motion=(4, 2), seeds=(1, 2))
    flow = DisFlow("medium")(a, b)
    # Visible in b and away from motion boundaries (DIS smooths across them): sprite interior and
    # background far from both sprite positions.
    interior = np.zeros((64, 64), bool)
    interior[23:33, 13:23] = True
    far = np.ones((64, 64), bool)
    far[12:46, 2:38] = False
    far[:4], far[-4:], far[:, :4], far[:, -4:] = False, False, False, False
    epe = np.linalg.norm(flow - truth, axis=-1)
    assert epe[interior].mean() < 1.0, epe[interior].mean()
    assert epe[far].mean() < 0.3, epe[far].mean()


def test_dis_is_deterministic_and_picklable():
    a, b = _translated_pair(2, 1)
    backend = get_backend("dis", preset="fast")
    first = backend(a, b)
    clone = pickle.loads(pickle.dumps(backend))
    assert clone.preset == "fast"
    np.testing.assert_array_equal(first, clone(a, b))
    np.testing.assert_array_equal(first, backend(a, b))


def test_dis_presets_and_bad_inputs():
    with pytest.raises(FlowBackendError, match="unknown DIS preset 'slow'.*ultrafast, fast, medium, fine"):
        get_backend("dis", preset="slow")
    a, b = _translated_pair(1, 1)
    with pytest.raises(ValueError, match="differ in size"):
        DisFlow()(a, b[:50])
    with pytest.raises(ValueError, match="uint8"):
        DisFlow()(a.astype(np.float32), b)


@pytest.mark.parametrize("motion", ["translate", "mixed"])
def test_dis_on_synthetic_pair_against_ground_truth(motion):
    clip = synthetic.make_clip(num_frames=3, height=64, width=64, num_sprites=2, motion=motion, seed=0)
    truth, occluded = clip.flow(0, 1)
    flow = get_backend("dis")(clip.video[0], clip.video[1])
    epe = np.linalg.norm(flow - truth, axis=-1)[~occluded]
    zero_flow_epe = np.linalg.norm(truth, axis=-1)[~occluded]
    # Measured (seed 0): median 0.10-0.13 px, 90% of visible pixels under 0.92 px; the errors that remain sit
    # at sprite boundaries, where DIS smooths across the motion discontinuity. Bounds: the median is
    # sub-pixel and well below the zero-flow median (0.75-1.3 px), and at least 85% of the visible pixels
    # are within 1 px, well inside the filter's 3-px cycle threshold.
    assert np.median(epe) < min(0.25, np.median(zero_flow_epe) / 2.5)
    assert (epe < 1.0).mean() > 0.85


def test_fine_preset_resolves_a_small_sprite_better_than_medium():
    """``fine`` searches down to full resolution: the flow of a 10-px sprite is recovered more sharply."""
    a, b, truth = _moving_sprite(10, top_left=(27, 27), motion=(2, 3), seeds=(3, 4))
    errors = {preset: np.linalg.norm(get_backend(f"dis:{preset}")(a, b) - truth, axis=-1)[27:37, 27:37].mean()
              for preset in ("medium", "fine")}
    assert errors["fine"] < 0.5 * errors["medium"], errors


def test_preset_in_backend_name():
    backend = get_backend("dis:ultrafast")
    assert backend.preset == "ultrafast" and get_backend("dis").preset == "fine2x"
    with pytest.raises(FlowBackendError, match="unknown DIS preset 'slow'"):
        get_backend("dis:slow")
