"""Synthetic videos with exact motion and occlusion ground truth, for tests and sanity checks.

``make_clip(...)`` -> ``SyntheticClip`` (``video`` uint8 [T, H, W, 3], ``layer_ids`` int16 [T, H, W],
``flow(i, j)``, ``track(queries)``); ``sample_queries``; writers for TAP-Vid ``.npz``, ``color/`` frames and mp4.
Coordinates follow ``omnimotion.coords`` (x, y pixels, integer pixel centres), except inside ``.npz`` files,
which use TAP-Vid's raster convention (+0.5) like the real evaluation files.
"""

from omnimotion.synthetic.clip import Ellipse, Layer, Polygon, SyntheticClip, render_clip
from omnimotion.synthetic.export import TAPVID_PIXEL_OFFSET, save_tapvid_npz, write_frames, write_video
from omnimotion.synthetic.scenes import MOTIONS, QUERY_MODES, make_clip, sample_queries
from omnimotion.synthetic.textures import make_texture

__all__ = [
    "SyntheticClip", "Layer", "Ellipse", "Polygon", "render_clip", "make_clip", "sample_queries",
    "make_texture", "save_tapvid_npz", "write_frames", "write_video", "MOTIONS", "QUERY_MODES",
    "TAPVID_PIXEL_OFFSET",
]
