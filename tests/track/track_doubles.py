"""Test helpers (imported by name, not a conftest, so as not to clash with other tests' conftest modules).

An analytic stand-in for OmniMotionModel on a layered synthetic clip, and the clip itself.

``LayeredClipModel`` answers the two calls the tracker makes the way a perfectly fitted OmniMotion model
would: ``correspondences`` maps a pixel with the affine motion of the layer visible there (its "max-weight
sample") and returns that layer's depth; ``occlusion_score`` is the light absorbed in front of the mapped
point, 1 where a nearer layer covers it in frame j and 0 elsewhere. It knows nothing of frame borders, so the
out-of-frame test is the tracker's own.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import numpy as np
import torch

from omnimotion.synthetic.clip import Layer, Polygon, render_clip

HEIGHT, WIDTH, FRAMES = 48, 64, 12


class LayeredClipModel:
    def __init__(self, clip, bias_px: float = 0.0):
        self.clip = clip
        self.num_frames = clip.num_frames
        self.image_hw = (clip.height, clip.width)
        # farthest layer first: background at depth 1.5, each sprite nearer
        self.depths = np.linspace(1.5, 0.5, len(clip.layers))
        self.bias_px = bias_px
        self.largest_call = 0

    def correspondences(self, pts_i, frame_i, frame_j, *, stratified=False, use_max_loc=True):
        assert use_max_loc and not stratified, "tracking must use the deterministic max-weight sample"
        self.largest_call = max(self.largest_call, len(pts_i))
        pts = pts_i.numpy().astype(np.float64)
        fi, fj = frame_i.numpy(), frame_j.numpy()
        out = np.empty_like(pts)
        depth = np.empty(len(pts))
        layer = np.empty(len(pts), int)
        for i in np.unique(fi):
            layer[fi == i] = self.clip.visible_layer(int(i), pts[fi == i])
        for i, j, k in {(int(a), int(b), int(c)) for a, b, c in zip(fi, fj, layer)}:
            group = (fi == i) & (fj == j) & (layer == k)
            affine = self.clip.layers[k].relative(i, j)
            out[group] = pts[group] @ affine[:, :2].T + affine[:, 2]
            depth[group] = self.depths[k]
        return SimpleNamespace(points_j=torch.from_numpy(out + self.bias_px).float(),
                               depth_j=torch.from_numpy(depth).float())

    def occlusion_score(self, pts_j, depth_j, frame_j):
        pts, depth, fj = pts_j.numpy().astype(np.float64), depth_j.numpy(), frame_j.numpy()
        score = np.zeros(len(pts), np.float32)
        for j in np.unique(fj):
            at_j = fj == j
            for k, layer in enumerate(self.clip.layers):
                in_front = at_j & (self.depths[k] < depth - 0.06875)
                score[in_front & layer.covers(int(j), pts)] = 1.0
        return torch.from_numpy(score)


@lru_cache(maxsize=1)
def translating_clip():
    """48x64, 12 frames: background drifts +1 px/frame in x; a 14x14 square crosses it at +4 px/frame in x
    and +1 px/frame in y, hiding background points as it passes."""
    rng = np.random.default_rng(0)
    t = np.arange(FRAMES, dtype=np.float64)
    background = np.zeros((FRAMES, 2, 3))
    background[:, 0, 0] = background[:, 1, 1] = 1.0
    background[:, 0, 2] = t
    square = background.copy()
    square[:, 0, 2] = 2.0 + 4.0 * t
    square[:, 1, 2] = 12.0 + 1.0 * t
    layers = [Layer(rng.integers(0, 256, (HEIGHT, WIDTH + FRAMES, 3), dtype=np.uint8), background),
              Layer(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), square,
                    Polygon(np.array([[0.0, 0.0], [14.0, 0.0], [14.0, 14.0], [0.0, 14.0]])))]
    return render_clip(layers, HEIGHT, WIDTH)



def write_exact_data_dir(clip, root):
    """A prepared data directory for ``clip`` with its exact flows: every ordered pair's flow, masks
    (reliable where the point stays visible; occluded-but-reliable for short gaps, as the official filter
    keeps them), count maps and flow statistics. Returns the DataDir."""
    import cv2

    from omnimotion.coords import inside_image, pixel_grid
    from omnimotion.io.datadir import DataDir

    data = DataDir(root)
    data.color_dir.mkdir(parents=True)
    for t, frame in enumerate(clip.video):
        cv2.imwrite(str(data.color_dir / f"{t:05d}.png"), frame[..., ::-1])
    grid = pixel_grid(clip.height, clip.width)
    stats = {}
    for i in range(clip.num_frames):
        counts = np.zeros((clip.height, clip.width), np.uint16)
        stats[data.frame_names[i]] = {}
        for j in range(clip.num_frames):
            if i == j:
                continue
            flow, occluded = clip.flow(i, j)
            occluded_reliable = occluded & inside_image(grid + flow, clip.height, clip.width) & (abs(i - j) < 3)
            data.save_flow(i, j, flow)
            data.save_mask(i, j, ~occluded, occluded_reliable)
            counts += ~occluded | occluded_reliable
            stats[data.frame_names[i]][data.frame_names[j]] = int((~occluded | occluded_reliable).sum())
        data.save_count_map(i, counts)
    data.save_flow_stats(stats)
    return data
