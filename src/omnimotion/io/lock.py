"""One writer per folder: an advisory lock held while a command writes a data directory or a run folder.

``with FolderLock(folder, "omnimotion prepare"):`` takes an exclusive ``flock`` on ``folder/.omnimotion.lock``
and writes the holder's PID, host and command into it. A second writer refuses at once with
``FolderInUseError`` naming the holder. The kernel releases the lock when its process ends, however it ends
(kill -9 included), so a lock file left by a dead process is simply taken over; the file stays in place
(removing it would let two processes lock different files of the same name).

POSIX only (``fcntl``); on NFS the lock is shared between machines where the server supports locks.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from omnimotion.io.atomic import OutputNotWritableError

__all__ = ["FolderLock", "FolderInUseError", "LOCK_FILE"]

LOCK_FILE = ".omnimotion.lock"


class FolderInUseError(OutputNotWritableError):
    """Another process holds the folder's lock; the message names it and what to do."""


class FolderLock:
    """Exclusive lock of ``folder`` for the duration of a ``with`` block (see the module docstring)."""

    def __init__(self, folder: str | Path, command: str):
        self.folder = Path(folder)
        self.command = command
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise OutputNotWritableError(f"cannot write to {self.folder} ({err.strerror or err}); choose a "
                                         "writable output folder") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise FolderInUseError(f"{self.folder} is being written by {holder}; wait for it to finish (or stop "
                                   f"it), then run this command again, or use another output folder") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _describe_holder(fd: int) -> str:
    """'omnimotion prepare (PID 123 on host, since ...)' from the lock file, or a general phrase."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode())
        return (f"{holder['command']} (PID {holder['pid']} on {holder['host']}, since {holder['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another omnimotion process"
