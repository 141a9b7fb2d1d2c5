"""Result tables: per-video rows and per-(group, method) means, written as CSV and markdown.

A row is a dict with ``video``, ``group``, ``method``, ``query_mode``, ``num_queries``, ``seconds`` and the
metric fractions of ``omnimotion.eval.scoring`` (``AJ``, ``delta_avg``, ``OA``, ``jaccard_*``,
``pts_within_*``, ``PCK``; ``TC`` in pixels). Tables print AJ, <delta_avg, OA and PCK x100, as papers do.
Means are plain means over the videos where a metric is defined (NaN skipped).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from omnimotion.eval.metrics import THRESHOLDS_PX, mean_over_videos
from omnimotion.io.atomic import atomic_open, save_text

__all__ = ["mean_rows", "format_markdown", "write_results", "METRIC_KEYS", "PERCENT_KEYS"]

PERCENT_KEYS = ("AJ", "delta_avg", "OA", "PCK", *(f"jaccard_{t}" for t in THRESHOLDS_PX),
                *(f"pts_within_{t}" for t in THRESHOLDS_PX))
METRIC_KEYS = ("AJ", "delta_avg", "OA", "TC", "PCK", "seconds",
               *(f"jaccard_{t}" for t in THRESHOLDS_PX), *(f"pts_within_{t}" for t in THRESHOLDS_PX))
_ID_KEYS = ("video", "group", "method", "query_mode", "num_queries")
_TABLE = (("AJ", "AJ"), ("delta_avg", "<δavg"), ("OA", "OA"), ("TC", "TC"), ("PCK", "PCK"),
          ("seconds", "s/video"))


def mean_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (group, method), in first-seen order, with video = "mean (K videos)"."""
    keys: list[tuple[str, str]] = []
    for row in rows:
        key = (row["group"], row["method"])
        if key not in keys:
            keys.append(key)
    means = []
    for group, method in keys:
        members = [r for r in rows if r["group"] == group and r["method"] == method]
        plural = "s" if len(members) != 1 else ""
        mean = {"video": f"mean ({len(members)} video{plural})", "group": group, "method": method,
                "query_mode": "/".join(sorted({r["query_mode"] for r in members})),
                "num_queries": sum(int(r["num_queries"]) for r in members)}
        for key in METRIC_KEYS:
            mean[key] = mean_over_videos([r.get(key, math.nan) for r in members])
        means.append(mean)
    return means


def _display(row: dict[str, Any], key: str) -> str:
    value = row.get(key, math.nan)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if key in PERCENT_KEYS:
        return f"{100 * value:.1f}"
    return f"{value:.2f}"


def format_markdown(rows: list[dict[str, Any]], failures: list[dict[str, str]] | None = None) -> str:
    """Markdown: per-video table, mean table, then the failed (video, method) pairs with their errors."""
    header = "| group | video | method | mode | queries | " + " | ".join(t for _, t in _TABLE) + " |"
    rule = "|" + "---|" * (5 + len(_TABLE))

    def table(items: list[dict[str, Any]]) -> list[str]:
        lines = [header, rule]
        for row in items:
            cells = [row["group"], row["video"], row["method"], row["query_mode"], str(row["num_queries"])]
            lines.append("| " + " | ".join(cells + [_display(row, k) for k, _ in _TABLE]) + " |")
        return lines

    parts = ["AJ, <δavg, OA and PCK in %; TC in px/frame² at 256x256 (lower is better); s/video = wall time "
             "of the method.", "", "## Means", ""]
    parts += table(mean_rows(rows)) + ["", "## Per video", ""] + table(rows)
    if failures:
        parts += ["", "## Failed", ""]
        parts += [f"- {f['video']} ({f['method']}): {f['error']}" for f in failures]
    return "\n".join(parts) + "\n"


def write_results(out_dir: str | Path, rows: list[dict[str, Any]],
                  failures: list[dict[str, str]] | None = None) -> str:
    """Write ``results.csv`` (per-video and mean rows; percentages x100) and ``results.md``; return the md."""
    out_dir = Path(out_dir)
    columns = list(_ID_KEYS) + list(METRIC_KEYS)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows + mean_rows(rows):
        writer.writerow({k: _csv_value(k, row.get(k, math.nan)) for k in columns})
    with atomic_open(out_dir / "results.csv", "w") as handle:
        handle.write(buffer.getvalue())
    markdown = format_markdown(rows, failures)
    save_text(out_dir / "results.md", markdown)
    return markdown


def _csv_value(key: str, value: Any) -> Any:
    if key in PERCENT_KEYS and isinstance(value, float) and not math.isnan(value):
        return round(100 * value, 4)
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 4)
    return value
