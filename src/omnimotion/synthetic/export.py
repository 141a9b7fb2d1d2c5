"""Writing synthetic clips to disk: TAP-Vid-style ``.npz``, a ``color/`` frame folder, an mp4.

All writes are atomic (``omnimotion.io.atomic``). The ``.npz`` layout is the one of the real evaluation files in
``../shared/data`` (see its README), including their TAP-Vid raster convention for points: pixel centres at
``i + 0.5``, so file points are ``omnimotion.coords`` pixels + 0.5.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from omnimotion.io.atomic import atomic_open
from omnimotion.synthetic.clip import SyntheticClip
from omnimotion.synthetic.scenes import sample_queries

__all__ = ["save_tapvid_npz", "write_frames", "write_video", "TAPVID_PIXEL_OFFSET"]

# TAP-Vid raster coordinates put pixel centres at i + 0.5; omnimotion.coords puts them at i.
TAPVID_PIXEL_OFFSET = 0.5
_QUERY_STRIDE = 5
# Quality 95 without chroma subsampling: the saturated synthetic textures lose about half as much to JPEG
# without it as with 4:2:0 subsampling (benchmarks/NOTES.md).
_JPEG_PARAMS = (cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)


def save_tapvid_npz(clip: SyntheticClip, path: str | Path, num_points: int = 64, seed: int = 0) -> None:
    """Write ``clip`` with ``num_points`` ground-truth tracks as a ``.npz`` like ``../shared/data/*.npz``.

    Keys: ``video`` uint8 ``[T, H, W, 3]``; ``points`` float32 ``[N, T, 2]`` (x, y) in TAP-Vid raster pixels
    (**our pixel coordinates + 0.5**, as in the real files), NaN where occluded; ``occluded`` bool ``[N, T]``;
    ``query_frame`` int32 ``[N]``, the first visible frame that is a multiple of 5 (as in the real files);
    ``native_hw`` int32 ``[2]`` = (H, W) (the clip is its own native resolution); ``is_fg`` bool ``[N]``,
    True for points on a sprite. Queries come from ``sample_queries(clip, num_points, seed, "strided")``.
    """
    queries = sample_queries(clip, num_points, seed=seed, mode="strided")
    tracks, occluded = clip.track(queries)
    strided_visible = ~occluded & (np.arange(clip.num_frames) % _QUERY_STRIDE == 0)
    # Every strided query frame is visible, so each row has a visible strided frame.
    query_frame = np.argmax(strided_visible, axis=1).astype(np.int32)
    query_xy = queries[:, 1:].astype(np.float64)
    layer = np.array([clip.visible_layer(int(t), xy) for t, xy in zip(queries[:, 0], query_xy)])
    points = (tracks + TAPVID_PIXEL_OFFSET).astype(np.float32)
    points[occluded] = np.nan
    with atomic_open(path, "wb") as handle:
        np.savez(handle, video=clip.video, points=points, occluded=occluded, query_frame=query_frame,
                 native_hw=np.array([clip.height, clip.width], np.int32), is_fg=layer > 0)


def write_frames(clip: SyntheticClip, color_dir: str | Path) -> None:
    """Write frames as ``color_dir/00000.jpg ...`` (JPEG quality 95, 4:4:4), as ``omnimotion.io.DataDir`` reads."""
    color_dir = Path(color_dir)
    for t, frame in enumerate(clip.video):
        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]),  # OpenCV writes BGR
                                   _JPEG_PARAMS)
        if not ok:
            raise ValueError(f"could not encode frame {t} of shape {frame.shape} as JPEG")
        with atomic_open(color_dir / f"{t:05d}.jpg", "wb") as handle:
            handle.write(encoded.tobytes())


def write_video(clip: SyntheticClip, path: str | Path, fps: int = 10) -> None:
    """Write ``clip.video`` as an H.264 mp4 (yuv420p, near-lossless CRF 10); height and width must be even."""
    import av  # only needed here

    if fps <= 0:
        raise ValueError(f"fps must be positive; got {fps}")
    if clip.height % 2 or clip.width % 2:
        raise ValueError(f"H.264 mp4 needs an even frame size; this clip is {clip.height}x{clip.width}: "
                         "make the clip with an even height and width")
    with atomic_open(path, "wb") as handle:
        with av.open(handle, mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = clip.width, clip.height
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "10"}
            for frame in clip.video:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode(None))
