"""RAFT optical flow through torchvision (optional extra: ``pip install "omnimotion[raft]"``).

Input uint8 RGB ``[H, W, 3]`` x2 -> float32 ``[H, W, 2]`` (dx, dy) pixels from a to b. Images are padded
(replicate) to a multiple of 8 as RAFT requires, and the flow is cropped back. torchvision's RAFT takes no
initial flow, so the official warm start between consecutive targets is not available here.

Weights: a state dict given as ``weights=PATH``, or the file torchvision downloads into its cache
(``<torch hub dir>/checkpoints/raft_large*.pth`` or ``raft_small*.pth``). Nothing is downloaded here. Both
key layouts load: torchvision's, and the authors' (princeton-vl ``raft-things.pth``, ``raft-small.pth``, with
or without ``nn.DataParallel``'s ``module.`` prefix), renamed by ``torchvision_state_dict``; the variant
(large or small) is read from the file's keys. torchvision is checked when the backend is made, before any
output is written.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np

from omnimotion.flow.base import FlowBackendError, check_image_pair

__all__ = ["RaftFlow", "find_cached_weights", "torchvision_state_dict", "is_small_raft"]

# The authors' parameter names -> torchvision's (``/work/shared/models/README.md`` lists them for RAFT-small).
# torchvision wraps each conv with its norm and activation in a Sequential: conv ``.0``, norm ``.1``.
_AUTHORS_TO_TORCHVISION = [
    (r"^fnet\.", "feature_encoder."),
    (r"^cnet\.", "context_encoder."),
    (r"^(feature|context)_encoder\.conv1\.", r"\1_encoder.convnormrelu.0."),
    (r"^(feature|context)_encoder\.norm1\.", r"\1_encoder.convnormrelu.1."),
    (r"^(feature|context)_encoder\.conv2\.", r"\1_encoder.conv."),
    (r"\.(layer\d\.\d)\.conv(\d)\.", r".\1.convnormrelu\2.0."),
    (r"\.(layer\d\.\d)\.norm([12])\.", r".\1.convnormrelu\2.1."),
    (r"^update_block\.encoder\.convc(\d)\.", r"update_block.motion_encoder.convcorr\1.0."),
    (r"^update_block\.encoder\.convf(\d)\.", r"update_block.motion_encoder.convflow\1.0."),
    (r"^update_block\.encoder\.conv\.", "update_block.motion_encoder.conv.0."),
    (r"^update_block\.gru\.conv([zrq])(\d)\.", r"update_block.recurrent_block.convgru\2.conv\1."),
    (r"^update_block\.gru\.conv([zrq])\.", r"update_block.recurrent_block.convgru1.conv\1."),
    (r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0."),
    (r"^update_block\.mask\.2\.", "mask_predictor.conv."),
]
# In the authors' ResidualBlock the downsampling norm is registered twice (``norm3`` and ``downsample.1``);
# torchvision keeps the ``downsample.1`` copy.
_AUTHORS_DUPLICATES = re.compile(r"\.layer\d\.\d\.norm3\.")


def torchvision_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    """A RAFT state dict in torchvision's key layout: torchvision's is returned as it is (less a ``module.``
    prefix), the authors' is renamed (values and order unchanged)."""
    state = {key.removeprefix("module."): value for key, value in state.items()}
    if not any(key.startswith(("fnet.", "cnet.")) for key in state):
        return state
    renamed = {}
    for key, value in state.items():
        if _AUTHORS_DUPLICATES.search(key):
            continue
        for pattern, replacement in _AUTHORS_TO_TORCHVISION:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return renamed


def is_small_raft(state: dict[str, Any]) -> bool:
    """RAFT-small has no learned upsampling mask (large: ``mask_predictor.*`` or the authors' ``mask.*``)."""
    return not any(".mask." in f".{key}" or key.startswith("mask_predictor.") for key in
                   torchvision_state_dict(state))

_HOW_TO_GET = (
    'install the extra with: pip install "omnimotion[raft]"; then either download torchvision\'s weights once '
    "(python -c \"from torchvision.models.optical_flow import {fn}, {enum}; {fn}(weights={enum}.DEFAULT)\", "
    "which stores them in {cache}) or pass a RAFT weights file with --raft_weights PATH"
)


def _hub_checkpoint_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def find_cached_weights(small: bool = False) -> Path | None:
    """The newest torchvision RAFT weights file in torch's hub cache, or None."""
    pattern = "raft_small*.pth" if small else "raft_large*.pth"
    found = sorted(_hub_checkpoint_dir().glob(pattern))
    return found[-1] if found else None


class RaftFlow:
    """torchvision RAFT (large or small); the network is built on the first call (instances pickle)."""

    name = "raft"

    def __init__(self, weights: str | Path | None = None, small: bool = False, iters: int = 20,
                 device: str = "auto"):
        self.small = bool(small)
        self.iters = int(iters)
        self.device = device
        if importlib.util.find_spec("torchvision") is None:  # first: without it no weights file helps
            raise FlowBackendError('the raft flow backend needs torchvision, which is not installed: pip install '
                                   '"omnimotion[raft]" (the raft extra), or use --flow dis')
        self.weights = self._resolve_weights(weights)
        if weights is not None:  # the file says which variant it is
            self.small = is_small_raft(self._load_state())
        self._model: Any = None
        self._torch_device: Any = None

    def _load_state(self) -> dict[str, Any]:
        """The weights file's state dict, in the layout it was saved in."""
        import torch

        try:
            state = torch.load(self.weights, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types (pickle, zip, runtime) for damaged files
            raise FlowBackendError(f"RAFT weights file {self.weights} is unreadable ({type(err).__name__}: "
                                   f"{err}); pass a RAFT state dict saved with torch.save") from err
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        if not isinstance(state, dict):
            raise FlowBackendError(f"RAFT weights file {self.weights} holds a {type(state).__name__}, not a "
                                   "state dict")
        return state

    def _resolve_weights(self, weights: str | Path | None) -> Path:
        fn, enum = ("raft_small", "Raft_Small_Weights") if self.small else ("raft_large", "Raft_Large_Weights")
        how = _HOW_TO_GET.format(fn=fn, enum=enum, cache=_hub_checkpoint_dir())
        if weights is not None:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise FlowBackendError(f"RAFT weights file {path} does not exist; {how}")
            return path
        cached = find_cached_weights(self.small)
        if cached is None:
            raise FlowBackendError(f"no RAFT weights found (looked in {_hub_checkpoint_dir()}); {how}")
        return cached

    def _build(self) -> None:
        import torch
        from torchvision.models.optical_flow import raft_large, raft_small

        model = (raft_small if self.small else raft_large)(weights=None, progress=False)
        try:
            model.load_state_dict(torchvision_state_dict(self._load_state()))
        except RuntimeError as err:
            raise FlowBackendError(
                f"{self.weights} is not a RAFT {'small' if self.small else 'large'} state dict in torchvision's "
                f"or the authors' layout ({str(err).splitlines()[0]})") from err
        device = "cuda" if self.device == "auto" and torch.cuda.is_available() else self.device
        device = "cpu" if device == "auto" else device
        self._torch_device = torch.device(device)
        self._model = model.eval().to(self._torch_device)

    def __call__(self, image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
        check_image_pair(image_a, image_b)
        if self._model is None:
            self._build()
        import torch
        import torch.nn.functional as F

        height, width = image_a.shape[:2]
        pad_h, pad_w = _padding(height), _padding(width)
        # Same split as the official InputPadder: half of the padding on each side.
        pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        batch = torch.from_numpy(np.stack([image_a, image_b])).permute(0, 3, 1, 2).float()
        batch = batch.to(self._torch_device) / 127.5 - 1.0  # torchvision RAFT expects [-1, 1]
        batch = F.pad(batch, pads, mode="replicate")
        with torch.inference_mode():
            flow = self._model(batch[:1], batch[1:], num_flow_updates=self.iters)[-1][0]
        flow = flow[:, pads[2]:pads[2] + height, pads[0]:pads[0] + width]
        return np.ascontiguousarray(flow.permute(1, 2, 0).cpu().numpy(), dtype=np.float32)

    @property
    def options(self) -> dict:
        """The options that define the flows (the device does not)."""
        return {"weights": str(self.weights), "small": self.small, "iters": self.iters}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_model=None, _torch_device=None)
        return state

    def __repr__(self) -> str:
        return f"RaftFlow(weights={str(self.weights)!r}, small={self.small}, iters={self.iters})"


MIN_SIDE = 128
"""torchvision's RAFT needs feature maps of at least 16 cells (inputs of 128 px) for its correlation pyramid."""


def _padding(size: int) -> int:
    """Pixels to add to one side length: up to a multiple of 8 and at least MIN_SIDE."""
    return max(MIN_SIDE, size + (-size) % 8) - size
