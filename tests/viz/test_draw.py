import numpy as np
import pytest

from omnimotion.viz.draw import (colorize_depth, draw_summary, draw_tracks, draw_tracks_video, index_colors,
                                 position_colors, rgb_to_uint8, side_by_side)

RED, GREEN = np.array([[255, 0, 0]], np.uint8), np.array([[0, 255, 0]], np.uint8)


def _grey(h=40, w=50):
    return np.full((h, w, 3), 100, np.uint8)


def test_visible_point_is_a_filled_disc_at_subpixel_position():
    frame = _grey()
    tracks = np.array([[[20.0, 10.0]]], np.float32)
    out = draw_tracks(frame, tracks, np.zeros((1, 1), bool), 0, RED, radius=3)
    assert out[10, 20].tolist() == [255, 0, 0] and out[10, 22].tolist() == [255, 0, 0]  # inside the disc
    assert out[10, 26].tolist() == [100, 100, 100] and out[30, 40].tolist() == [100, 100, 100]
    assert (frame == 100).all(), "the input frame must not be drawn on"


def test_occluded_point_is_hollow_and_faded():
    out = draw_tracks(_grey(), np.array([[[20.0, 10.0]]]), np.ones((1, 1), bool), 0, RED, radius=4)
    assert out[10, 20].tolist() == [100, 100, 100]  # hollow: the centre keeps the frame
    ring = out[10, 24]                            # on the circle, blended 45 % with the frame
    assert 130 < ring[0] < 255 and ring[1] < 100


def test_trail_covers_the_last_frames_only():
    # a point moving right 10 px per frame along y = 20; at t = 3 with trail_length 1 only x in [20, 30] is drawn
    tracks = np.array([[[0.0, 20.0], [10.0, 20.0], [20.0, 20.0], [30.0, 20.0]]], np.float32)
    out = draw_tracks(_grey(), tracks, np.zeros((1, 4), bool), 3, GREEN, trail_length=1, radius=1)
    # a 1 px anti-aliased line is not fully opaque: close to the colour, far from the grey
    assert out[20, 25][1] > 200 and out[20, 25][0] < 40
    assert out[20, 5].tolist() == [100, 100, 100] and out[20, 15].tolist() == [100, 100, 100]
    everything = draw_tracks(_grey(), tracks, np.zeros((1, 4), bool), 3, GREEN, trail_length=10, radius=1,
                             fade=False)
    assert everything[20, 5][1] > 200 and everything[20, 5][0] < 40


def test_trail_fades_with_age():
    # segments of ages 2, 1, 0 (newest last) of a 3-frame trail: opacity 1 - (age * 4 // 3) / 4 = 0.5, 0.75, 1
    tracks = np.array([[[0.0, 20.0], [10.0, 20.0], [20.0, 20.0], [30.0, 20.0]]], np.float32)
    out = draw_tracks(_grey(), tracks, np.zeros((1, 4), bool), 3, GREEN, trail_length=3, radius=1)
    oldest, middle, newest = out[20, 5].astype(int), out[20, 15].astype(int), out[20, 25].astype(int)
    assert oldest[1] < middle[1] < newest[1] and oldest[0] > middle[0] > newest[0]
    assert abs(oldest[0] - 100 * 0.5) < 15  # red: half of the grey 100 is left where green is half opaque


def test_draw_tracks_video_checks_frame_count():
    frames = np.stack([_grey()] * 3)
    tracks = np.zeros((2, 3, 2), np.float32)
    assert draw_tracks_video(frames, tracks, np.zeros((2, 3), bool), index_colors(2)).shape == frames.shape
    with pytest.raises(ValueError, match="2 frames but the tracks cover 3"):
        draw_tracks_video(frames[:2], tracks, np.zeros((2, 3), bool), index_colors(2))


def test_summary_dims_the_frame_and_marks_start_points():
    tracks = np.array([[[5.0, 5.0], [25.0, 5.0]]], np.float32)
    out = draw_summary(_grey(), tracks, np.zeros((1, 2), bool), tracks[:, 0], RED, radius=2)
    assert out[30, 40].tolist() == [60, 60, 60]          # 100 * 0.6
    assert out[5, 5].tolist() == [255, 0, 0]             # the start point
    assert out[5, 15][0] > 200 and out[5, 15][1] < 40    # the trajectory (anti-aliased 1 px line)


def test_colors():
    colors = index_colors(5)
    assert colors.shape == (5, 3) and colors.dtype == np.uint8 and len({tuple(c) for c in colors}) == 5
    by_position = position_colors(np.array([[0, 0], [1, 0], [0, 47]]), (48, 64))
    assert np.abs(by_position[0].astype(int) - by_position[1]).max() < 20   # neighbours look alike
    assert np.abs(by_position[0].astype(int) - by_position[2]).max() > 100  # top and bottom do not


def test_colorize_depth_is_jet_normalised_over_the_whole_video():
    depth = np.stack([np.zeros((2, 2)), np.full((2, 2), 0.5), np.ones((2, 2))])
    rgb = colorize_depth(depth)
    assert rgb.shape == (3, 2, 2, 3) and rgb.dtype == np.uint8
    # jet: 0 -> dark blue (0, 0, 128), 1 -> dark red (128, 0, 0); frames keep their relative depth
    assert rgb[0, 0, 0].tolist() == [0, 0, 128] and rgb[2, 0, 0].tolist() == [128, 0, 0]
    assert rgb[1, 0, 0][1] > 200  # the middle is green-ish
    assert (colorize_depth(np.full((2, 2), 3.0)) == colorize_depth(np.zeros((2, 2)))).all()


def test_side_by_side_and_rgb_to_uint8():
    video = np.zeros((2, 4, 6, 3), np.uint8)
    assert side_by_side(video, video).shape == (2, 4, 12, 3)
    with pytest.raises(ValueError, match="same frame count and height"):
        side_by_side(video, video[:, :3])
    assert rgb_to_uint8(np.array([-0.5, 0.5, 2.0])).tolist() == [0, 128, 255]
