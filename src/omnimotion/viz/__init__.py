"""Pictures of tracks and of what a model learned: pure drawing (``draw``) and file writers (``videos``).

Conventions: ``omnimotion.coords`` (tracks [N, T, 2] (x, y) px, occluded [N, T] True = occluded); images and
videos uint8 RGB ``[H, W, 3]`` / ``[T, H, W, 3]``.
"""

from omnimotion.viz.draw import (colorize_depth, draw_summary, draw_tracks, draw_tracks_video, index_colors,
                                 position_colors, rgb_to_uint8, side_by_side)
from omnimotion.viz.videos import (PICTURE_SIDE, load_picture_frames, picture_hw, point_radius, render_color_frames,
                                   render_depth_frames, write_color_video, write_depth_video, write_grid_video,
                                   write_summary_png, write_tracks_video)

__all__ = ["draw_tracks", "draw_tracks_video", "draw_summary", "side_by_side", "index_colors", "position_colors",
           "colorize_depth", "rgb_to_uint8", "write_tracks_video", "write_grid_video", "write_summary_png",
           "write_depth_video", "write_color_video", "render_depth_frames", "render_color_frames",
           "point_radius", "picture_hw", "load_picture_frames", "PICTURE_SIDE"]
