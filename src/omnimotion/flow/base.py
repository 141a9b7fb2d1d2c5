"""The optical-flow backend interface and the registry of backends.

A backend is a callable ``backend(image_a, image_b) -> flow``:

- ``image_a``, ``image_b``: uint8 RGB ``[H, W, 3]``, the same size.
- ``flow``: float32 ``[H, W, 2]``, ``flow[y, x] = (dx, dy)`` in pixels: pixel ``(x, y)`` of ``image_a`` lands
  at ``(x + dx, y + dy)`` in ``image_b`` (the convention of ``omnimotion.coords``).

Backends are picklable (heavy state is built lazily on first call), so the exhaustive-pair driver can ship
one to worker processes. A backend may expose ``options`` (a JSON-able dict of the settings that define its
flows); the preprocessing pipeline records it to notice a change of settings on resume.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

__all__ = ["FlowBackend", "FlowBackendError", "get_backend", "available_backends", "check_image_pair"]


@runtime_checkable
class FlowBackend(Protocol):
    """Dense optical flow from one RGB frame to another."""

    name: str

    def __call__(self, image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
        """uint8 RGB ``[H, W, 3]`` x2 -> float32 ``[H, W, 2]`` flow (dx, dy) in pixels from a to b."""
        ...


class FlowBackendError(ValueError):
    """A flow backend cannot be built: unknown name, bad option, missing optional dependency or weights."""


def _make_dis(**options: Any) -> FlowBackend:
    from omnimotion.flow.opencv import DisFlow

    return DisFlow(**options)


def _make_raft(**options: Any) -> FlowBackend:
    from omnimotion.flow.raft import RaftFlow

    return RaftFlow(**options)


# Name -> factory; factories import their module lazily so that torchvision is only needed for "raft".
_FACTORIES: dict[str, Callable[..., FlowBackend]] = {"dis": _make_dis, "raft": _make_raft}


def available_backends() -> list[str]:
    return sorted(_FACTORIES)


def get_backend(name: str = "dis", **options: Any) -> FlowBackend:
    """Build the backend called ``name`` with backend-specific ``options``.

    ``name`` may carry a preset after a colon (``"dis:medium"``), the same as ``preset="medium"``.
    ``dis``: ``preset`` in {"ultrafast", "fast", "medium", "fine", "fine2x"} (default "fine2x").
    ``raft``: ``weights`` (path to a torchvision RAFT state dict; default: torchvision's weights cache),
    ``small`` (bool), ``iters`` (refinement iterations, default 20 as the official preprocessing),
    ``device`` ("auto", "cpu", "cuda").
    """
    name, _, preset = name.partition(":")
    if preset:
        options = {**options, "preset": preset}
    factory = _FACTORIES.get(name)
    if factory is None:
        raise FlowBackendError(f"unknown flow backend {name!r}; choose one of: {', '.join(available_backends())}")
    try:
        return factory(**options)
    except TypeError as err:  # unexpected keyword: name it instead of a bare signature error
        raise FlowBackendError(f"bad option for flow backend {name!r}: {err}") from err


def check_image_pair(image_a: np.ndarray, image_b: np.ndarray) -> None:
    """Raise ValueError unless both images are uint8 ``[H, W, 3]`` of one size."""
    for label, image in (("image_a", image_a), ("image_b", image_b)):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{label} must be uint8 [H, W, 3] RGB, got {image.dtype} {image.shape}")
    if image_a.shape != image_b.shape:
        raise ValueError(f"images differ in size: {image_a.shape} vs {image_b.shape}")
