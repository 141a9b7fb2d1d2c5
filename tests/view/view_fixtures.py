"""Test helpers for the viewer (imported by name, as tests/track/track_doubles.py): a small prepared run
with an untrained model, and a server for it running in a thread."""

from __future__ import annotations

import dataclasses
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from omnimotion.preprocess.options import PrepareConfig
from omnimotion.model import ModelConfig, OmniMotionModel
from omnimotion.preprocess.pipeline import prepare
from omnimotion.synthetic import make_clip, write_frames
from omnimotion.view import ViewerServer, ViewSession, make_server

TINY = ModelConfig(num_samples_ray=8, nvp_hidden=32, code_dim=16, time_hidden=32, canonical_hidden=32,
                   num_coupling_layers=3, affine_num_layers=2)


def make_run(root: Path, frames: int = 6, height: int = 32, width: int = 40, seed: int = 1) -> Path:
    """``omnimotion run``'s data directory for a synthetic clip (DIS flows, masks, source.json), with an
    untrained model saved as ``out/exp/model_000010.pth`` (tracking cost and paths do not need training)."""
    write_frames(make_clip(num_frames=frames, height=height, width=width, seed=seed), root / "frames")
    run_dir = root / "run"
    prepare(root / "frames", run_dir, PrepareConfig(max_side=None), progress=False, workers=1)
    torch.manual_seed(0)
    model = OmniMotionModel(TINY, frames, (height, width))
    state = {name: getattr(model, name).state_dict() for name in ("feature_mlp", "deform_mlp", "color_mlp")}
    state.update(num_imgs=frames, image_hw=[height, width], step=10, config={"model": dataclasses.asdict(TINY)})
    (run_dir / "out" / "exp").mkdir(parents=True)
    torch.save(state, run_dir / "out" / "exp" / "model_000010.pth")
    return run_dir


def checkpoint_of(run_dir: Path) -> Path:
    return run_dir / "out" / "exp" / "model_000010.pth"


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
