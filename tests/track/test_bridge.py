"""Bridging flows: a point whose chain broke is picked up again by a flow that skips a frame."""

import numpy as np
import pytest
from track_doubles import translating_clip, write_exact_data_dir

from omnimotion.track import flow_evidence


@pytest.fixture(scope="module")
def exact(tmp_path_factory):
    clip = translating_clip()
    data = write_exact_data_dir(clip, tmp_path_factory.mktemp("bridge") / "clip")
    return clip, data


def test_a_bridge_picks_up_a_point_whose_chain_broke(exact, tmp_path):
    import shutil

    from omnimotion.track.bridge import BridgeFlows

    clip, data = exact
    copy = type(data)(shutil.copytree(data.root, tmp_path / "copy"))
    queries = np.array([[0, 40.0, 6.0], [0, 50.0, 40.0]], np.float32)  # background, never under the square
    gt, hidden = clip.track(queries)
    assert not hidden[:, :6].any()
    for j in range(3, clip.num_frames):  # the chains from frame 0 break at frame 3 around both points
        reliable, occluded = copy.load_mask(0, j)
        for x, y in queries[:, 1:].astype(int):
            reliable[y - 3:y + 4, x - 3:x + 4] = False
        copy.save_mask(0, j, reliable, occluded)
    frames = [frame for frame in clip.video]

    def exact_flow(image_a, image_b):
        a, b = (next(i for i, frame in enumerate(frames) if np.array_equal(frame, image)) for image in (image_a, image_b))
        return clip.flow(a, b)[0]

    without = flow_evidence(copy, queries, with_points=True)
    assert not without.reliable[:, 3:6].any()
    bridged = flow_evidence(copy, queries, with_points=True, bridges=BridgeFlows(copy, exact_flow))
    # frame 3 by the bridge from frame 1; later frames by the pairs (3, k) from there
    assert bridged.reliable[:, 3:].all()
    np.testing.assert_allclose(bridged.points[:, 3:], gt[:, 3:], atol=0.05)
    np.testing.assert_array_equal(bridged.reliable[:, :3], without.reliable[:, :3])
    assert (copy.root / "bridge_flows" / f"{copy.pair_name(1, 3)}.npy").exists()  # kept for the next call


def test_bridges_use_the_recorded_flow_backend_and_need_a_stage_record(exact, tmp_path):
    from omnimotion.io.atomic import save_json
    from omnimotion.track.bridge import BridgeFlows

    clip, data = exact
    assert BridgeFlows.for_data(data) is None  # prepared elsewhere: no record, no bridges
    save_json(data.root / "omnimotion_state.json", {"flow": {"backend": "dis", "options": {"preset": "fast"}}})
    try:
        bridges = BridgeFlows.for_data(data)
    finally:
        (data.root / "omnimotion_state.json").unlink()
    assert bridges is not None and bridges.backend.preset == "fast"


def test_bridging_flows_of_a_read_only_data_directory_are_kept_in_memory(exact, tmp_path, monkeypatch):
    import omnimotion.track.bridge as bridge

    clip, data = exact
    calls = []

    def counting_flow(image_a, image_b):
        calls.append(1)
        return np.zeros(image_a.shape[:2] + (2,), np.float32)

    def refuse(path, array):
        raise PermissionError(f"read-only: {path}")

    monkeypatch.setattr(bridge, "save_npy", refuse)
    bridges = bridge.BridgeFlows(data, counting_flow)
    landed, passed = bridges.cross(0, 2, np.array([[10.0, 10.0]], np.float32))
    bridges.cross(0, 2, np.array([[12.0, 10.0]], np.float32))
    np.testing.assert_allclose(landed, [[10.0, 10.0]])
    assert passed.all() and len(calls) == 2  # one flow each way, computed once
    assert not (data.root / bridge.BRIDGE_DIR).exists()
