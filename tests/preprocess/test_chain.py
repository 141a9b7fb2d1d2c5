"""Flow chaining: hand-made flows with known results, ground-truth and DIS chains on synthetic clips."""

import numpy as np
import pytest

from omnimotion.coords import pixel_grid
from omnimotion.io.datadir import DataDir, DataDirError
from omnimotion.preprocess.chain import chain_flows, chain_links
from omnimotion.preprocess.filter import filter_flows
from omnimotion.synthetic import make_clip, write_frames

H, W = 6, 20


def shift(dx):
    return np.broadcast_to(np.float32([dx, 0]), (H, W, 2)).copy()


def run(direct_pairs, targets=(1, 2, 3, 4), prefer="direct", check=None, step_reliable=None):
    """Chain 1 px steps to the right from frame 0; ``direct_pairs[j] = (flow, reliable, occluded)``."""
    reliable = np.ones((H, W), bool) if step_reliable is None else step_reliable
    links = chain_links(list(targets), shift(1), np.ones((H, W), bool), direct_pairs.get,
                        lambda j: (shift(1), reliable), check, prefer)
    return {link.j: link for link in links}


def test_chaining_accumulates_consecutive_flows_and_stops_at_the_border():
    none = np.zeros((H, W), bool)
    unreliable = {j: (shift(0), none, none) for j in (1, 2, 3, 4)}
    unreliable[1] = (shift(1), np.ones((H, W), bool), none)  # the direct 0->1 flow is the first step
    links = run(unreliable)
    for j in (2, 3, 4):
        # Steps read the step mask at x + 1, ..., x + j - 1 (integer positions): all inside the image
        # when x + j - 1 <= W - 1, i.e. x <= W - j. Beyond, zero padding breaks the chain.
        np.testing.assert_array_equal(links[j].reliable[0], np.arange(W) <= W - j)
        np.testing.assert_allclose(links[j].flow[links[j].reliable], shift(j)[links[j].reliable])
        assert not links[j].occluded.any()


def test_direct_valid_pixels_keep_the_direct_flow_and_occluded_ones_are_not_chained():
    none = np.zeros((H, W), bool)
    reliable = none.copy()
    reliable[:, :5] = True
    occluded = none.copy()
    occluded[:, 5:8] = True
    pairs = {1: (shift(1), np.ones((H, W), bool), none), 3: (shift(7), reliable, occluded)}
    link = run(pairs, targets=(1, 2, 3))[3]
    np.testing.assert_allclose(link.flow[:, :8], shift(7)[:, :8])    # direct where C or O (official)
    np.testing.assert_allclose(link.flow[:, 8:18], shift(3)[:, 8:18])  # chained elsewhere (inside)
    assert link.reliable[:, :5].all() and not link.reliable[:, 5:8].any() and link.reliable[:, 8:18].all()
    assert not link.reliable[:, 18:].any()  # chain left the image, no direct flow
    np.testing.assert_array_equal(link.occluded, occluded)
    assert 2 not in run(pairs, targets=(1, 2, 3))  # no direct file for (0, 2): chained through, not written
    # prefer="chain": where the chain is valid its flow wins over the direct one, and it is not "occluded".
    link = run(pairs, targets=(1, 2, 3), prefer="chain")[3]
    np.testing.assert_allclose(link.flow[:, :18], shift(3)[:, :18])
    assert link.reliable[:, :18].all() and not link.occluded.any() and not link.reliable[:, 18:].any()
    # direct_max_gap=2: the gap-3 direct flow and its masks are ignored; the output is the chain alone.
    links = chain_links([1, 2, 3], shift(1), np.ones((H, W), bool), pairs.get,
                        lambda j: (shift(1), np.ones((H, W), bool)), None, "direct", direct_max_gap=2)
    link = {link.j: link for link in links}[3]
    np.testing.assert_allclose(link.flow[:, :18], shift(3)[:, :18])
    np.testing.assert_array_equal(link.reliable[0], np.arange(W) <= 17)
    assert not link.occluded.any()


def test_failed_step_mask_or_appearance_invalidates_the_chain():
    none = np.zeros((H, W), bool)
    pairs = {1: (shift(1), np.ones((H, W), bool), none), 3: (shift(0), none, none)}
    step_reliable = np.ones((H, W), bool)
    step_reliable[:, 10] = False
    link = run(pairs, targets=(1, 2, 3), step_reliable=step_reliable)[3]
    x = np.arange(W)
    expected = (x <= W - 3) & ~np.isin(x, [8, 9])  # steps read the mask at x+1 and at x+2
    np.testing.assert_array_equal(link.reliable[0], expected)
    # An appearance check with a known answer; at j = 1 the direct reliable flow overrides it, at j = 2
    # and 3 it rejects chained points landing at x >= 12.
    reject_far = lambda j, points, index: points[:, 0] < 12
    link = run(pairs, targets=(1, 2, 3), check=reject_far)[3]
    np.testing.assert_array_equal(link.reliable[0], x + 3 < 12)
    with pytest.raises(ValueError, match="prefer"):
        run(pairs, prefer="best")


@pytest.fixture(scope="module")
def clip():
    return make_clip(num_frames=10, height=64, width=64, motion="mixed", seed=2)


def datadir_with(tmp_path, clip, flow_fn, max_gap=None):
    write_frames(clip, tmp_path / "color")
    data = DataDir(tmp_path)
    for i in range(clip.num_frames):
        for j in range(clip.num_frames):
            if i != j and (max_gap is None or abs(i - j) <= max_gap):
                data.save_flow(i, j, flow_fn(i, j))
    return data


def visible_throughout(clip, i, j):
    """Pixels of frame i whose surface point is visible in every frame from i to j."""
    queries = np.concatenate([np.full((clip.height * clip.width, 1), i),
                              pixel_grid(clip.height, clip.width).reshape(-1, 2)], axis=1)
    _, occluded = clip.track(queries)
    lo, hi = min(i, j), max(i, j)
    return ~occluded[:, lo:hi + 1].any(axis=1).reshape(clip.height, clip.width)


def test_chained_ground_truth_consecutive_flows_match_the_long_range_truth(tmp_path, clip):
    data = datadir_with(tmp_path, clip, lambda i, j: clip.flow(i, j)[0] if abs(i - j) == 1
                        else np.full((clip.height, clip.width, 2), 50, np.float32))  # wrong long flows
    filter_flows(data, appearance="none", workers=1, progress=False)
    chain_flows(data, appearance="none", workers=1, progress=False)
    for i, j in ((0, 9), (9, 0), (2, 7)):
        reliable, _ = data.load_mask(i, j)
        keep = reliable & visible_throughout(clip, i, j)
        assert keep.mean() > 0.3
        error = np.linalg.norm(data.load_flow(i, j) - clip.flow(i, j)[0], axis=-1)[keep]
        # Exact flows, composed by bilinear sampling: only the layers' slight zoom/rotation between pixel
        # centres makes interpolation error, far below a pixel.
        assert np.median(error) < 0.05 and np.quantile(error, 0.95) < 0.5


def test_chain_flows_with_dis_agrees_with_truth_and_rewrites_outputs(tmp_path, clip):
    from omnimotion.flow import get_backend

    dis = get_backend("dis")
    data = datadir_with(tmp_path, clip, lambda i, j: dis(clip.video[i], clip.video[j]), max_gap=6)
    filter_flows(data, appearance="embedded", workers=1, progress=False)
    before = {(i, j): (data.load_flow(i, j), data.load_mask(i, j)) for i, j in ((0, 1), (0, 6), (6, 0))}
    chain_flows(data, appearance="embedded", workers=2, progress=False)
    # Gap 1 is unchanged; direct reliable pixels keep the direct flow (official rule).
    np.testing.assert_array_equal(data.load_flow(0, 1), before[0, 1][0])
    for pair in ((0, 6), (6, 0)):
        (flow0, (reliable0, occluded0)) = before[pair]
        reliable, occluded = data.load_mask(*pair)
        np.testing.assert_array_equal(data.load_flow(*pair)[reliable0], flow0[reliable0])
        assert reliable[reliable0].all() and (occluded == occluded0).all()
        assert reliable.sum() >= reliable0.sum()
        i, j = pair
        keep = reliable & visible_throughout(clip, i, j)
        error = np.linalg.norm(data.load_flow(i, j) - clip.flow(i, j)[0], axis=-1)[keep]
        # DIS is ~0.3-0.6 px off per frame here; six composed steps with a 3 px cycle check per pair stay
        # within a few px for most valid pixels.
        assert np.median(error) < 1.0 and (error < 4).mean() > 0.9  # measured: 0.44 px, 93%
    stats = data.load_flow_stats()
    names = data.frame_names
    assert set(stats[names[0]]) == {names[j] for j in range(1, 7)}
    assert stats[names[0]][names[6]] == int(sum(m.sum() for m in data.load_mask(0, 6)))
    count = data.load_count_map(0)
    np.testing.assert_array_equal(count, sum((lambda m: m[0] | m[1])(data.load_mask(0, j)).astype(int)
                                             for j in range(1, 7)))


def test_chaining_needs_consecutive_flows_and_masks(tmp_path, clip):
    data = datadir_with(tmp_path, clip, lambda i, j: clip.flow(i, j)[0], max_gap=1)
    with pytest.raises(DataDirError, match="filter"):
        chain_flows(data, appearance="none", workers=1, progress=False)
