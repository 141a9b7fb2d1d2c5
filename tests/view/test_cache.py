"""The viewer's caches give back what was put in or read, and stay within their bounds."""

import numpy as np
import pytest
from view_fixtures import make_run

from omnimotion.io.datadir import DataDir
from omnimotion.track.tracks import Tracks
from omnimotion.view.cache import CachedDataDir, TrackCache


def tracks_of(queries):
    queries = np.asarray(queries, np.float32)
    n = len(queries)
    return Tracks(np.arange(n * 4 * 2, dtype=np.float32).reshape(n, 4, 2), np.zeros((n, 4), bool), queries, (8, 8))


def test_track_cache_returns_rows_by_query_and_drops_the_least_recently_used():
    cache = TrackCache(capacity=2)
    cache.put(tracks_of([[0, 1, 1], [1, 2, 2]]))
    np.testing.assert_array_equal(cache.get(np.array([1, 2, 2]))[0], np.arange(8, 16).reshape(4, 2))
    cache.get(np.array([0, 1, 1]))  # now the most recently used
    cache.put(tracks_of([[3, 4, 4]]))
    assert len(cache) == 2 and cache.get(np.array([1, 2, 2])) is None
    assert cache.get(np.array([0, 1, 1])) is not None and cache.get(np.array([3, 4, 4])) is not None


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("cache"), frames=4)


def test_cached_data_dir_reads_what_the_files_hold_read_only_and_within_bounds(run_dir):
    plain = DataDir(run_dir)
    one_flow = plain.load_flow(0, 1).nbytes
    cached = CachedDataDir(run_dir, max_bytes=2 * one_flow)
    for i, j in ((0, 1), (1, 2), (2, 3), (0, 1)):
        np.testing.assert_array_equal(cached.load_flow(i, j), plain.load_flow(i, j))
    for got, expected in zip(cached.load_mask(0, 2), plain.load_mask(0, 2)):
        np.testing.assert_array_equal(got, expected)
    assert cached.load_flow(0, 1) is cached.load_flow(0, 1)  # kept, not read again
    with pytest.raises(ValueError):
        cached.load_flow(0, 1)[0, 0, 0] = 1.0
    assert 0 < cached.cached_bytes <= cached.max_bytes
