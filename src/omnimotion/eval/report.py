"""Result tables: per-video rows and per-(group, method) means, written as CSV and markdown.

A row is a dict with ``video``, ``group``, ``method``, ``query_mode``, ``num_queries``, ``seconds`` and the
metric fractions of ``omnimotion.eval.scoring`` (``AJ``, ``delta_avg``, ``OA``, ``jaccard_*``,
``pts_within_*``, ``PCK``; ``TC`` in pixels), and may hold the last-frame score (``last_*``,
``omnimotion.eval.lastframe``) and the error breakdown (``omnimotion.eval.breakdown``; ``evidence``: whose data
directory gave the flow-vouched split). Tables print fractions x100, as papers do.

Means are plain means over the videos where a metric is defined (NaN skipped), the last-frame δ and OA
included. Mean rows also pool: the last-frame median error is taken over the errors of all videos, and
``last_delta_pooled``, ``last_OA_pooled`` and the breakdown weigh each video's mean by its count of tracks
(point-frames), so a video with one track counts as one track, not as a whole video.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from omnimotion.eval.metrics import THRESHOLDS_PX, mean_over_videos
from omnimotion.io.atomic import atomic_open, save_text

__all__ = ["mean_rows", "format_markdown", "write_results", "METRIC_KEYS", "PERCENT_KEYS", "POOLED_MEANS",
           "COUNT_KEYS", "DETAIL_KEYS", "NO_DATA_DIR"]

PERCENT_KEYS = ("AJ", "delta_avg", "OA", "PCK", *(f"jaccard_{t}" for t in THRESHOLDS_PX),
                *(f"pts_within_{t}" for t in THRESHOLDS_PX), "last_delta", "last_OA", "last_delta_pooled",
                "last_OA_pooled", "delta_visible", "delta_vouched", "delta_unvouched", "delta_reacquired")
METRIC_KEYS = ("AJ", "delta_avg", "OA", "TC", "PCK", "seconds",
               *(f"jaccard_{t}" for t in THRESHOLDS_PX), *(f"pts_within_{t}" for t in THRESHOLDS_PX))
NO_DATA_DIR = "no data directory"  # a row's ``evidence`` when no flow-vouched split was possible
# mean rows: pooled key -> (the per-video mean, the per-video count that weighs it); counts are summed
POOLED_MEANS = {"last_delta_pooled": ("last_delta", "last_visible"), "last_OA_pooled": ("last_OA", "last_annotated"),
                "delta_visible": ("delta_visible", "visible_frames"),
                "delta_vouched": ("delta_vouched", "vouched_frames"),
                "delta_unvouched": ("delta_unvouched", "unvouched_frames"),
                "delta_reacquired": ("delta_reacquired", "reacquired_frames")}
COUNT_KEYS = ("last_visible", "last_annotated", "visible_frames", "vouched_frames", "unvouched_frames",
              "occluded_frames", "occ_fp", "occ_fn", "reacquired_frames")
DETAIL_KEYS = ("last_frame", "last_delta", "last_median_px", "last_OA", *POOLED_MEANS, *COUNT_KEYS, "evidence")
_ID_KEYS = ("video", "group", "method", "query_mode", "num_queries")
_TABLE = (("AJ", "AJ"), ("delta_avg", "<δavg"), ("OA", "OA"), ("TC", "TC"), ("PCK", "PCK"),
          ("seconds", "s/video"))
_LAST_TABLE = (("last_delta", "δ last"), ("last_median_px", "median px last"), ("last_OA", "OA last"))


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
        for key in METRIC_KEYS + ("last_delta", "last_OA"):
            mean[key] = mean_over_videos([r.get(key, math.nan) for r in members])
        if any("visible_frames" in r for r in members):
            mean.update(_pooled(members))
        means.append(mean)
    return means


def _pooled(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts summed and means weighted by their counts over ``rows`` (videos lacking a value are left out)."""
    pooled: dict[str, Any] = {}
    for key in COUNT_KEYS:
        counts = [r[key] for r in rows if not _missing(r.get(key))]
        pooled[key] = float(sum(counts)) if counts else math.nan
    for pooled_key, (key, weight) in POOLED_MEANS.items():
        pairs = [(r[key], r[weight]) for r in rows if not _missing(r.get(key)) and r.get(weight)]
        total = sum(w for _, w in pairs)
        pooled[pooled_key] = sum(v * w for v, w in pairs) / total if total else math.nan
    errors = [e for r in rows for e in r.get("last_errors", [])]
    if any("last_frame" in r for r in rows):
        pooled["last_median_px"] = float(np.median(errors)) if errors else math.nan
    sources = [r.get("evidence", "") for r in rows if r.get("evidence", "") not in ("", NO_DATA_DIR)]
    pooled["evidence"] = (f"{'/'.join(sorted(set(sources)))} ({len(sources)} of {len(rows)} videos)" if sources
                          else NO_DATA_DIR)
    return pooled


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _display(row: dict[str, Any], key: str) -> str:
    value = row.get(key, math.nan)
    if _missing(value):
        return "-"
    if key in PERCENT_KEYS:
        return f"{100 * value:.1f}"
    return f"{value:.2f}"


def format_markdown(rows: list[dict[str, Any]], failures: list[dict[str, str]] | None = None) -> str:
    """Markdown: mean and per-video tables (with the last-frame score where a file has sparse annotations),
    the error breakdown, then the failed (video, method) pairs with their errors."""
    columns = _TABLE[:-1] + (_LAST_TABLE if any("last_frame" in r for r in rows) else ()) + _TABLE[-1:]
    means = mean_rows(rows)
    parts = ["AJ, <δavg, OA and PCK in %; TC in px/frame² at 256x256 (lower is better); s/video = wall time "
             "of the method."]
    last_frame = columns != _TABLE
    if last_frame:
        parts[0] += (" δ / median px / OA last: at each video's last annotated frame (<δavg over the tracks "
                     "visible there, their median error in px at 256x256, OA over the tracks annotated there); "
                     "in mean rows δ and OA are means over videos and the median is over all their tracks.")
    parts += ["", "## Means", ""] + _table(means, columns)
    if last_frame:
        parts += ["", "Last frame pooled over the tracks of all videos (each track counts once):", ""]
        parts += [f"- {m['group']}, {m['method']}: δ {_display(m, 'last_delta_pooled')} over "
                  f"{_count(m.get('last_visible'))} visible tracks, OA {_display(m, 'last_OA_pooled')} over "
                  f"{_count(m.get('last_annotated'))} annotated" for m in means]
    parts += ["", "## Per video", ""] + _table(rows, columns)
    if any("visible_frames" in r for r in rows):
        parts += ["", *_breakdown_section(means, rows)]
    if failures:
        parts += ["", "## Failed", ""]
        parts += [f"- {f['video']} ({f['method']}): {f['error']}" for f in failures]
    return "\n".join(parts) + "\n"


def _table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]) -> list[str]:
    lines = ["| group | video | method | mode | queries | " + " | ".join(t for _, t in columns) + " |",
             "|" + "---|" * (5 + len(columns))]
    for row in rows:
        cells = [row["group"], row["video"], row["method"], row["query_mode"], str(row["num_queries"])]
        lines.append("| " + " | ".join(cells + [_display(row, k) for k, _ in columns]) + " |")
    return lines


def _breakdown_section(means: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    header = ("| group | video | method | visible pt-frames | flow vouches % | <δavg vouched | <δavg not vouched | "
              "occl. FP (% of visible) | occl. FN (% of occluded) | after occlusion pt-frames | "
              "<δavg after occlusion | data dir of |")
    lines = ["## Where the error is", "",
             "Over the scored point-frames (those the table above scores), pooled over all point-frames in the "
             "mean rows. Vouched: the data directory's chained flow from the query frame is reliable there "
             "(`omnimotion.track.evidence`). FP: predicted occluded, truly visible; FN: predicted visible, "
             "truly occluded. After occlusion: visible frames beyond a ground-truth occlusion as seen from the "
             "query frame (re-acquisition).", "", header, "|" + "---|" * 12]
    for row in means + rows:
        lines.append("| " + " | ".join([row["group"], row["video"], row["method"], *_breakdown_cells(row)]) + " |")
    if any(r.get("evidence") == NO_DATA_DIR for r in rows):
        lines += ["", "Empty vouched cells: no data directory prepared for that clip in `work/` (methods that "
                  "prepare one, such as `omnimotion`, write it there; the others borrow it)."]
    return lines


def _breakdown_cells(row: dict[str, Any]) -> list[str]:
    vouched, unvouched = row.get("vouched_frames", math.nan), row.get("unvouched_frames", math.nan)
    split = vouched + unvouched
    evidence = row.get("evidence", "")
    return [_count(row.get("visible_frames")),
            _percent(vouched, split), _display(row, "delta_vouched"), _display(row, "delta_unvouched"),
            _count_and_rate(row.get("occ_fp"), row.get("visible_frames")),
            _count_and_rate(row.get("occ_fn"), row.get("occluded_frames")),
            _count(row.get("reacquired_frames")), _display(row, "delta_reacquired"),
            "-" if evidence in ("", NO_DATA_DIR) else evidence]


def _count(value: Any) -> str:
    return "-" if _missing(value) else f"{int(value)}"


def _percent(part: Any, whole: Any) -> str:
    return "-" if _missing(part) or _missing(whole) or not whole else f"{100 * part / whole:.1f}"


def _count_and_rate(part: Any, whole: Any) -> str:
    return "-" if _missing(part) else f"{int(part)} ({_percent(part, whole)})"


def write_results(out_dir: str | Path, rows: list[dict[str, Any]],
                  failures: list[dict[str, str]] | None = None) -> str:
    """Write ``results.csv`` (per-video and mean rows; percentages x100) and ``results.md``; return the md."""
    out_dir = Path(out_dir)
    columns = list(_ID_KEYS) + list(METRIC_KEYS) + list(DETAIL_KEYS)
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
