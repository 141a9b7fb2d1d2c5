"""``Tracker``: a fitted model -> ``Tracks`` for any query points, and dense flow i -> j (docs/method.md#inference).

For each query (t, x, y) and every target frame k the tracker asks the model for the correspondence of the
query pixel from frame t to frame k (the max-weight sample along the ray, ``use_max_loc=True``) and for the
occlusion score there (light absorbed in front of the mapped point, about 1 - transmittance). Frame k is
occluded iff ``score > occlusion_th`` (official 0.99) or the point lands outside ``[0, W-1] x [0, H-1]``; at
the query frame itself the track equals the query and is visible.

Shapes and units
    queries  ``[N, 3]`` (t, x, y): t a frame index, (x, y) pixels of the *output* video (``output_hw``).
    Tracks   ``tracks [N, T, 2]`` pixels of the output video, ``occluded [N, T]`` True = occluded.
    model    works in pixels of the frames it was fitted on (``model.image_hw``). When the user's video was
             resized for fitting, pass its size as ``output_hw``: points are converted with
             ``coords.resize_points`` (pixel-area scaling) on the way in and out.

Work is split into chunks of ``chunk_size`` (query, target frame) pairs, so memory stays bounded for dense
queries: beyond the outputs (``N * T * 9`` bytes, twice that while rescaling to ``output_hw``) and one canonical
point per query, only one chunk of model activations is alive at a time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, NamedTuple, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from omnimotion.coords import inside_image, pixel_grid, resize_points
from omnimotion.io.checkpoint import load_checkpoint
from omnimotion.io.datadir import DataDir
from omnimotion.io.device import resolve_device
from omnimotion.io.threads import use_threads
from omnimotion.model import OmniMotionModel, model_from_checkpoint, variant_of
from omnimotion.model.render import project, select_max_weight
from omnimotion.track.evidence import apply_flow_evidence, check_flow_evidence_mode
from omnimotion.track.options import DEFAULT_CHUNK_SIZE, TrackConfig
from omnimotion.track.queries import validate_queries
from omnimotion.track.tracks import Tracks

__all__ = ["Tracker", "DenseFlow", "CorrespondenceModel", "load_model", "saved_track_config",
           "DEFAULT_CHUNK_SIZE", "DEFAULT_OCCLUSION_TH"]

logger = logging.getLogger(__name__)

DEFAULT_OCCLUSION_TH = 0.99


class CorrespondenceModel(Protocol):
    """What the tracker needs from a model (``omnimotion.model.OmniMotionModel`` provides it).

    ``correspondences(pts_i [n, 2] px, frame_i long [n], frame_j long [n], *, stratified, use_max_loc)``
    returns an object with ``points_j [n, 2]`` px and ``depth_j [n]``; ``occlusion_score(points_j, depth_j,
    frame_j) -> [n]``; ``num_frames``; the fitted frame size as ``image_hw`` (H, W) or ``height``/``width``.
    """

    num_frames: int

    def correspondences(self, pts_i: torch.Tensor, frame_i: torch.Tensor, frame_j: torch.Tensor, *,
                        stratified: bool = False, use_max_loc: bool = True): ...

    def occlusion_score(self, pts_j: torch.Tensor, depth_j: torch.Tensor,
                        frame_j: torch.Tensor) -> torch.Tensor: ...


class DenseFlow(NamedTuple):
    """Dense correspondence of every pixel of frame i in frame j, on the model's pixel grid ``[H, W]``.

    ``flow [H, W, 2]`` float32 (dx, dy) px: pixel (x, y) of frame i lands at (x + dx, y + dy) in frame j;
    ``occluded [H, W]`` bool, True where that point is hidden or outside frame j.
    """

    flow: np.ndarray
    occluded: np.ndarray


class Tracker:
    """Track query points through a whole video with a fitted model: ``Tracker(model)(queries) -> Tracks``.

    Args:
        model: a fitted model (see ``CorrespondenceModel``), in eval mode; its device is used.
        chunk_size: (query, target frame) pairs per model call; lower it if memory runs out.
        occlusion_th: occluded iff the occlusion score exceeds it; None takes ``model.cfg.occlusion_th``
            when the model has one, else the official 0.99.
        output_hw: (H, W) of the video the queries and tracks refer to; None = the model's frame size.
        fps: frame rate stored in the returned Tracks.
        flow_evidence: how a call with the data directory corrects the model's tracks with its flows
            (``omnimotion.track.evidence``); ``from_checkpoint`` takes the mode the model was fitted with, so
            that every entry point gives the same tracks from the same checkpoint.
        progress: show a tqdm progress bar.
        fast: with an ``OmniMotionModel``, reuse each query's source-ray work across target frames (same
            results; see ``_corresponder``); False always calls ``model.correspondences``.
    """

    def __init__(self, model: CorrespondenceModel, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 occlusion_th: float | None = None, output_hw: tuple[int, int] | None = None,
                 fps: float = 10.0, flow_evidence: str = TrackConfig.flow_evidence,
                 progress: bool = True, fast: bool = True):
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be a positive number of point-frame pairs, got {chunk_size}")
        self.model = model
        self.chunk_size = int(chunk_size)
        if occlusion_th is None:
            occlusion_th = getattr(getattr(model, "cfg", None), "occlusion_th", DEFAULT_OCCLUSION_TH)
        self.occlusion_th = float(occlusion_th)
        self.model_hw = _frame_size(model)
        self.output_hw = self.model_hw if output_hw is None else (int(output_hw[0]), int(output_hw[1]))
        self.num_frames = int(model.num_frames)
        self.fps = float(fps)
        check_flow_evidence_mode(flow_evidence)
        self.flow_evidence = flow_evidence
        self.progress = progress
        self.fast = fast

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", data_dir: str | Path | None = None,
                        threads: int = 0, **kwargs) -> Tracker:
        """Load a model saved by training (``omnimotion.io.checkpoint``) and wrap it; kwargs go to __init__.

        Unless given, the tracking settings (``flow_evidence``, ``chunk_size``, ``occlusion_th``)
        are the checkpoint's (``saved_track_config``) and ``fps`` the frame rate recorded in the data
        directory (``data_dir``, by default the one holding ``out/<expname>/`` of the checkpoint).
        ``threads``: CPU threads (0: ``OMP_NUM_THREADS`` if set, else the free cores; ``omnimotion.io.threads``).
        """
        use_threads(threads, "tracking")
        state = load_checkpoint(path, map_location="cpu")
        saved = saved_track_config(state)
        for key, value in (("flow_evidence", saved.flow_evidence), ("chunk_size", saved.chunk_size),
                           ("occlusion_th", saved.occlusion_th)):
            if kwargs.get(key) is None:
                kwargs[key] = value
        if kwargs.get("fps") is None:
            kwargs["fps"] = DataDir(data_dir or _data_dir_of(path)).recorded_fps()
        return cls(model_from_state(state, path, device), **kwargs)

    @property
    def device(self) -> torch.device:
        params = getattr(self.model, "parameters", None)
        first = next(iter(params()), None) if callable(params) else None
        return first.device if first is not None else torch.device("cpu")

    def __call__(self, queries: np.ndarray, data: DataDir | None = None) -> Tracks:
        """Track ``queries [N, 3]`` (t, x, y) in output-video pixels through every frame -> ``Tracks``.

        With ``data``, the data directory the model was fitted on, the tracks are corrected by its flows in
        mode ``self.flow_evidence``; without it they are the model's output as it is.
        """
        tracks = self._track(validate_queries(queries, self.output_hw, self.num_frames))
        return tracks if data is None else apply_flow_evidence(tracks, data, self.flow_evidence,
                                                                 progress=self.progress)

    def _track(self, queries: np.ndarray) -> Tracks:
        n, num_frames = len(queries), self.num_frames
        frames = queries[:, 0].astype(np.int64)
        correspond = self._corresponder(resize_points(queries[:, 1:], self.output_hw, self.model_hw), frames)
        tracks = np.empty((n, num_frames, 2), np.float32)
        occluded = np.empty((n, num_frames), bool)
        flat_tracks, flat_occluded = tracks.reshape(-1, 2), occluded.reshape(-1)
        # pair p = (query p // T, target frame p % T); chunks follow the row-major layout of the outputs
        total = n * num_frames
        with tqdm(total=total, desc="tracking", unit="pt-frame", unit_scale=True,
                  disable=not self.progress) as bar:
            for start in range(0, total, self.chunk_size):
                pair = np.arange(start, min(total, start + self.chunk_size))
                point, target = np.divmod(pair, num_frames)
                flat_tracks[pair], flat_occluded[pair] = correspond(point, target)
                bar.update(len(pair))
        if self.output_hw != self.model_hw:
            tracks = resize_points(tracks, self.model_hw, self.output_hw)
        occluded |= ~inside_image(tracks, *self.output_hw)
        at_query = (np.arange(n), frames)
        tracks[at_query] = queries[:, 1:]
        occluded[at_query] = False
        return Tracks(tracks, occluded, queries, self.output_hw, self.fps)

    def flow(self, frame_i: int, frame_j: int) -> DenseFlow:
        """Dense flow of every pixel of frame i to frame j on the model's pixel grid (see ``DenseFlow``)."""
        for name, frame in (("frame_i", frame_i), ("frame_j", frame_j)):
            if not 0 <= int(frame) < self.num_frames:
                raise ValueError(f"{name}={frame} is outside the video's frames 0..{self.num_frames - 1}")
        h, w = self.model_hw
        if frame_i == frame_j:
            return DenseFlow(np.zeros((h, w, 2), np.float32), np.zeros((h, w), bool))
        grid = pixel_grid(h, w).reshape(-1, 2)
        correspond = self._corresponder(grid, np.full(len(grid), frame_i, np.int64))
        landed = np.empty_like(grid)
        occluded = np.empty(len(grid), bool)
        for start in tqdm(range(0, len(grid), self.chunk_size), desc=f"flow {frame_i}->{frame_j}",
                          disable=not self.progress):
            rows = np.arange(start, min(len(grid), start + self.chunk_size))
            landed[rows], occluded[rows] = correspond(rows, np.full(len(rows), frame_j, np.int64))
        occluded |= ~inside_image(landed, h, w)
        return DenseFlow((landed - grid).reshape(h, w, 2), occluded.reshape(h, w))

    def _corresponder(self, pts_i: np.ndarray,
                      frame_i: np.ndarray) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """For source pixels ``pts_i [N, 2]`` (model grid) of frames ``frame_i [N]``: a function of (source
        index ``[n]``, target frames ``[n]``) -> (pixels ``[n, 2]`` in the targets, occluded ``[n]``).

        With an ``OmniMotionModel`` (whose named steps it uses) and ``fast``, the source-ray work is done
        once per source: each pixel's max-weight canonical point (docs/method.md#correspondence-between-frames)
        is found up front, and each target then costs one inverse mapping plus the occlusion ray, instead of a whole
        source ray too (benchmarks/NOTES.md). The result is the same as
        ``model.correspondences(..., use_max_loc=True)``, which the other path calls.
        """
        if self.fast and isinstance(self.model, OmniMotionModel):
            anchors = self._canonical_anchors(pts_i, frame_i)
            return lambda index, frame_j: self._land(anchors[torch.from_numpy(index)], frame_j)
        return lambda index, frame_j: self._correspond(pts_i[index], frame_i[index], frame_j)

    @torch.no_grad()
    def _canonical_anchors(self, pts_i: np.ndarray, frame_i: np.ndarray) -> torch.Tensor:
        """Canonical point ``[N, 3]`` of the largest weight on each source pixel's ray (on the model device)."""
        model, device = self.model, self.device
        anchors = []
        for start in range(0, len(pts_i), self.chunk_size):
            rows = slice(start, start + self.chunk_size)
            pts = torch.as_tensor(pts_i[rows], dtype=torch.float32, device=device)
            samples, _ = model.lift(pts, stratified=False)
            canonical = model.to_canonical(samples, torch.as_tensor(frame_i[rows], device=device))
            weights, _ = model.ray_weights(canonical)
            anchors.append(select_max_weight(weights, canonical))
        return torch.cat(anchors)

    @torch.no_grad()
    def _land(self, anchors: torch.Tensor, frame_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canonical points ``[n, 3]`` -> (pixels ``[n, 2]`` in frames ``frame_j [n]``, occluded ``[n]``)."""
        fj = torch.as_tensor(frame_j, dtype=torch.long, device=anchors.device)
        local = self.model.from_canonical(anchors[:, None], fj)[:, 0]
        points_j, depth_j = project(local, *self.model_hw)
        score = self.model.occlusion_score(points_j, depth_j, fj)
        return points_j.float().cpu().numpy(), (score.reshape(-1) > self.occlusion_th).cpu().numpy()

    @torch.no_grad()
    def _correspond(self, pts_i: np.ndarray, frame_i: np.ndarray,
                    frame_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One ``model.correspondences`` call: pixels ``[n, 2]`` of frames ``frame_i [n]`` -> (pixels ``[n, 2]``
        in frames ``frame_j [n]``, occluded by the score test ``[n]``), all on the model's pixel grid."""
        device = self.device
        pts = torch.as_tensor(pts_i, dtype=torch.float32, device=device)
        fi = torch.as_tensor(frame_i, dtype=torch.long, device=device)
        fj = torch.as_tensor(frame_j, dtype=torch.long, device=device)
        corr = self.model.correspondences(pts, fi, fj, stratified=False, use_max_loc=True)
        score = self.model.occlusion_score(corr.points_j, corr.depth_j, fj)
        return (corr.points_j.detach().float().cpu().numpy(),
                (score.detach().reshape(-1) > self.occlusion_th).cpu().numpy())

def load_model(path: str | Path, device: str = "auto") -> torch.nn.Module:
    """The fitted model of a training checkpoint, in eval mode on ``device`` (auto|cpu|cuda): the model of
    the variant the checkpoint names (``omnimotion.model.factory``), e.g. an ``OmniMotionModel`` or, for a
    ``method = surface`` checkpoint, a ``SurfaceModel``.

    The checkpoint must hold the resolved ``config`` and ``image_hw`` (written by ``omnimotion train``);
    official checkpoints lack them and are refused with a message saying so.
    """
    return model_from_state(load_checkpoint(path, map_location="cpu"), path, device)


def saved_track_config(state: dict) -> TrackConfig:
    """The tracking settings of the configuration a checkpoint was trained with (``TrackConfig.from_saved``)."""
    return TrackConfig.from_saved(state.get("config", {}))


def model_from_state(state: dict, path: str | Path, device: str = "auto") -> torch.nn.Module:
    """``load_model`` from a checkpoint already read (``path`` names it in errors)."""
    model = model_from_checkpoint(state, path)
    height, width = _frame_size(model)
    logger.info("loaded %s (%s): %d frames of %dx%d", path, variant_of(model), model.num_frames, width, height)
    return model.to(resolve_device(device)).eval()


def _data_dir_of(checkpoint: str | Path) -> Path:
    """The data directory of a checkpoint saved by training as ``DATA_DIR/out/<expname>/model_*.pth``."""
    parents = Path(checkpoint).resolve().parents
    return parents[2] if len(parents) > 2 else parents[-1]


def _frame_size(model) -> tuple[int, int]:
    """(H, W) of the frames the model was fitted on."""
    if hasattr(model, "image_hw"):
        return int(model.image_hw[0]), int(model.image_hw[1])
    return int(model.height), int(model.width)
