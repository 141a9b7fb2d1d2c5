"""``Tracks``: the result of tracking, and its own file format ``tracks.npz``.

Fields and conventions (see ``omnimotion.coords``)
    tracks    float32 ``[N, T, 2]``  (x, y) in pixels of the video the tracks belong to (``image_hw``);
              pixel centres at integer coordinates, the top-left pixel's centre is (0, 0).
    occluded  bool ``[N, T]``        True = occluded (hidden behind something, or outside the frame).
    queries   float32 ``[N, 3]``     (t, x, y): query frame index and query pixel; at frame t the track
              equals the query and is visible.
    image_hw  (H, W) of that video; ``fps`` its frame rate.

``tracks.npz`` holds exactly these arrays (``image_hw`` as int64 ``[2]``, ``fps`` as a float64 scalar)
plus a ``format`` tag; ``np.load`` reads it without this package. Other formats (TAP-Vid-style arrays,
CSV, JSON) are in ``omnimotion.track.export``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnimotion.coords import resize_points
from omnimotion.io.atomic import atomic_open
from omnimotion.io.datadir import CorruptFileError

__all__ = ["Tracks", "NPZ_FORMAT"]

NPZ_FORMAT = "omnimotion-tracks-v1"


@dataclass
class Tracks:
    """Trajectories of N query points through all T frames of a video (shapes in the module docstring)."""

    tracks: np.ndarray
    occluded: np.ndarray
    queries: np.ndarray
    image_hw: tuple[int, int]
    fps: float = 10.0

    def __post_init__(self) -> None:
        self.tracks = np.asarray(self.tracks, dtype=np.float32)
        self.occluded = np.asarray(self.occluded, dtype=bool)
        self.queries = np.asarray(self.queries, dtype=np.float32).reshape(-1, 3)
        self.image_hw = (int(self.image_hw[0]), int(self.image_hw[1]))
        self.fps = float(self.fps)
        n = self.queries.shape[0]
        if self.tracks.ndim != 3 or self.tracks.shape[0] != n or self.tracks.shape[2] != 2:
            raise ValueError(f"tracks must be [N, T, 2] with N = {n} queries, got {self.tracks.shape}")
        if self.occluded.shape != self.tracks.shape[:2]:
            raise ValueError(f"occluded must be [N, T] = {self.tracks.shape[:2]}, got {self.occluded.shape}")

    @property
    def num_points(self) -> int:
        return self.tracks.shape[0]

    @property
    def num_frames(self) -> int:
        return self.tracks.shape[1]

    def resized(self, image_hw: tuple[int, int]) -> Tracks:
        """The same tracks in pixels of the video resized to ``image_hw`` (``coords.resize_points``)."""
        if tuple(image_hw) == self.image_hw:
            return self
        queries = self.queries.copy()
        queries[:, 1:] = resize_points(queries[:, 1:], self.image_hw, image_hw)
        return Tracks(resize_points(self.tracks, self.image_hw, image_hw), self.occluded.copy(), queries,
                      image_hw, self.fps)

    def subset(self, index: np.ndarray | slice) -> Tracks:
        """The tracks of the selected points only (``index`` into the N axis)."""
        return Tracks(self.tracks[index], self.occluded[index], self.queries[index], self.image_hw, self.fps)

    def save(self, path: str | Path) -> None:
        """Write ``tracks.npz`` atomically (uncompressed: dense tracks compress poorly and load slower)."""
        with atomic_open(path, "wb") as handle:
            np.savez(handle, format=np.array(NPZ_FORMAT), tracks=self.tracks, occluded=self.occluded,
                     queries=self.queries, image_hw=np.asarray(self.image_hw, dtype=np.int64),
                     fps=np.float64(self.fps))

    @classmethod
    def load(cls, path: str | Path) -> Tracks:
        """Read a file written by :meth:`save`; CorruptFileError names what is missing or inconsistent."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; write it with 'omnimotion track ... --out {path}'")
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = {"tracks", "occluded", "queries", "image_hw", "fps"} - set(data.files)
                if missing:
                    raise CorruptFileError(f"{path} lacks {sorted(missing)}; it is not an omnimotion "
                                           "tracks.npz, re-export it with 'omnimotion track'")
                arrays = {key: data[key] for key in ("tracks", "occluded", "queries", "image_hw", "fps")}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
            if isinstance(err, CorruptFileError):
                raise
            raise CorruptFileError(f"{path} cannot be read as .npz ({err}); re-export it") from err
        try:
            return cls(arrays["tracks"], arrays["occluded"], arrays["queries"],
                       tuple(arrays["image_hw"].tolist()), float(arrays["fps"]))
        except ValueError as err:
            raise CorruptFileError(f"{path}: {err}; re-export it") from err
