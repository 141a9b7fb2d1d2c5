"""Planning preprocessing: pair counts, disk and time before any work, and a frame window for long videos."""

import numpy as np
import pytest

from omnimotion.preprocess import plan as plan_module
from omnimotion.preprocess.plan import pair_plan, plan_pairs, selected_frames
from omnimotion.synthetic import make_clip, write_frames, write_video


def test_pairs_and_disk_grow_as_frames_squared_without_a_window():
    every = pair_plan(300, (256, 256), None, 1)
    assert every.pairs == 300 * 299  # 89,700 ordered pairs
    # per pair: a float32 [256, 256, 2] .npy (524,288 bytes + 128 header) and a ~1 bit/px mask (8,192)
    assert every.disk_bytes == 89_700 * (524_288 + 128 + 8_192)  # ~47.8 GB, as the README says
    windowed = pair_plan(300, (256, 256), 8, 1)
    assert windowed.pairs == 2 * sum(300 - gap for gap in range(1, 9)) == 4_728
    # only the 2 x 299 consecutive flows are computed; every pair is filtered and chained
    assert every.seconds == pytest.approx(598 * plan_module.SECONDS_PER_PAIR["flow"]
                                          + 89_700 * plan_module.SECONDS_PER_PAIR["chain"])


def test_a_long_folder_gets_the_widest_window_within_the_budget(tmp_path, caplog):
    write_frames(make_clip(num_frames=80, height=16, width=16, num_sprites=0), tmp_path / "frames")
    with caplog.at_level("INFO"):
        plan = plan_pairs(tmp_path / "frames")
    # 80 x 79 = 6,320 pairs > 5,000: window 5,000 // (2 x 80) = 31 frames -> 2 x sum(80 - g, g = 1..31) pairs
    assert plan.max_gap == 31 and plan.pairs == 3_968
    assert "using --max_gap 31 instead" in caplog.text and "--max_gap all" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        short = plan_pairs(tmp_path / "frames", end=40)
    assert short.max_gap is None and short.pairs == 40 * 39 and "--max_gap" not in caplog.text


def test_a_video_is_counted_from_its_header_with_start_end_stride_and_working_size(tmp_path):
    write_video(make_clip(num_frames=9, height=40, width=64, num_sprites=0), tmp_path / "clip.mp4", fps=10)
    assert selected_frames(tmp_path / "clip.mp4", 1, 8, 2, 32) == (4, (20, 32))  # frames 1, 3, 5, 7
    assert selected_frames(tmp_path / "clip.mp4", 0, None, 1, None) == (9, (40, 64))


def test_run_prepares_in_the_planned_window(tmp_path, monkeypatch, caplog):
    from omnimotion.pipeline import RunSettings, prepare_stage

    write_frames(make_clip(num_frames=6, height=16, width=16, num_sprites=0), tmp_path / "frames")
    monkeypatch.setattr(plan_module, "PAIR_BUDGET", 10)
    monkeypatch.setattr(plan_module, "MIN_AUTO_GAP", 1)
    with caplog.at_level("WARNING"):
        data = prepare_stage(tmp_path / "frames", tmp_path / "out", RunSettings(workers=1), progress=False)
    assert "using --max_gap 1 instead" in caplog.text
    written = {(i, j) for i in range(6) for j in range(6) if data.flow_path(i, j).exists()}
    assert written == {(i, j) for i in range(6) for j in range(6) if abs(i - j) == 1}
    every = prepare_stage(tmp_path / "frames", tmp_path / "all", RunSettings(workers=1, auto_max_gap=False),
                          progress=False)
    assert np.sum([every.flow_path(i, j).exists() for i in range(6) for j in range(6) if i != j]) == 30
