"""Result tables (means over videos, NaN skipped, x100 display) and the track pictures."""

import csv
import math

import cv2
import numpy as np
import pytest

from omnimotion.eval.plots import pick_plot_queries, plot_tracks
from omnimotion.eval.report import format_markdown, mean_rows, write_results
from omnimotion.eval.tapvid import sample_queries


def _row(video, method, aj, tc, group="g"):
    return {"video": video, "group": group, "method": method, "query_mode": "strided", "num_queries": 3,
            "AJ": aj, "delta_avg": 0.5, "OA": 1.0, "TC": tc, "PCK": math.nan, "seconds": 2.0}


def test_means_per_group_and_method_skip_nan():
    rows = [_row("a", "chain", 0.2, 1.0), _row("b", "chain", 0.4, math.nan), _row("a", "direct", 0.6, 3.0),
            _row("c", "chain", 0.9, 0.5, group="other")]
    means = mean_rows(rows)
    assert [(m["group"], m["method"]) for m in means] == [("g", "chain"), ("g", "direct"), ("other", "chain")]
    assert means[0]["AJ"] == pytest.approx(0.3) and means[0]["TC"] == 1.0  # NaN TC skipped
    assert means[0]["video"] == "mean (2 videos)" and means[0]["num_queries"] == 6
    assert math.isnan(means[0]["PCK"])


def test_markdown_and_csv_print_percentages(tmp_path):
    rows = [_row("a", "chain", 0.2345, 1.0)]
    failures = [{"video": "b", "method": "chain", "error": "ValueError: bad"}]
    markdown = write_results(tmp_path, rows, failures)
    assert "| g | a | chain | strided | 3 | 23.4 | 50.0 | 100.0 | 1.00 | - | 2.00 |" in markdown
    assert "- b (chain): ValueError: bad" in markdown
    assert (tmp_path / "results.md").read_text() == markdown == format_markdown(rows, failures)
    with open(tmp_path / "results.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["video"] for r in table] == ["a", "mean (1 video)"]
    assert float(table[0]["AJ"]) == pytest.approx(23.45) and table[0]["PCK"] == ""


def test_plot_queries_prefer_the_earliest_frame():
    tracks = np.zeros((12, 10, 2), np.float32)
    occluded = np.zeros((12, 10), bool)
    occluded[:3, :5] = True  # tracks 0-2 first visible at frame 5
    queries = sample_queries(tracks, occluded, "strided")
    chosen = pick_plot_queries(queries, count=4)
    assert len(chosen) == 4 and (queries.queries[chosen, 0] == 0).all()


def test_plot_is_a_png_of_the_frame_size_ratio(tmp_path):
    tracks = np.stack([np.linspace([5, 5], [60, 30], 6)] * 2).astype(np.float32)
    queries = sample_queries(tracks, np.zeros((2, 6), bool), "first")
    path = plot_tracks(tmp_path / "p.png", np.zeros((40, 80, 3), np.uint8), queries, tracks + 1,
                       np.zeros((2, 6), bool), title="t")
    image = cv2.imread(str(path))
    assert image is not None and image.shape[1] == pytest.approx(2 * image.shape[0], rel=0.05)
