"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename.

A crash or Ctrl-C leaves either the old file or the new one, never a truncated one. Readers in
``omnimotion.io.datadir`` still validate what they load, since files may come from elsewhere. A process killed
while writing leaves its hidden temporary (``.NAME.XXXX.tmp``); ``remove_stale_temporaries`` deletes them when
the next run starts, under the folder's lock (``omnimotion.io.lock``). Files get the permissions of an
ordinary ``open`` (0666 less the umask), not the 0600 of a temporary file.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import cv2
import numpy as np

__all__ = ["atomic_open", "save_npy", "save_png", "save_json", "save_text", "OutputNotWritableError",
           "remove_stale_temporaries", "TEMPORARY_PATTERNS"]

TEMPORARY_PATTERNS = (".*.tmp", ".*.tmp.*")
"""Names of unfinished writes: ``atomic_open``'s ``.NAME.XXXX.tmp`` and ``write_video``'s ``.STEM.tmp.mp4``."""


class OutputNotWritableError(OSError):
    """The output location cannot be written (permissions, missing parent, disk full)."""


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError as err:
        raise OutputNotWritableError(f"cannot write to {path.parent}: {err.strerror}; "
                                     "choose a writable output folder") from err
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        raise OutputNotWritableError(f"writing {path} failed: {err.strerror or err}; "
                                     "check free disk space and permissions") from err
    except BaseException:
        _remove_quietly(tmp)
        raise


def save_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb") as handle:
        np.save(handle, array)


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Save uint8 or uint16 ``[H, W]`` / ``[H, W, 3]`` (RGB order) as PNG."""
    if image.ndim == 3:
        image = image[..., ::-1]  # OpenCV writes BGR
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise ValueError(f"could not encode {path} as PNG (dtype {image.dtype}, shape {image.shape})")
    with atomic_open(path, "wb") as handle:
        handle.write(encoded.tobytes())


def save_json(path: str | Path, data: Any) -> None:
    with atomic_open(path, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)


def save_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete the temporaries that killed writers left in ``folder`` (not below); returns how many.

    Call it only while holding the folder's lock: another writer's temporaries are not stale.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    stale = {path for pattern in TEMPORARY_PATTERNS for path in folder.glob(pattern) if path.is_file()}
    for path in stale:
        _remove_quietly(str(path))
    return len(stale)


def _umask() -> int:
    """This process's umask, read without changing it where Linux allows (``os.umask`` sets it to read it)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
