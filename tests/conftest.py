"""Settings for the whole test session."""

import os

import pytest
import torch


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
