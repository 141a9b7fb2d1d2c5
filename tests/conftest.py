"""Settings and shared fixtures of the whole test session."""

import os
from typing import Callable

import numpy as np
import pytest
import torch

from omnimotion.io.datadir import DataDir

from prepared_dirs import FlowFn, synthetic_pair_fn, write_prepared_dir


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The tests run tiny models: on a 2-core machine shared with other work, a second OpenMP thread only
    spin-waits (steps ran up to 20x slower with two). OMP_NUM_THREADS also makes every stage the tests start
    (and their subprocesses) use one thread without sampling the machine's load (``omnimotion.io.threads``)."""
    previous = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(previous[0])
    if previous[1] is None:
        os.environ.pop("OMP_NUM_THREADS")
    else:
        os.environ["OMP_NUM_THREADS"] = previous[1]


@pytest.fixture
def prepared_dir_factory(tmp_path) -> Callable[..., DataDir]:
    def make(video: np.ndarray, pair_fn: FlowFn, name: str = "clip") -> DataDir:
        return write_prepared_dir(tmp_path / name, video, pair_fn)
    return make


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    """A tiny prepared sequence (8 frames, 32x32, translating sprite) with exact flows; shared, read-only."""
    from omnimotion.synthetic import make_clip

    clip = make_clip(num_frames=8, height=32, width=32, num_sprites=1, motion="translate", seed=3)
    data = write_prepared_dir(tmp_path_factory.mktemp("synthetic") / "clip", clip.video, synthetic_pair_fn(clip))
    return data, clip
