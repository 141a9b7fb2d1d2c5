"""The official OmniMotion data directory, read and written with validation and atomic writes.

Layout (docs/method.md#data-directory), for frames named ``00000.jpg ...``::

    color/00000.jpg                         RGB frames; sorted file name order is time order
    raft_exhaustive/00000.jpg_00003.jpg.npy float32 [H, W, 2], (dx, dy) px, frame 0 -> frame 3
    raft_masks/00000.jpg_00003.jpg.png      uint8 [H, W, 3]: ch0 255 = reliable (cycle-consistent),
                                            ch1 255 = occluded but reliable, ch2 = 0
    count_maps/00000.png                    uint16 [H, W]: per pixel, number of frames j it is reliable in
    flow_stats.json                         {"00000.jpg": {"00001.jpg": reliable pixel count, ...}, ...}
    source.json                             ours: the input the frames came from: {"path", "fps" (or null),
                                            "native_hw": [H, W] before resizing, "start", "end", "stride"}
    out/<expname>/                          training outputs (checkpoints, logs)

The name "raft_exhaustive" is kept whatever flow backend made the flows, so that directories move freely
between this package and the official code.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from omnimotion.io.atomic import save_json, save_npy, save_png
from omnimotion.io.images import CorruptFileError, read_image

__all__ = ["DataDir", "DataDirError", "CorruptFileError", "FRAME_EXTENSIONS", "read_flow"]

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")


class DataDirError(FileNotFoundError):
    """A data directory lacks something; the message names it and the command that makes it."""


def read_flow(path: Path, image_hw: tuple[int, int]) -> np.ndarray:
    """The flow in ``path`` (.npy) as float32 ``[H, W, 2]`` (dx, dy) pixels; raises CorruptFileError unless it
    reads, has the shape of ``image_hw`` frames and is finite everywhere."""
    try:
        flow = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise CorruptFileError(f"flow file {path} is unreadable ({err}); delete it and re-run "
                               "'omnimotion prepare' to recompute it") from err
    height, width = image_hw
    if flow.shape != (height, width, 2) or not np.isfinite(flow).all():
        raise CorruptFileError(f"flow file {path} has shape {flow.shape} or non-finite values, expected finite "
                               f"({height}, {width}, 2); delete it and re-run 'omnimotion prepare'")
    return flow.astype(np.float32, copy=False)


class DataDir:
    """Paths and validated I/O for one sequence's data directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._frame_names: list[str] | None = None
        self._image_hw: tuple[int, int] | None = None

    # ----- layout -------------------------------------------------------------------------------
    @property
    def color_dir(self) -> Path:
        return self.root / "color"

    @property
    def flow_dir(self) -> Path:
        return self.root / "raft_exhaustive"

    @property
    def mask_dir(self) -> Path:
        return self.root / "raft_masks"

    @property
    def count_dir(self) -> Path:
        return self.root / "count_maps"

    @property
    def flow_stats_path(self) -> Path:
        return self.root / "flow_stats.json"

    @property
    def source_info_path(self) -> Path:
        return self.root / "source.json"

    def save_source_info(self, info: dict) -> None:
        save_json(self.source_info_path, info)

    def load_source_info(self) -> dict | None:
        """What ``source.json`` records about the input video (None when absent, e.g. official directories)."""
        if not self.source_info_path.exists():
            return None
        try:
            info = json.loads(self.source_info_path.read_text())
            info["native_hw"] = (int(info["native_hw"][0]), int(info["native_hw"][1]))
        except (ValueError, KeyError, TypeError, IndexError) as err:
            raise CorruptFileError(f"{self.source_info_path} is unreadable ({err}); delete it (it only records "
                                   "the input's frame rate and size) or prepare again") from err
        return info

    def recorded_fps(self, default: float = 10.0) -> float:
        """The input video's frame rate as ``source.json`` records it, else ``default`` (frame folders,
        official data directories)."""
        info = self.load_source_info()
        return float(info["fps"]) if info and info.get("fps") else default

    def out_dir(self, expname: str = "default") -> Path:
        return self.root / "out" / expname

    @property
    def frame_names(self) -> list[str]:
        """File names in ``color/``, sorted (time order). Raises DataDirError if there are none."""
        if self._frame_names is None:
            if not self.color_dir.is_dir():
                raise DataDirError(f"{self.color_dir} does not exist; make it with "
                                   f"'omnimotion prepare VIDEO --out {self.root}'")
            names = sorted(p.name for p in self.color_dir.iterdir()
                           if p.suffix.lower() in FRAME_EXTENSIONS and not p.name.startswith("."))
            if not names:
                raise DataDirError(f"{self.color_dir} holds no .jpg/.png frames; make them with "
                                   f"'omnimotion prepare VIDEO --out {self.root}'")
            self._frame_names = names
        return self._frame_names

    @property
    def num_frames(self) -> int:
        return len(self.frame_names)

    @property
    def image_hw(self) -> tuple[int, int]:
        """(H, W) of the frames (read from the first frame)."""
        if self._image_hw is None:
            self._image_hw = self.load_frame(0).shape[:2]
        return self._image_hw

    def frame_path(self, i: int) -> Path:
        return self.color_dir / self.frame_names[i]

    def pair_name(self, i: int, j: int) -> str:
        return f"{self.frame_names[i]}_{self.frame_names[j]}"

    def flow_path(self, i: int, j: int) -> Path:
        return self.flow_dir / f"{self.pair_name(i, j)}.npy"

    def mask_path(self, i: int, j: int) -> Path:
        return self.mask_dir / f"{self.pair_name(i, j)}.png"

    def count_map_path(self, i: int) -> Path:
        return self.count_dir / (Path(self.frame_names[i]).stem + ".png")

    # ----- frames -------------------------------------------------------------------------------
    def load_frame(self, i: int) -> np.ndarray:
        """uint8 ``[H, W, 3]`` RGB."""
        path = self.frame_path(i)
        try:
            image = read_image(path, cv2.IMREAD_COLOR)
        except CorruptFileError as err:
            raise CorruptFileError(f"{err}; re-create the frames with 'omnimotion prepare'") from err
        return image[..., ::-1].copy()

    def load_frames(self) -> np.ndarray:
        """uint8 ``[T, H, W, 3]`` RGB; all frames must share one size."""
        frames = [self.load_frame(i) for i in range(self.num_frames)]
        sizes = {f.shape for f in frames}
        if len(sizes) != 1:
            raise CorruptFileError(f"frames in {self.color_dir} differ in size: {sorted(sizes)}; "
                                   "resize them to one size (omnimotion prepare does this)")
        return np.stack(frames)

    # ----- flows --------------------------------------------------------------------------------
    def save_flow(self, i: int, j: int, flow: np.ndarray) -> None:
        save_npy(self.flow_path(i, j), np.ascontiguousarray(flow, dtype=np.float32))

    def load_flow(self, i: int, j: int) -> np.ndarray:
        """float32 ``[H, W, 2]`` (dx, dy) pixels; raises DataDirError / CorruptFileError."""
        path = self.flow_path(i, j)
        if not path.exists():
            raise DataDirError(f"missing flow {path}; compute it with 'omnimotion prepare' "
                               f"(or 'python main_processing.py --data_dir {self.root}')")
        return read_flow(path, self.image_hw)

    def has_valid_flow(self, i: int, j: int) -> bool:
        """True if the flow file exists and passes validation (used to resume)."""
        try:
            self.load_flow(i, j)
        except (DataDirError, CorruptFileError):
            return False
        return True

    # ----- masks, count maps, stats ---------------------------------------------------------------
    def save_mask(self, i: int, j: int, reliable: np.ndarray, occluded: np.ndarray) -> None:
        """Bool ``[H, W]`` masks -> ``raft_masks`` PNG (ch0 reliable, ch1 occluded-but-reliable)."""
        image = np.zeros(reliable.shape + (3,), np.uint8)
        image[..., 0] = reliable.astype(np.uint8) * 255
        image[..., 1] = occluded.astype(np.uint8) * 255
        save_png(self.mask_path(i, j), image)

    def load_mask(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(reliable, occluded_but_reliable), each bool ``[H, W]``."""
        image = self._read_png(self.mask_path(i, j), "mask")
        if image.ndim != 3 or image.shape[:2] != self.image_hw:
            raise CorruptFileError(f"mask {self.mask_path(i, j)} has shape {image.shape}, expected "
                                   f"{self.image_hw + (3,)}; re-run filtering")
        rgb = image[..., ::-1]
        return rgb[..., 0] > 0, rgb[..., 1] > 0

    def save_count_map(self, i: int, counts: np.ndarray) -> None:
        save_png(self.count_map_path(i), counts.astype(np.uint16))

    def load_count_map(self, i: int) -> np.ndarray:
        """uint16 ``[H, W]``."""
        return self._read_png(self.count_map_path(i), "count map")

    def save_flow_stats(self, stats: dict[str, dict[str, int]]) -> None:
        save_json(self.flow_stats_path, stats)

    def load_flow_stats(self) -> dict[str, dict[str, int]]:
        path = self.flow_stats_path
        if not path.exists():
            raise DataDirError(f"missing {path}; run filtering with 'omnimotion prepare' "
                               f"(or 'python filter_raft.py --data_dir {self.root}')")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise CorruptFileError(f"{path} is not valid JSON ({err}); re-run filtering") from err

    def _read_png(self, path: Path, what: str) -> np.ndarray:
        if not path.exists():
            raise DataDirError(f"missing {what} {path}; run 'omnimotion prepare' "
                               f"(or 'python main_processing.py --data_dir {self.root}')")
        try:
            return read_image(path, cv2.IMREAD_UNCHANGED)
        except CorruptFileError as err:
            raise CorruptFileError(f"{what}: {err}; delete it and re-run 'omnimotion prepare'") from err
