"""Thread counts: an explicit request beats OMP_NUM_THREADS, which beats the automatic choice of the cores
other processes leave free; the choice reaches torch and OpenCV."""

import cv2
import pytest
import torch

from omnimotion.io import threads
from omnimotion.io.threads import free_cores, resolve_threads, use_threads


@pytest.mark.parametrize("usable, busy, expected", [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 3.5, 1),
                                                    (8, 2.0, 6), (8, 0.0, 8)])
def test_free_cores_leave_the_busy_ones_to_their_processes(usable, busy, expected):
    assert free_cores(usable, busy) == expected


def test_a_request_beats_the_environment_which_beats_the_automatic_choice(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "_cores_busy_elsewhere", lambda usable: 1.0)  # one other busy process
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resolve_threads(5) == (5, "requested")
    assert resolve_threads(0) == (3, "OMP_NUM_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert resolve_threads(0)[0] == 1
    monkeypatch.setattr(threads, "_cores_busy_elsewhere", lambda usable: 0.0)  # idle machine
    assert resolve_threads(0)[0] == 2


def test_bad_values_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="threads must be >= 0"):
        resolve_threads(-1)
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="OMP_NUM_THREADS='many' is not a whole number"):
        resolve_threads(0)


def test_the_choice_reaches_torch_and_opencv():
    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        assert use_threads(2, "test") == 2
        assert torch.get_num_threads() == 2 and cv2.getNumThreads() == 2
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def test_the_busy_sample_sees_this_machine():
    busy = threads._cores_busy_elsewhere(threads.usable_cores())
    assert busy is None or 0.0 <= busy <= (threads.os.cpu_count() or 1) + 0.5
