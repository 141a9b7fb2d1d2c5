"""OpenCV DIS optical flow (Kroeger et al. 2016): the default backend, needs no weights.

Input uint8 RGB ``[H, W, 3]`` x2 -> float32 ``[H, W, 2]`` (dx, dy) pixels from a to b. DIS works on grayscale;
colour is converted with OpenCV's luma weights. It is deterministic for fixed inputs and preset.

Presets: OpenCV's three; ``fine``: ``medium`` with the patch search run down to full resolution (OpenCV's
``medium`` stops at half resolution and upsamples) and a weaker variational smoothness: more accurate chained
flows for several times the flow time (``benchmarks/bench_supervision_quality.py``; figures in
benchmarks/NOTES.md).

``fine2x`` (the default) runs ``fine`` on both frames upscaled 2x (bicubic) and scales the flow back down (area
average, /2). DIS's 8-px patches then span 4 px of the frame, so thin and small parts (limbs, a small dog under
a pan) are less often given their surroundings' motion, for several times the flow time of ``fine``. Why 2x and
not 3x or ``fine``'s own knobs: benchmarks/NOTES.md.
"""

from __future__ import annotations

import cv2
import numpy as np

from omnimotion.flow.base import FlowBackendError, check_image_pair

__all__ = ["DisFlow", "DIS_PRESETS", "DEFAULT_DIS_PRESET"]

_FINE = {"FinestScale": 0, "VariationalRefinementAlpha": 10.0}
# name -> (OpenCV preset, settings applied over it by their DISOpticalFlow setter names, upscale factor)
DIS_PRESETS: dict[str, tuple[int, dict[str, float], int]] = {
    "ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, {}, 1),
    "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, {}, 1),
    "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, {}, 1),
    "fine": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, _FINE, 1),
    "fine2x": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, _FINE, 2),
}
DEFAULT_DIS_PRESET = "fine2x"


class DisFlow:
    """DIS flow with a named preset; the OpenCV object is created lazily (so instances pickle)."""

    name = "dis"

    def __init__(self, preset: str = DEFAULT_DIS_PRESET):
        if preset not in DIS_PRESETS:
            raise FlowBackendError(f"unknown DIS preset {preset!r}; choose one of: {', '.join(DIS_PRESETS)}")
        self.preset = preset
        self._dis: cv2.DISOpticalFlow | None = None

    def __call__(self, image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
        check_image_pair(image_a, image_b)
        if self._dis is None:
            self._dis = _create_dis(self.preset)
        height, width = image_a.shape[:2]
        scale = DIS_PRESETS[self.preset][2]
        gray_a, gray_b = (_upscaled(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), scale) for image in (image_a, image_b))
        flow = self._dis.calc(gray_a, gray_b, None)
        if scale != 1:
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_AREA) / scale
        return np.ascontiguousarray(flow, dtype=np.float32)

    @property
    def options(self) -> dict:
        """The options that define the flows (recorded by the pipeline to detect a change)."""
        return {"preset": self.preset}

    def __getstate__(self) -> dict:
        return {"preset": self.preset, "_dis": None}

    def __repr__(self) -> str:
        return f"DisFlow(preset={self.preset!r})"


def _upscaled(gray: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return gray
    height, width = gray.shape
    return cv2.resize(gray, (width * scale, height * scale), interpolation=cv2.INTER_CUBIC)


def _create_dis(preset: str) -> cv2.DISOpticalFlow:
    base, settings, _ = DIS_PRESETS[preset]
    dis = cv2.DISOpticalFlow_create(base)
    for name, value in settings.items():
        getattr(dis, f"set{name}")(value)
    return dis
