"""prepare(): layout, resume rules of the stage record, clean re-filter after chaining, sources."""

import json
import logging

import cv2
import numpy as np
import pytest

from omnimotion.preprocess.options import PrepareConfig
from omnimotion import synthetic
from omnimotion.flow import DisFlow
from omnimotion.io.datadir import CorruptFileError, DataDir
from omnimotion.io.atomic import OutputNotWritableError
from omnimotion.preprocess import disk, pipeline
from omnimotion.preprocess.pipeline import STATE_FILE, prepare, refilter

N, SIZE = 6, 48
NON_ADJACENT = N * (N - 1) - 2 * (N - 1)  # ordered pairs more than one frame apart: 20


class CountingDis:
    """DIS that counts its calls on the clip's frames (workers=1 keeps the calls in this process); the probe
    on a tiny pair that checks the backend runs before anything is written is not counted."""

    name = "dis"

    def __init__(self):
        self.inner = DisFlow()
        self.options = self.inner.options
        self.calls = 0

    def __call__(self, image_a, image_b):
        self.calls += image_a.shape[:2] == (SIZE, SIZE)
        return self.inner(image_a, image_b)


@pytest.fixture
def counting(monkeypatch):
    backends = []

    def backend(self):
        backends.append(CountingDis())
        return backends[-1]

    monkeypatch.setattr(PrepareConfig, "backend", backend)
    return lambda: backends[-1].calls


@pytest.fixture(scope="module")
def clip_video(tmp_path_factory):
    clip = synthetic.make_clip(num_frames=N, height=SIZE, width=SIZE, num_sprites=2, motion="mixed", seed=0)
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    synthetic.write_video(clip, path, fps=10)
    return path


def snapshot(data: DataDir) -> dict[str, bytes]:
    """Every output file's bytes (flows, masks, count maps, stats)."""
    files = {}
    for folder in (data.flow_dir, data.mask_dir, data.count_dir):
        files.update({f"{folder.name}/{p.name}": p.read_bytes() for p in folder.iterdir()})
    files["flow_stats.json"] = data.flow_stats_path.read_bytes()
    return files


def run(source, out, workers=1, **options):
    options.setdefault("chain_direct_max_gap", None)  # the official rule unless a test asks for chains
    options.setdefault("max_side", 480)
    return prepare(source, out, PrepareConfig(**options), workers=workers, progress=False)


def test_layout_of_a_prepared_directory(clip_video, tmp_path):
    data = run(clip_video, tmp_path / "out")
    assert data.frame_names == [f"{t:05d}.jpg" for t in range(N)]
    assert data.load_frames().shape == (N, SIZE, SIZE, 3)
    assert len(list(data.flow_dir.glob("*.npy"))) == len(list(data.mask_dir.glob("*.png"))) == N * (N - 1)
    assert data.load_flow(0, 5).shape == (SIZE, SIZE, 2)
    stats = data.load_flow_stats()
    assert sorted(stats) == data.frame_names and all(len(row) == N - 1 for row in stats.values())
    counts = data.load_count_map(2)
    assert counts.dtype == np.uint16 and counts.max() <= N - 1 and counts.mean() > 1
    state = json.loads((data.root / STATE_FILE).read_text())
    assert state["flow"] == {"backend": "dis", "options": {"preset": "fine2x"}, "max_gap": None, "done": True}
    assert state["filter"]["cycle_th"] == 3.0 and state["chain"] == {"done": True} and state["flows_chained"]


def test_resume_recomputes_only_damaged_flows_with_identical_results(clip_video, tmp_path, counting, caplog):
    out = tmp_path / "out"
    data = run(clip_video, out, chain=False)
    assert counting() == N * (N - 1)
    before = snapshot(data)
    data.flow_path(0, 3).unlink()
    data.flow_path(4, 1).unlink()
    damaged = data.flow_path(2, 5).read_bytes()
    data.flow_path(2, 5).write_bytes(damaged[:100])
    with caplog.at_level(logging.INFO):
        data = run(clip_video, out, chain=False)
    assert counting() == 3
    assert "3 pairs computed, 27 reused" in caplog.text and "frames already in" in caplog.text
    assert snapshot(data) == before  # flows, and the masks filtered again from them
    run(clip_video, out, chain=False)
    assert counting() == 0


def test_chaining_runs_once_and_a_new_threshold_refilters_direct_flows(clip_video, tmp_path, counting, caplog):
    out = tmp_path / "out"
    run(clip_video, out)
    chained = snapshot(DataDir(out))
    with caplog.at_level(logging.INFO):
        run(clip_video, out)
    assert counting() == 0 and "nothing to do" in caplog.text
    assert snapshot(DataDir(out)) == chained  # not chained a second time
    # A new threshold after chaining: the chained (gap >= 2) flows are recomputed, then filter + chain.
    run(clip_video, out, cycle_th=1.0)
    assert counting() == NON_ADJACENT
    clean = run(clip_video, tmp_path / "fresh", cycle_th=1.0)
    assert snapshot(DataDir(out)) == snapshot(clean)
    assert snapshot(clean)["flow_stats.json"] != chained["flow_stats.json"]


def test_interrupted_chaining_is_redone_from_direct_flows(clip_video, tmp_path, counting, monkeypatch):
    out = tmp_path / "out"
    real_chain = pipeline.chain_flows

    def chain_then_interrupt(*args, **kwargs):
        real_chain(*args, **kwargs)  # the flows are overwritten, but the record never hears of it
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "chain_flows", chain_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(clip_video, out)
    monkeypatch.setattr(pipeline, "chain_flows", real_chain)
    run(clip_video, out)
    assert counting() == NON_ADJACENT
    assert snapshot(DataDir(out)) == snapshot(run(clip_video, tmp_path / "fresh"))


def test_refilter_filters_chained_flows_as_official_and_says_so(clip_video, tmp_path, caplog):
    data = run(clip_video, tmp_path / "out")
    chained_flows = {p.name: p.read_bytes() for p in data.flow_dir.iterdir()}
    stats_before = data.load_flow_stats()
    with caplog.at_level(logging.WARNING):
        refilter(data.root, cycle_th=0.5, workers=1, progress=False)
    assert "holds chained flows" in caplog.text and "--cycle_th 0.5" in caplog.text
    assert {p.name: p.read_bytes() for p in data.flow_dir.iterdir()} == chained_flows  # flows untouched
    stats_after = data.load_flow_stats()
    assert sum(map(sum, (r.values() for r in stats_after.values()))) < \
        sum(map(sum, (r.values() for r in stats_before.values())))
    state = json.loads((data.root / STATE_FILE).read_text())
    assert state["filter"]["on_chained_flows"] and not state["chain"]["done"]


def test_frame_range_stride_and_resize(tmp_path):
    clip = synthetic.make_clip(num_frames=10, height=40, width=64, num_sprites=1, motion="translate", seed=1)
    synthetic.write_frames(clip, tmp_path / "frames")
    data = run(tmp_path / "frames", tmp_path / "out", start=1, end=9, stride=3, max_side=32, chain=False)
    # Frames 1, 4, 7, shrunk from 64x40 to 32x20.
    assert data.num_frames == 3 and data.image_hw == (20, 32)
    resized = [cv2.resize(frame, (32, 20), interpolation=cv2.INTER_AREA).astype(int) for frame in clip.video]
    for k, frame in enumerate(data.load_frames()):
        errors = [np.abs(frame - reference).mean() for reference in resized]
        assert int(np.argmin(errors)) == 1 + 3 * k and min(errors) < 8  # JPEG twice (source and color/)
    with pytest.raises(ValueError, match="already holds 3 frames of 32x20, but the input gives 10 frames"):
        run(tmp_path / "frames", tmp_path / "out", chain=False)
    source = data.load_source_info()  # what the frames came from, before resizing
    assert source["native_hw"] == (40, 64) and source["fps"] is None
    assert (source["start"], source["end"], source["stride"]) == (1, 9, 3)
    assert source["path"] == str((tmp_path / "frames").resolve()) and data.recorded_fps() == 10.0


def test_the_source_video_frame_rate_and_size_are_recorded_and_travel_with_copies(tmp_path):
    clip = synthetic.make_clip(num_frames=4, height=48, width=64, num_sprites=1, motion="translate", seed=1)
    synthetic.write_video(clip, tmp_path / "clip.mp4", fps=24)
    data = run(tmp_path / "clip.mp4", tmp_path / "out", max_side=32, chain=False)
    assert data.image_hw == (24, 32)
    assert data.load_source_info()["native_hw"] == (48, 64) and data.recorded_fps() == 24.0
    copy = run(tmp_path / "out", tmp_path / "copy", chain=False)
    assert copy.load_source_info() == data.load_source_info()
    copy.source_info_path.write_text("{not json")
    with pytest.raises(CorruptFileError, match="source.json is unreadable"):
        copy.recorded_fps()


def test_data_directory_sources_in_place_and_copied(tmp_path):
    clip = synthetic.make_clip(num_frames=4, height=32, width=32, num_sprites=1, motion="translate", seed=2)
    synthetic.write_frames(clip, tmp_path / "seq" / "color")
    originals = {p.name: p.read_bytes() for p in (tmp_path / "seq" / "color").iterdir()}
    data = run(tmp_path / "seq", tmp_path / "seq", chain=False)  # the official main_processing.py way
    assert {p.name: p.read_bytes() for p in data.color_dir.iterdir()} == originals
    assert len(list(data.flow_dir.iterdir())) == 12
    copy = run(tmp_path / "seq", tmp_path / "copy", stride=2, chain=False)
    assert [p.read_bytes() for p in sorted(copy.color_dir.iterdir())] == \
        [originals[name] for name in sorted(originals)[::2]]
    with pytest.raises(ValueError, match="cannot pick a frame range of a data directory in place"):
        run(tmp_path / "seq", tmp_path / "seq", start=1)


def test_changed_flow_backend_options_are_refused(clip_video, tmp_path):
    run(clip_video, tmp_path / "out", chain=False, max_gap=2)
    with pytest.raises(ValueError, match=r"made with --flow dis \(preset=fine2x\) --max_gap 2, not --flow dis "
                                         r"\(preset=fast\); to go on with them, give those options"):
        run(clip_video, tmp_path / "out", chain=False, dis_preset="fast")


def test_changing_chain_direct_max_gap_rechains_from_direct_flows(clip_video, tmp_path, counting):
    out = tmp_path / "out"
    official = snapshot(run(clip_video, out))
    run(clip_video, out, chain_direct_max_gap=1)
    assert counting() == 0  # chains of consecutive flows need no direct long flow: none is recomputed
    fresh = snapshot(run(clip_video, tmp_path / "fresh", chain_direct_max_gap=1))
    assert counting() == 2 * (N - 1)  # only the consecutive pairs, yet every pair is written
    assert snapshot(DataDir(out)) == fresh
    assert len(list((tmp_path / "fresh" / "raft_exhaustive").glob("*.npy"))) == N * (N - 1)
    # trusting only consecutive flows changes the long-gap flows and masks, never the gap-1 ones
    changed = {name for name in fresh if fresh[name] != official.get(name)}
    assert any(name.startswith("raft_exhaustive/") for name in changed)
    assert "raft_exhaustive/00000.jpg_00001.jpg.npy" not in changed
    record = json.loads((out / STATE_FILE).read_text())
    assert record["filter"]["chain_direct_max_gap"] == 1
    run(clip_video, out)  # back to official chaining: the direct long flows are computed again
    assert counting() == NON_ADJACENT
    assert snapshot(DataDir(out)) == official


def test_consecutive_chains_reach_only_max_gap(clip_video, tmp_path, counting):
    data = run(clip_video, tmp_path / "out", max_gap=2, chain_direct_max_gap=1)
    assert counting() == 2 * (N - 1)
    written = {p.name for p in data.flow_dir.glob("*.npy")}
    assert written == {f"{data.pair_name(i, j)}.npy" for i in range(N) for j in range(N) if 0 < abs(i - j) <= 2}


def test_too_little_disk_space_is_refused_before_any_flow_and_the_frames_are_kept(clip_video, tmp_path,
                                                                                  counting, monkeypatch):
    out = tmp_path / "out"
    real_usage = disk.shutil.disk_usage
    monkeypatch.setattr(disk.shutil, "disk_usage",
                        lambda path: real_usage(path)._replace(free=10_000))
    with pytest.raises(OutputNotWritableError, match=rf"needs about 0.6 MB more .* {N * (N - 1)} frame "
                                                              rf"pairs \({N} frames of {SIZE}x{SIZE}.*--max_gap"):
        run(clip_video, out)
    assert counting() == 0 and not DataDir(out).flow_dir.exists()
    assert DataDir(out).num_frames == N  # the frames are kept and reused
    monkeypatch.setattr(disk.shutil, "disk_usage", real_usage)
    run(clip_video, out)
    assert counting() == N * (N - 1)


def test_the_disk_estimate_matches_what_preprocessing_writes(clip_video, tmp_path):
    data = run(clip_video, tmp_path / "out", chain=False)
    written = sum(path.stat().st_size for folder in (data.flow_dir, data.mask_dir) for path in folder.iterdir())
    pairs, still_needed = disk.bytes_still_needed(data, None)
    assert pairs == N * (N - 1) and still_needed < 0.01 * written  # masks compress better than estimated
    for folder in (data.flow_dir, data.mask_dir):
        for path in folder.iterdir():
            path.unlink()
    _, estimate = disk.bytes_still_needed(data, None)
    assert 0.95 * written < estimate < 1.05 * written
    assert disk.bytes_still_needed(data, 1) == (2 * (N - 1), pytest.approx(estimate * 2 / N, rel=0.01))


def test_outputs_damaged_after_preprocessing_are_found_and_recomputed(clip_video, tmp_path, caplog):
    data = run(clip_video, tmp_path / "out", chain_direct_max_gap=1)
    before = snapshot(data)
    for path in (data.flow_path(0, 4), data.flow_path(3, 2), data.mask_path(2, 3)):  # chained, direct, mask
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with caplog.at_level(logging.WARNING):
        run(clip_video, tmp_path / "out", chain_direct_max_gap=1)
    assert "3 file(s)" in caplog.text and "changed since preprocessing finished" in caplog.text
    assert snapshot(data) == before


def test_a_missing_flow_dependency_fails_before_anything_is_written(clip_video, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise ImportError("No module named 'torchvision'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    weights = tmp_path / "raft.pth"
    weights.write_bytes(b"")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="torchvision"):
        prepare(clip_video, out, PrepareConfig(flow="raft", raft_weights=str(weights)), progress=False, workers=1)
    assert not out.exists()
