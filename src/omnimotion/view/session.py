"""``ViewSession``: one run directory and its fitted model, answering the viewer's questions.

Everything model-facing goes through the package's own tracking path, so a point clicked in the viewer gets
the track ``omnimotion track --points X,Y@T`` writes: ``Tracker`` (same occlusion threshold; the chunk size
changes only the speed) followed by ``apply_flow_evidence`` with the same default mode (the checkpoint's).
Points are independent of each other in both steps, so tracks are computed once per query and kept in a
bounded cache (``TrackCache``): exports and videos of what was already shown cost no model calls. The flow
files read for the evidence are kept too (``CachedDataDir``): further clicks on a frame skip reading them.

Pixels: queries and tracks are in pixels of the run's ``color/`` frames (what the page shows); exports are
in pixels of the source video when ``source.json`` records its size (as ``track --video_size source``),
else of the frames. Frames are counted from 0.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from omnimotion.io.checkpoint import load_checkpoint
from omnimotion.io.datadir import DataDir
from omnimotion.io.video import write_video
from omnimotion.model import OmniMotionModel
from omnimotion.track import Tracker, Tracks, apply_flow_evidence, grid_queries, save_tracks
from omnimotion.track.evidence import EVIDENCE_GAPS, check_flow_evidence_mode
from omnimotion.track.gapflows import GapFlows
from omnimotion.track.queries import QueryError, validate_queries
from omnimotion.track.options import DEFAULT_CHUNK_SIZE, TrackConfig
from omnimotion.track.tracker import load_model, saved_track_config
from omnimotion.view.cache import CachedDataDir, TrackCache
from omnimotion.viz import draw_tracks, point_radius, render_depth_frames

__all__ = ["ViewSession", "ProgressCallback", "EXPORT_FORMATS", "PART_POINTS", "SURFACE_CHUNK_SIZE"]

EXPORT_FORMATS = ("csv", "json", "npz")
PART_POINTS = 256
"""Queries tracked per step of a large request; progress is reported after each step."""
SURFACE_CHUNK_SIZE = 4096
"""Point-frame pairs per model call for the surface model (``omnimotion run``'s): a 4096-point region of a
32-frame 256x256 run took 1.2 CPU-s against 2.1 with the tracker's default 1024 (one thread). The faithful
model keeps 1024: 4096 took 8.0 CPU-s against 5.8 for 512 points (``benchmarks/bench_dense_tracking.py``).
Chunking does not change the tracks."""

ProgressCallback = Callable[[int, int], None]
"""Called with (points done, points in all) while a request is tracked."""


class ViewSession:
    """A run directory (``color/`` frames, flows) with its fitted model, shared by the server's threads.

    Args:
        data: the run's data directory.
        tracker: a ``Tracker`` for its model, in the pixels of ``data``'s frames.
        flow_evidence: mode of ``apply_flow_evidence`` (``ViewSession.open`` takes the checkpoint's).
        checkpoint: the checkpoint's path, shown on the page.
    """

    def __init__(self, data: DataDir, tracker: Tracker, flow_evidence: str = TrackConfig.flow_evidence,
                 checkpoint: Path | None = None):
        if tracker.num_frames != data.num_frames or tracker.model_hw != data.image_hw:
            where = checkpoint or "the model"
            raise ValueError(f"{where} was trained on {tracker.num_frames} frames of {tracker.model_hw[1]}x"
                             f"{tracker.model_hw[0]} but {data.color_dir} has {data.num_frames} of "
                             f"{data.image_hw[1]}x{data.image_hw[0]}; pass the checkpoint trained on this run")
        check_flow_evidence_mode(flow_evidence)
        self.data = data
        self.tracker = tracker
        self.flow_evidence = flow_evidence
        self.checkpoint = checkpoint
        info = data.load_source_info()
        self.export_hw = tuple(info["native_hw"]) if info else data.image_hw
        self.cache = TrackCache()
        self._model_lock = threading.Lock()  # one model call at a time: two would only compete for the cores
        self._depth: np.ndarray | None = None
        self._warming: set[int] = set()
        self._warming_lock = threading.Lock()

    @classmethod
    def open(cls, run_dir: str | Path, checkpoint: str | Path, *, device: str = "auto",
             flow_evidence: str | None = None, occlusion_th: float | None = None,
             chunk_size: int | None = None) -> ViewSession:
        """Load ``checkpoint`` for the run in ``run_dir`` (a data directory: ``omnimotion run``'s output);
        ``flow_evidence`` and ``occlusion_th`` None take the checkpoint's tracking settings, as ``omnimotion
        track`` does; ``chunk_size`` None picks the faster one for the model's kind (``SURFACE_CHUNK_SIZE``)."""
        saved = saved_track_config(load_checkpoint(checkpoint, map_location="cpu"))
        flow_evidence = saved.flow_evidence if flow_evidence is None else flow_evidence
        occlusion_th = saved.occlusion_th if occlusion_th is None else occlusion_th
        data = CachedDataDir(run_dir)
        model = load_model(checkpoint, device)
        if chunk_size is None:
            chunk_size = DEFAULT_CHUNK_SIZE if isinstance(model, OmniMotionModel) else SURFACE_CHUNK_SIZE
        tracker = Tracker(model, chunk_size=chunk_size, occlusion_th=occlusion_th, fps=data.recorded_fps(),
                          progress=False)
        if flow_evidence != "none":  # before the first click, not during it
            GapFlows.for_data(data).compute(EVIDENCE_GAPS)
        return cls(data, tracker, flow_evidence, Path(checkpoint))

    @property
    def num_frames(self) -> int:
        return self.data.num_frames

    @property
    def image_hw(self) -> tuple[int, int]:
        return self.data.image_hw

    @property
    def has_depth(self) -> bool:
        return callable(getattr(self.tracker.model, "render_depth", None))

    def info(self) -> dict:
        """What the page needs to know about the run (JSON-ready)."""
        return {"name": self.data.root.resolve().name, "num_frames": self.num_frames,
                "image_hw": list(self.image_hw), "export_hw": list(self.export_hw), "fps": self.tracker.fps,
                "has_depth": self.has_depth, "flow_evidence": self.flow_evidence,
                "checkpoint": self.checkpoint.name if self.checkpoint else None}

    def frame_file(self, index: int) -> Path:
        """The ``color/`` file of frame ``index`` (IndexError outside the video)."""
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame {index} is outside 0..{self.num_frames - 1}")
        return self.data.frame_path(index)

    def check_queries(self, queries: np.ndarray) -> np.ndarray:
        """``queries [N, 3]`` (t, x, y) in frame pixels, validated (QueryError names the bad one)."""
        return validate_queries(queries, self.image_hw, self.num_frames)

    def track(self, queries: np.ndarray, progress: ProgressCallback | None = None) -> Tracks:
        """Tracks of ``queries [N, 3]`` in frame pixels: from the cache, the rest through the tracker in steps
        of ``PART_POINTS`` (``progress`` after each), then corrected with the flows all at once (the flow
        files are read once per query frame, not once per step)."""
        queries = self.check_queries(queries)
        missing = np.asarray([i for i, query in enumerate(queries) if self.cache.get(query) is None], np.int64)
        if len(missing):
            self.cache.put(self._track_through_model(queries[missing], len(queries) - len(missing), len(queries),
                                                     progress))
        # a query evicted by a concurrent request is tracked again
        rows = [self.cache.get(query) or _row(self._track_through_model(query[None])) for query in queries]
        return Tracks(np.stack([row[0] for row in rows]), np.stack([row[1] for row in rows]), queries,
                      self.image_hw, self.tracker.fps)

    def region_queries(self, frame: int, box: tuple[float, float, float, float], side: int) -> np.ndarray:
        """Grid queries inside ``box`` (x0, y0, x1, y1) of ``frame``: every pixel when the box is at most
        ``side`` pixels across, else every k-th pixel, so at most ``side`` x ``side`` points."""
        h, w = self.image_hw
        x0, x1 = sorted((int(np.clip(round(box[0]), 0, w - 1)), int(np.clip(round(box[2]), 0, w - 1))))
        y0, y1 = sorted((int(np.clip(round(box[1]), 0, h - 1)), int(np.clip(round(box[3]), 0, h - 1))))
        step = max(1, -(-max(x1 - x0 + 1, y1 - y0 + 1) // int(side)))
        inside = np.zeros((h, w), bool)
        inside[y0:y1 + 1, x0:x1 + 1] = True
        self._check_frame(frame)
        return grid_queries((h, w), step, frame, self.num_frames, mask=inside)

    def export(self, queries: np.ndarray, fmt: str) -> bytes:
        """The tracks of ``queries`` as the file ``omnimotion track --out tracks.<fmt>`` writes, in the source
        video's pixels when known (module docstring)."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
        tracks = self.track(queries).resized(self.export_hw)
        with tempfile.TemporaryDirectory(prefix="omnimotion-view-") as folder:
            path = Path(folder) / f"tracks.{fmt}"
            save_tracks(tracks, path)
            return path.read_bytes()

    def video(self, queries: np.ndarray, colors: np.ndarray, trail_length: int, show_occluded: bool,
              background: str) -> bytes:
        """An mp4 of what the page shows: ``background`` ("frames" or "depth") with the tracks of ``queries``
        in ``colors [N, 3]`` uint8, trails of ``trail_length`` frames; points hidden at frames where they are
        occluded unless ``show_occluded`` (then hollow, as ``omnimotion track --video``)."""
        tracks = self.track(queries)
        frames = self.depth_frames() if background == "depth" else self.data.load_frames()
        radius = point_radius(self.image_hw)
        drawn = []
        for t, frame in enumerate(frames):
            shown = slice(None) if show_occluded else ~tracks.occluded[:, t]
            drawn.append(draw_tracks(frame, tracks.tracks[shown], tracks.occluded[shown], t, colors[shown],
                                     trail_length, radius))
        with tempfile.TemporaryDirectory(prefix="omnimotion-view-") as folder:
            path = write_video(np.stack(drawn), Path(folder) / "tracks.mp4", self.tracker.fps)
            return path.read_bytes()

    def warm(self, frame: int) -> threading.Thread | None:
        """Read, in a background thread (returned), the flow files that the flow evidence of a point on
        ``frame`` reads, so that a click there costs only the model's work; None when ``frame`` is being read
        already."""
        self._check_frame(frame)
        with self._warming_lock:
            if frame in self._warming:
                return None
            self._warming.add(frame)
        thread = threading.Thread(target=self._read_flow_files, args=(frame,), daemon=True)
        thread.start()
        return thread

    def _check_frame(self, frame: int) -> None:
        if not 0 <= frame < self.num_frames:
            raise QueryError(f"frame {frame} is outside the video's frames 0..{self.num_frames - 1}")

    def _read_flow_files(self, frame: int) -> None:
        try:
            for target in range(self.num_frames):
                if target != frame and self.data.mask_path(frame, target).exists():
                    self.data.load_mask(frame, target)
                    self.data.load_flow(frame, target)
                    self.data.load_flow(target, frame)
        except (OSError, ValueError):
            pass  # a missing or broken file is reported by the click that needs it
        finally:
            with self._warming_lock:
                self._warming.discard(frame)

    def depth_frames(self) -> np.ndarray:
        """uint8 ``[T, H, W, 3]``: the model's pseudo-depth as ``omnimotion track --depth_video`` draws it,
        rendered on first use."""
        if not self.has_depth:
            raise ValueError("this model has no depth to show")
        with self._model_lock:
            if self._depth is None:
                self._depth = render_depth_frames(self.tracker.model, progress=False)
        return self._depth

    def _track_through_model(self, queries: np.ndarray, done: int = 0, total: int = 0,
                             progress: ProgressCallback | None = None) -> Tracks:
        """``omnimotion track``'s path: the tracker, then ``apply_flow_evidence``; ``progress`` counts the
        points done on top of ``done`` cached ones."""
        parts = []
        with self._model_lock:
            for start in range(0, len(queries), PART_POINTS):
                parts.append(self.tracker(queries[start:start + PART_POINTS]))
                if progress is not None:
                    progress(done + min(len(queries), start + PART_POINTS), total)
            model_tracks = Tracks(np.concatenate([part.tracks for part in parts]),
                                  np.concatenate([part.occluded for part in parts]), queries, self.image_hw,
                                  self.tracker.fps)
            return apply_flow_evidence(model_tracks, self.data, self.flow_evidence, progress=False)


def _row(tracks: Tracks) -> tuple[np.ndarray, np.ndarray]:
    return tracks.tracks[0], tracks.occluded[0]
