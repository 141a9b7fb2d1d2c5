"""Hard-example mining maps: where the model's adjacent-frame flow disagrees with the input flow
(docs/method.md#hard-example-mining).

For every frame k the model's flow k -> k+1 (k -> k-1 for the last frame) is predicted with the max-weight
sample (``use_max_loc``) and compared with the prepared flow; the 5x5-blurred end-point error in pixels is
the map ``[T, H, W]`` used to draw hard pixels. ``stride`` > 1 predicts on every stride-th pixel only and
upsamples the error (nearest), a cheap approximation for CPU runs (official: stride 1).
"""

from __future__ import annotations

import numpy as np
import torch

from omnimotion.io.datadir import DataDir
from omnimotion.train.sampler import error_map_from_flows

__all__ = ["predicted_flow", "compute_error_maps"]


@torch.no_grad()
def predicted_flow(model, frame_i: int, frame_j: int, image_hw: tuple[int, int], stride: int,
                   chunk_size: int, device: torch.device) -> np.ndarray:
    """Model flow ``[h, w, 2]`` px from frame_i to frame_j on the strided pixel grid (h = ceil(H/stride))."""
    height, width = image_hw
    ys, xs = np.mgrid[0:height:stride, 0:width:stride]
    pts = torch.from_numpy(np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float32)).to(device)
    out = []
    for start in range(0, len(pts), chunk_size):
        chunk = pts[start:start + chunk_size]
        ids = torch.full((len(chunk),), frame_i, dtype=torch.long, device=device)
        corr = model.correspondences(chunk, ids, torch.full_like(ids, frame_j), stratified=False,
                                     use_max_loc=True)
        out.append((corr.points_j - chunk).cpu())
    return torch.cat(out).numpy().reshape(ys.shape + (2,))


def compute_error_maps(model, data: DataDir, num_frames: int, image_hw: tuple[int, int], stride: int = 1,
                       chunk_size: int = 10000, device: torch.device | str = "cpu") -> np.ndarray:
    """Blurred end-point error maps float32 ``[T, H, W]`` of the model vs the prepared adjacent flows."""
    device = torch.device(device)
    maps = np.zeros((num_frames,) + tuple(image_hw), np.float32)
    was_training = model.training
    model.eval()
    try:
        for k in range(num_frames):
            target = k + 1 if k + 1 < num_frames else k - 1
            pred = predicted_flow(model, k, target, image_hw, stride, chunk_size, device)
            if stride > 1:
                pred = np.repeat(np.repeat(pred, stride, axis=0), stride, axis=1)[:image_hw[0], :image_hw[1]]
            maps[k] = error_map_from_flows(pred, data.load_flow(k, target))
    finally:
        model.train(was_training)
    return maps
