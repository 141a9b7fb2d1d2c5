"""Settings for the whole test session."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The tests run tiny models: on a 2-core machine shared with other work, a second OpenMP thread only
    spin-waits (steps ran up to 20x slower with two)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
