"""User depth maps in a data directory: ``<data_dir>/depth/<frame stem>.npy``, one per frame of ``color/``.

Each is float ``[H, W]`` (``[H, W, 1]`` and ``[1, H, W]`` accepted) at the frames' size, any positive scale
(metric or relative), e.g. the output of a monocular depth model. What the values mean (depth or disparity)
is for the model that reads them to say.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnimotion.io.datadir import CorruptFileError, DataDir, DataDirError

__all__ = ["depth_dir", "depth_map_path", "load_depth_maps"]


def depth_dir(data: DataDir) -> Path:
    """``<data_dir>/depth``: the folder of the user depth maps."""
    return data.root / "depth"


def depth_map_path(data: DataDir, frame: int) -> Path:
    """``<data_dir>/depth/<frame stem>.npy`` for frame index ``frame``."""
    return depth_dir(data) / (Path(data.frame_names[frame]).stem + ".npy")


def load_depth_maps(data: DataDir) -> np.ndarray:
    """Every frame's user depth map, float32 ``[T, H, W]``, validated against the frames in ``color/``.

    Raises DataDirError naming the first missing file, CorruptFileError naming a file that is unreadable,
    of the wrong shape, or holds non-finite values.
    """
    height, width = data.image_hw
    maps = []
    for frame in range(data.num_frames):
        path = depth_map_path(data, frame)
        if not path.exists():
            raise DataDirError(f"missing depth map {path}: the depth initialisation needs one "
                               f"float [H, W] = [{height}, {width}] .npy per frame of {data.color_dir} "
                               "(named after the frame); add it or turn the depth initialisation off")
        try:
            depth = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise CorruptFileError(f"depth map {path} is unreadable ({err}); re-create it") from err
        if depth.ndim == 3 and 1 in (depth.shape[0], depth.shape[-1]):
            depth = depth.reshape(depth.shape[1:] if depth.shape[0] == 1 else depth.shape[:-1])
        if depth.shape != (height, width):
            raise CorruptFileError(f"depth map {path} has shape {depth.shape}, expected ({height}, {width}) "
                                   "like the frames in color/; resize it to the frame size")
        if not np.issubdtype(depth.dtype, np.number) or not np.isfinite(depth).all():
            raise CorruptFileError(f"depth map {path} holds non-numeric or non-finite values; re-create it")
        maps.append(depth.astype(np.float32))
    return np.stack(maps)
