"""``omnimotion view``: a local web page to click points on a run's video and see their tracks from the fitted
model (``session`` answers, ``server`` serves, ``static/`` is the page, shipped with the package)."""

from omnimotion.view.cache import CachedDataDir, TrackCache
from omnimotion.view.server import ViewerServer, make_server
from omnimotion.view.session import EXPORT_FORMATS, ViewSession

__all__ = ["ViewSession", "TrackCache", "CachedDataDir", "ViewerServer", "make_server", "EXPORT_FORMATS"]
