"""omnimotion: track every pixel of a video through the whole video, through occlusions.

``track_video(video, points=..., grid=..., mask=...) -> (tracks [N, T, 2], visible [N, T])`` is the one call;
``Tracker``/``Tracks`` track more points with a fitted model; ``run`` writes tracks, videos and the model to a
folder. They are imported on first use, so that ``import omnimotion.coords`` stays light.
"""

import importlib

__version__ = "0.6.0"

__all__ = ["__version__", "track_video", "run", "fit", "Tracker", "Tracks", "OmniMotionConfig"]

_HOMES = {"track_video": "omnimotion.api", "run": "omnimotion.api", "fit": "omnimotion.train",
          "Tracker": "omnimotion.track", "Tracks": "omnimotion.track", "OmniMotionConfig": "omnimotion.config"}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'omnimotion' has no attribute {name!r}")
