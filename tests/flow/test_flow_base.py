"""The backend registry: names, options and errors."""

import numpy as np
import pytest

from omnimotion.flow import FlowBackend, FlowBackendError, available_backends, get_backend


def test_available_backends_lists_dis_and_raft():
    assert available_backends() == ["dis", "raft"]


def test_default_backend_is_dis_and_follows_protocol():
    backend = get_backend()
    assert backend.name == "dis"
    assert isinstance(backend, FlowBackend)
    image = np.zeros((16, 16, 3), np.uint8)
    assert backend(image, image).shape == (16, 16, 2)


def test_unknown_backend_lists_choices():
    with pytest.raises(FlowBackendError, match=r"unknown flow backend 'farneback'; choose one of: dis, raft"):
        get_backend("farneback")
    assert issubclass(FlowBackendError, ValueError)  # so the CLI reports it as one line


def test_unknown_option_is_named():
    with pytest.raises(FlowBackendError, match="bad option for flow backend 'dis'.*colour"):
        get_backend("dis", colour=True)
