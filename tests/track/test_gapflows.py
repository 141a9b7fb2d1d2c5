"""Gap flows: computed with the data directory's recorded backend, kept for the next call, and what they add."""

import shutil

import numpy as np
import pytest
from track_doubles import translating_clip, write_exact_data_dir

from omnimotion.track import flow_evidence
from omnimotion.track.gapflows import GAP_FLOW_DIR, GapFlows


@pytest.fixture(scope="module")
def exact(tmp_path_factory):
    clip = translating_clip()
    data = write_exact_data_dir(clip, tmp_path_factory.mktemp("gapflows") / "clip")
    return clip, data


def only_consecutive_pairs(data, root):
    """A copy of ``data`` that holds the flows of consecutive frames only (as after ``--max_gap 1``)."""
    copy = type(data)(shutil.copytree(data.root, root))
    for i in range(data.num_frames):
        for j in range(data.num_frames):
            if abs(i - j) > 1:
                copy.flow_path(i, j).unlink(missing_ok=True)
    return copy


def test_computed_gap_flows_pick_up_a_point_whose_chain_broke(exact, tmp_path):
    clip, data = exact
    copy = only_consecutive_pairs(data, tmp_path / "copy")
    queries = np.array([[0, 40.0, 6.0], [0, 50.0, 40.0]], np.float32)  # background, never under the square
    gt, hidden = clip.track(queries)
    assert not hidden[:, :6].any()
    flow = copy.load_flow(2, 3)
    for x, y in queries[:, 1:].astype(int) + [2, 0]:  # the step 2 -> 3 goes astray around both points
        flow[y - 3:y + 4, x - 3:x + 4] += 5.0
    copy.save_flow(2, 3, flow)
    frames = list(clip.video)

    def exact_flow(image_a, image_b):
        a, b = (next(i for i, frame in enumerate(frames) if np.array_equal(frame, image)) for image in (image_a, image_b))
        return clip.flow(a, b)[0]

    chain = flow_evidence(copy, queries, with_points=True, flows=GapFlows(copy))
    assert not chain.reliable[:, 3:].any()
    paths = flow_evidence(copy, queries, with_points=True, flows=GapFlows(copy, exact_flow))
    assert paths.reliable[:, 1:6].all()  # frame 3 from frame 1 (or 2 -> 4, 0 -> 4), and on from there
    np.testing.assert_allclose(paths.points[:, 1:6], gt[:, 1:6], atol=0.05)
    assert (copy.root / GAP_FLOW_DIR / f"{copy.pair_name(1, 3)}.npy").exists()  # kept for the next call


def test_gap_flows_use_the_recorded_flow_backend(exact):
    from omnimotion.io.atomic import save_json

    clip, data = exact
    assert GapFlows.for_data(data).backend is None  # prepared elsewhere: no record, the stored pairs only
    save_json(data.root / "omnimotion_state.json", {"flow": {"backend": "dis", "options": {"preset": "fast"}}})
    try:
        flows = GapFlows.for_data(data)
    finally:
        (data.root / "omnimotion_state.json").unlink()
    assert flows.backend is not None and flows.backend.preset == "fast"


def test_gap_flows_of_a_read_only_data_directory_are_kept_in_memory(exact, monkeypatch):
    import omnimotion.track.gapflows as gapflows

    clip, data = exact
    calls = []

    def counting_flow(image_a, image_b):
        calls.append(1)
        return np.zeros(image_a.shape[:2] + (2,), np.float32)

    def refuse(path, array):
        raise PermissionError(f"read-only: {path}")

    monkeypatch.setattr(gapflows, "save_npy", refuse)
    flows = GapFlows(data, counting_flow)
    for _ in range(2):
        forward, backward = flows.pair(0, 2)
        assert not forward.any() and not backward.any()
    assert len(calls) == 2  # one flow each way, computed once
    np.testing.assert_array_equal(flows.pair(0, 1)[0], data.load_flow(0, 1))  # consecutive: the stored flow
    assert len(calls) == 2 and not (data.root / GAP_FLOW_DIR).exists()


@pytest.mark.parametrize("damage", ["truncated", "nan", "wrong shape"])
def test_a_damaged_kept_gap_flow_is_recomputed_and_replaced(exact, tmp_path, damage, caplog):
    clip, data = exact
    copy = type(data)(shutil.copytree(data.root, tmp_path / "copy"))
    computed = np.full(copy.image_hw + (2,), 0.25, np.float32)
    flows = GapFlows(copy, lambda image_a, image_b: computed)
    path = copy.root / GAP_FLOW_DIR / f"{copy.pair_name(0, 2)}.npy"
    path.parent.mkdir(exist_ok=True)
    if damage == "truncated":
        path.write_bytes(b"\x93NUMPY")
    else:
        bad = np.full(copy.image_hw + (2,), np.nan, np.float32) if damage == "nan" else np.zeros((3, 3, 2), np.float32)
        np.save(path, bad)
    forward, _ = flows.pair(0, 2)
    np.testing.assert_array_equal(forward, computed)
    assert "recomputing a gap flow" in caplog.text and str(path) in caplog.text
    np.testing.assert_array_equal(np.load(path), computed)  # the damaged file is replaced
