"""Test helpers for the viewer (imported by name, as tests/track/track_doubles.py): a small prepared run
with an untrained model (``tests/tiny_checkpoint.py``), and a server for it running in a thread."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from omnimotion.preprocess.options import PrepareConfig
from omnimotion.preprocess.pipeline import prepare
from omnimotion.synthetic import make_clip, write_frames
from omnimotion.view import ViewerServer, ViewSession, make_server

from tiny_checkpoint import CHECKPOINT, save_untrained_checkpoint


def make_run(root: Path, frames: int = 6, height: int = 32, width: int = 40, seed: int = 1) -> Path:
    """``omnimotion run``'s data directory for a synthetic clip (DIS flows, masks, source.json), with an
    untrained model saved as ``out/exp/model_000010.pth`` (tracking cost and paths do not need training)."""
    write_frames(make_clip(num_frames=frames, height=height, width=width, seed=seed), root / "frames")
    run_dir = root / "run"
    prepare(root / "frames", run_dir, PrepareConfig(max_side=None), progress=False, workers=1)
    save_untrained_checkpoint(run_dir, frames, (height, width))
    return run_dir


def checkpoint_of(run_dir: Path) -> Path:
    return run_dir / CHECKPOINT


@contextmanager
def running_server(run_dir: Path, checkpoint: Path | None = None, **options) -> Iterator[ViewerServer]:
    """A viewer server for ``run_dir`` on a free loopback port, stopped on exit (options: ``ViewSession.open``)."""
    session = ViewSession.open(run_dir, checkpoint or checkpoint_of(run_dir), device="cpu", **options)
    server = make_server(session, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
