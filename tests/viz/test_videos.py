import av
import cv2
import numpy as np
import pytest
import torch

from omnimotion.io.video import write_video
from omnimotion.synthetic import make_clip
from omnimotion.track.queries import grid_queries
from omnimotion.track.tracks import Tracks
from omnimotion.viz.videos import (point_radius, write_color_video, write_depth_video, write_grid_video,
                                   write_summary_png, write_tracks_video)

T, H, W = 10, 48, 64


def _clip_and_tracks():
    clip = make_clip(num_frames=T, height=H, width=W, num_sprites=2, motion="mixed", seed=3)
    queries = grid_queries((H, W), 16, frame=0)
    tracks, occluded = clip.track(queries)
    return clip, Tracks(tracks, occluded, queries, (H, W), fps=10)


def _read_cv2(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    capture.release()
    return np.stack(frames)


def _read_av(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_tracks_video_has_input_frame_count_and_size(tmp_path):
    clip, tracks = _clip_and_tracks()
    path = write_tracks_video(tmp_path / "tracks.mp4", clip.video, tracks, trail_length=4)
    decoded = _read_cv2(path)
    assert decoded.shape == (T, H, W, 3)
    assert _read_av(path).shape == (T, H, W, 3)
    # the points are there: at visible points the decoded video is far from the input encoded alone, and
    # away from every point and trail it is close
    plain = _read_cv2(write_video(clip.video, tmp_path / "plain.mp4"))
    t = 5
    diff = np.abs(decoded[t].astype(int) - plain[t]).sum(-1)
    xs, ys = tracks.tracks[~tracks.occluded[:, t], t].round().astype(int).T
    inside = (xs >= 1) & (xs < W - 1) & (ys >= 1) & (ys < H - 1)
    assert inside.sum() > 5 and np.median(diff[ys[inside], xs[inside]]) > 100
    recent = tracks.tracks[:, t - 4:t + 1].reshape(-1, 2)
    grid = np.stack(np.meshgrid(np.arange(W), np.arange(H)), -1)
    far = np.linalg.norm(grid[:, :, None] - recent, axis=-1).min(-1) > 6
    assert far.sum() > 200 and np.median(diff[far]) < 30

def test_side_by_side_grid_video_and_resized_tracks(tmp_path):
    clip, tracks = _clip_and_tracks()
    big = tracks.resized((2 * H, 2 * W))  # tracks of the full-size video, drawn on the small frames
    path = write_grid_video(tmp_path / "grid.mp4", clip.video, big, with_input=True, radius=2)
    decoded = _read_av(path)
    assert decoded.shape == (T, H, 2 * W, 3)
    # the left half is the plain input (up to compression), the right half carries the dots
    left = np.abs(decoded[:, :, :W].astype(int) - clip.video).mean()
    right = np.abs(decoded[:, :, W:].astype(int) - clip.video).mean()
    assert left < 8 and right > left + 3


def test_summary_png(tmp_path):
    clip, tracks = _clip_and_tracks()
    path = write_summary_png(tmp_path / "summary.png", clip.video, tracks)
    image = cv2.imread(str(path))[..., ::-1]
    assert image.shape == (H, W, 3)
    # every start point is drawn in its own colour: not the dimmed frame
    x, y = tracks.queries[0, 1:].astype(int)
    assert np.abs(image[y, x].astype(int) - (clip.video[0, y, x] * 0.6)).max() > 30


def test_wrong_frame_count_is_refused(tmp_path):
    clip, tracks = _clip_and_tracks()
    with pytest.raises(ValueError, match="T = 10"):
        write_tracks_video(tmp_path / "bad.mp4", clip.video[:5], tracks)


class _RenderingModel:
    """render_depth: frame t is a constant depth t (so frame 0 is nearest); render_rgb: a horizontal ramp."""

    num_frames, image_hw = 6, (H, W)

    def render_depth(self, frame):
        return torch.full((H, W), float(frame))

    def render_rgb(self, frame):
        ramp = torch.linspace(0, 1, W).expand(H, W)
        return torch.stack([ramp, torch.zeros(H, W), 1 - ramp], -1)


def test_depth_and_color_videos(tmp_path):
    depth = _read_cv2(write_depth_video(tmp_path / "depth.mp4", _RenderingModel(), progress=False))
    assert depth.shape == (6, H, W, 3)
    # jet, normalised over the video: the first frame is blue, the last red
    assert depth[0, ..., 2].mean() > 100 and depth[0, ..., 0].mean() < 30
    assert depth[-1, ..., 0].mean() > 100 and depth[-1, ..., 2].mean() < 30
    color = _read_av(write_color_video(tmp_path / "color.mp4", _RenderingModel(), progress=False))
    assert color.shape == (6, H, W, 3)
    assert color[0, :, -4:, 0].mean() > 200 and color[0, :, :4, 2].mean() > 200


def test_point_radius_scales_with_the_frame():
    # 3 px at 480p as the official viz, 2 at TAP-Vid's 256x256, never below 1
    assert point_radius((480, 854)) == 3 and point_radius((256, 256)) == 2 and point_radius((32, 40)) == 1


def test_pictures_wide_enough_get_a_legend_and_the_summary_shows_the_query_frame(tmp_path):
    clip, _ = _clip_and_tracks()
    queries = grid_queries((H, W), 16, frame=6)
    tracks, occluded = clip.track(queries)
    tracks = Tracks(tracks, occluded, queries, (H, W), fps=10)
    wide = np.stack([cv2.resize(frame, (8 * W, 8 * H), interpolation=cv2.INTER_NEAREST) for frame in clip.video])
    video = _read_av(write_tracks_video(tmp_path / "tracks.mp4", wide, tracks, trail_length=4))
    assert video.shape[1] > 8 * H and video.shape[2] == 8 * W  # a band under the 512x384 frames
    assert np.abs(video[:, 8 * H + 4:].astype(int) - 30).mean() < 60  # mostly the band's dark grey
    png = write_summary_png(tmp_path / "summary.png", wide, tracks, legend=False)
    summary = cv2.imread(str(png))[..., ::-1].astype(int)
    # drawn on frame 6, dimmed to 60 %: away from the marks it matches frame 6, not frame 0
    dimmed = [(frame.astype(float) * 0.6).round() for frame in (wide[0], wide[6])]
    errors = [np.median(np.abs(summary - frame)) for frame in dimmed]
    assert errors[1] < 1 and errors[0] > errors[1]
    assert cv2.imread(str(write_summary_png(tmp_path / "s2.png", wide, tracks))).shape[0] > 8 * H  # legend


def test_picture_frames_come_from_the_source_video_at_the_picture_size(tmp_path):
    from omnimotion.io.datadir import DataDir
    from omnimotion.viz.videos import load_picture_frames, picture_hw

    assert picture_hw((48, 64)) == (384, 512) and picture_hw((1080, 1920)) == (576, 1024)
    assert picture_hw((600, 800)) == (600, 800)  # within 512..1024: the source size
    clip = make_clip(num_frames=4, height=96, width=128, num_sprites=1, seed=2)
    source = write_video(clip.video, tmp_path / "source.mp4", fps=10)
    data = DataDir(tmp_path / "data")
    data.color_dir.mkdir(parents=True)
    for index, frame in enumerate(clip.video):  # the working frames, 64x48
        small = cv2.resize(frame, (64, 48), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(data.color_dir / f"{index:05d}.png"), small[..., ::-1])
    data.save_source_info({"path": str(source), "fps": 10.0, "native_hw": [96, 128], "start": 0, "end": None,
                           "stride": 1})
    sharp = load_picture_frames(DataDir(data.root), (96, 128))
    assert sharp.shape == (4, 384, 512, 3)
    enlarged_source = cv2.resize(_read_av(source)[2], (512, 384), interpolation=cv2.INTER_CUBIC).astype(int)
    from_source = np.abs(sharp[2].astype(int) - enlarged_source).mean()
    source.unlink()  # gone: the working frames are enlarged instead
    soft = load_picture_frames(DataDir(data.root), (96, 128))
    assert soft.shape == (4, 384, 512, 3)
    assert from_source < np.abs(soft[2].astype(int) - enlarged_source).mean()
