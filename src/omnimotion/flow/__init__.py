"""Optical-flow backends behind one interface: ``get_backend(name, **options)(image_a, image_b) -> flow``.

Images are uint8 RGB ``[H, W, 3]``; flow is float32 ``[H, W, 2]``, (dx, dy) pixels from a to b.
``dis`` (OpenCV DIS, no weights) is the default; ``raft`` needs the optional torchvision extra.
"""

from omnimotion.flow.base import FlowBackend, FlowBackendError, available_backends, get_backend
from omnimotion.flow.opencv import DIS_PRESETS, DisFlow
from omnimotion.flow.raft import RaftFlow

__all__ = ["FlowBackend", "FlowBackendError", "available_backends", "get_backend", "DisFlow", "DIS_PRESETS",
           "RaftFlow"]
