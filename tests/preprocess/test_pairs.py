"""Exhaustive pair flow: schedule, files, resume after deletion/truncation/interrupt, workers."""

import cv2
import numpy as np
import pytest

from omnimotion.flow import DisFlow
from omnimotion.io.datadir import DataDir
from omnimotion.preprocess.pairs import compute_exhaustive_flows, pair_schedule


class CountingFlow:
    """Wraps DIS and records, for every call, which frames (by their index tag) were paired."""

    name = "counting"

    def __init__(self, interrupt_after: int | None = None):
        self.inner = DisFlow("fast")
        self.calls: list[tuple[int, int]] = []
        self.interrupt_after = interrupt_after

    def __call__(self, image_a, image_b):
        if self.interrupt_after is not None and len(self.calls) == self.interrupt_after:
            raise KeyboardInterrupt
        self.calls.append((int(image_a[0, 0, 2]) // 20, int(image_b[0, 0, 2]) // 20))
        return self.inner(image_a, image_b)


def make_data(root, num_frames=5, size=32) -> DataDir:
    """Frames of a smooth texture moving 1 px right per frame; pixel (0,0) blue = 20 * t tags the frame."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size, size + num_frames, 3)).astype(np.float32), (0, 0), 1.2)
    (root / "color").mkdir(parents=True)
    for t in range(num_frames):
        frame = texture[:, num_frames - t:num_frames - t + size].astype(np.uint8)
        frame[0, 0, 2] = 20 * t + 5
        cv2.imwrite(str(root / "color" / f"{t:05d}.png"), frame[..., ::-1])
    return DataDir(root)


def all_flows(data):
    return {(i, j): np.load(data.flow_path(i, j)) for i in range(data.num_frames)
            for j in range(data.num_frames) if i != j}


def test_schedule_covers_every_ordered_pair_once_in_official_order():
    runs = pair_schedule(4)
    assert runs == [(0, [1, 2, 3]), (1, [2, 3]), (2, [3]), (3, [2, 1, 0]), (2, [1, 0]), (1, [0])]
    for n, gap in [(7, None), (7, 2), (6, 1), (3, 10)]:
        pairs = [(i, j) for i, js in pair_schedule(n, gap) for j in js]
        expected = {(i, j) for i in range(n) for j in range(n) if i != j and abs(i - j) <= (gap or n)}
        assert len(pairs) == len(set(pairs)) and set(pairs) == expected
    with pytest.raises(ValueError, match="max_gap must be at least 1"):
        pair_schedule(5, 0)


def test_all_pairs_written_with_backend_output(tmp_path):
    data = make_data(tmp_path)
    backend = CountingFlow()
    summary = compute_exhaustive_flows(data, backend, workers=1, progress=False)
    assert (summary.total, summary.computed, summary.reused) == (20, 20, 0)
    assert sorted(backend.calls) == sorted((i, j) for i in range(5) for j in range(5) if i != j)
    assert len(list(data.flow_dir.glob("*.npy"))) == 20
    # The file holds exactly the backend's flow: (dx, dy) of frame 1 -> 3 is about (+2, 0) (1 px per frame).
    flow = data.load_flow(1, 3)
    np.testing.assert_array_equal(flow, DisFlow("fast")(data.load_frame(1), data.load_frame(3)))
    assert abs(np.median(flow[..., 0]) - 2) < 0.3 and abs(np.median(flow[..., 1])) < 0.3
    assert data.flow_path(1, 3).name == "00001.png_00003.png.npy"


def test_resume_recomputes_only_missing_truncated_and_corrupt(tmp_path):
    data = make_data(tmp_path)
    compute_exhaustive_flows(data, CountingFlow(), workers=1, progress=False)
    before = all_flows(data)
    data.flow_path(0, 4).unlink()
    data.flow_path(3, 1).unlink()
    truncated = data.flow_path(2, 0).read_bytes()
    data.flow_path(2, 0).write_bytes(truncated[:len(truncated) // 2])
    np.save(data.flow_path(4, 3), np.full((32, 32, 2), np.nan, np.float32))
    np.save(data.flow_path(1, 2), np.zeros((16, 32, 2), np.float32))  # wrong shape
    backend = CountingFlow()
    summary = compute_exhaustive_flows(data, backend, workers=1, progress=False)
    assert sorted(backend.calls) == [(0, 4), (1, 2), (2, 0), (3, 1), (4, 3)]
    assert (summary.computed, summary.reused) == (5, 15)
    after = all_flows(data)
    assert all(np.array_equal(before[key], after[key]) for key in before)
    backend = CountingFlow()
    assert compute_exhaustive_flows(data, backend, workers=1, progress=False).computed == 0
    assert backend.calls == []


def test_interrupt_keeps_finished_pairs_and_no_partial_files(tmp_path):
    data = make_data(tmp_path, num_frames=4)
    with pytest.raises(KeyboardInterrupt):
        compute_exhaustive_flows(data, CountingFlow(interrupt_after=5), workers=1, progress=False)
    files = sorted(p.name for p in data.flow_dir.iterdir())
    assert len(files) == 5 and all(name.endswith(".npy") and not name.startswith(".") for name in files)
    backend = CountingFlow()
    compute_exhaustive_flows(data, backend, workers=1, progress=False)
    assert len(backend.calls) == 12 - 5


def test_two_workers_match_one_worker_and_max_gap(tmp_path):
    one = make_data(tmp_path / "one")
    two = make_data(tmp_path / "two")
    compute_exhaustive_flows(one, DisFlow("fast"), max_gap=2, workers=1, progress=False)
    summary = compute_exhaustive_flows(two, DisFlow("fast"), max_gap=2, workers=2, progress=False)
    assert summary.total == summary.computed == 14  # 2 * (4 + 3) ordered pairs with |i-j| <= 2
    names = sorted(p.name for p in one.flow_dir.iterdir())
    assert names == sorted(p.name for p in two.flow_dir.iterdir()) and len(names) == 14
    assert not one.flow_path(0, 3).exists()
    for name in names:
        np.testing.assert_array_equal(np.load(one.flow_dir / name), np.load(two.flow_dir / name))


def test_single_frame_and_bad_workers(tmp_path):
    data = make_data(tmp_path, num_frames=1)
    with pytest.raises(ValueError, match="at least 2"):
        compute_exhaustive_flows(data, DisFlow(), progress=False)
    data = make_data(tmp_path / "b", num_frames=3)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        compute_exhaustive_flows(data, DisFlow(), workers=0, progress=False)
