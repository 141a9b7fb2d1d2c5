"""RAFT backend: clear errors without torchvision or weights; real loading with random weights when present."""

import builtins

import numpy as np
import pytest

from omnimotion.flow import FlowBackendError, get_backend
from omnimotion.flow.raft import RaftFlow


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


def test_missing_weights_says_how_to_get_them(empty_torch_home):
    with pytest.raises(FlowBackendError) as info:
        get_backend("raft")
    message = str(info.value)
    assert "no RAFT weights found" in message and str(empty_torch_home / "hub" / "checkpoints") in message
    assert 'pip install "omnimotion[raft]"' in message and "--flow_weights" in message
    assert "Raft_Large_Weights" in message


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(FlowBackendError, match=r"RAFT weights file .*nope\.pth does not exist"):
        get_backend("raft", weights=tmp_path / "nope.pth", small=True)


def test_cached_weights_are_found(empty_torch_home):
    checkpoints = empty_torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "raft_small_C_T_V2-01064c6d.pth").write_bytes(b"")
    assert RaftFlow(small=True).weights.name == "raft_small_C_T_V2-01064c6d.pth"
    with pytest.raises(FlowBackendError, match="no RAFT weights found"):
        RaftFlow(small=False)


def test_missing_torchvision_is_explained(tmp_path, monkeypatch):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"")
    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise ImportError("No module named 'torchvision'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    backend = get_backend("raft", weights=weights)
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(FlowBackendError, match=r'needs torchvision.*pip install "omnimotion\[raft\]"'):
        backend(image, image)


def test_random_weights_load_and_give_flow_of_the_input_size(tmp_path):
    torch = pytest.importorskip("torch")
    optical_flow = pytest.importorskip("torchvision.models.optical_flow")
    torch.manual_seed(0)
    weights = tmp_path / "raft_small_random.pth"
    torch.save(optical_flow.raft_small(weights=None).state_dict(), weights)
    backend = get_backend("raft", weights=weights, small=True, iters=2, device="cpu")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (37, 45, 3), dtype=np.uint8)  # not a multiple of 8: exercises padding
    flow = backend(a, a)
    assert flow.shape == (37, 45, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    with pytest.raises(FlowBackendError, match="not a torchvision raft_large state dict"):
        get_backend("raft", weights=weights, small=False)(a, a)
