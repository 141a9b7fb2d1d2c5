"""Per-video batch status files and the status table of ``omnimotion batch`` and ``omnimotion batch --status``.

Each video's data directory holds ``batch_status.json`` (written atomically), with ``state``:

- ``queued``: submitted by the driver, no stage started yet in this run;
- ``running``: ``stage`` (prepare, train or track) is running, or the machine running the driver died
  (see the ``updated`` column);
- ``interrupted``: the driver stopped (Ctrl-C or an error) while ``stage`` ran; its worker was stopped;
- ``done``: every stage finished and the outputs (``tracks.npz`` and the pictures) are written;
- ``failed``: ``stage`` failed for ``reason`` (a worker death counts only after the retries ran out).

``seconds`` holds the wall time of each finished stage of the latest attempt and ``settings`` the settings that
decide the outputs: a video is complete only if it is ``done`` with the same settings and its ``tracks.npz``
exists. The table adds what is on disk (frames, preprocessing finished, newest checkpoint, tracks), which tells
how far a video got whatever its status file says.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from omnimotion.batch.inputs import BatchVideo
from omnimotion.io.atomic import save_json
from omnimotion.io.checkpoint import checkpoint_step, latest_checkpoint
from omnimotion.io.datadir import DataDir
from omnimotion.io.video import frame_files
from omnimotion.preprocess.pipeline import StageRecord

__all__ = ["STATUS_FILE", "STAGES", "VideoStatus", "read_status", "write_status", "update_status",
           "collect_status", "is_complete", "outputs_on_disk", "format_status_table"]

logger = logging.getLogger(__name__)

STATUS_FILE = "batch_status.json"
STAGES = ("prepare", "train", "track")
TRACKS_FILE = "tracks.npz"


@dataclass
class VideoStatus:
    """The content of one ``batch_status.json`` (see the module docstring); ``updated`` is a Unix time."""

    name: str
    source: str
    state: str = "queued"
    stage: str = ""
    reason: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    updated: float = 0.0


def read_status(out_dir: Path) -> VideoStatus | None:
    """The status of the video in ``out_dir``, or None if it has none (or an unreadable one)."""
    path = Path(out_dir) / STATUS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return VideoStatus(**{f.name: data[f.name] for f in fields(VideoStatus) if f.name in data})
    except (OSError, ValueError, TypeError) as err:
        logger.warning("ignoring unreadable batch status %s (%s)", path, err)
        return None


def write_status(out_dir: Path, status: VideoStatus) -> VideoStatus:
    status.updated = time.time()
    save_json(Path(out_dir) / STATUS_FILE, asdict(status))
    return status


def update_status(video: BatchVideo, **changes: Any) -> VideoStatus:
    """Read, change and write the status of ``video`` (a missing or unreadable file starts a new one)."""
    status = read_status(video.out_dir) or VideoStatus(video.name, str(video.source))
    for key, value in changes.items():
        setattr(status, key, value)
    return write_status(video.out_dir, status)


def collect_status(out_root: Path) -> list[tuple[Path, VideoStatus]]:
    """(data directory, status) of every video under ``out_root`` that has a status file, by name."""
    out_root = Path(out_root)
    if not out_root.is_dir():
        raise FileNotFoundError(f"{out_root} does not exist; give the --out folder of a batch")
    found = [(path.parent, read_status(path.parent)) for path in sorted(out_root.glob(f"*/{STATUS_FILE}"))]
    return [(folder, status) for folder, status in found if status is not None]


def is_complete(video: BatchVideo, settings: dict[str, Any]) -> bool:
    """Whether ``video`` finished every stage with these settings (and its tracks are still there)."""
    status = read_status(video.out_dir)
    return (status is not None and status.state == "done" and status.settings == settings
            and status.source == str(video.source) and (video.out_dir / TRACKS_FILE).is_file())


def outputs_on_disk(out_dir: Path) -> str:
    """What the data directory holds, e.g. ``"24 frames, prepared, model step 3000, tracks"``."""
    out_dir = Path(out_dir)
    parts = []
    if (out_dir / "color").is_dir():
        parts.append(f"{len(frame_files(out_dir))} frames")
        if StageRecord(DataDir(out_dir))["chain"].get("done"):
            parts.append("prepared")
    newest = [c for c in map(latest_checkpoint, sorted(out_dir.glob("out/*"))) if c is not None]
    if newest:
        parts.append(f"model step {max(map(checkpoint_step, newest))}")
    if (out_dir / TRACKS_FILE).is_file():
        parts.append("tracks")
    return ", ".join(parts) or "nothing yet"


def format_status_table(rows: Iterable[tuple[Path, VideoStatus]], now: float | None = None) -> str:
    """A markdown table: one line per video with its state, stage times, outputs on disk and reason."""
    now = time.time() if now is None else now
    header = ["video", "state", "stage", *(f"{stage} s" for stage in STAGES), "updated", "on disk", "reason"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for out_dir, status in rows:
        times = [f"{status.seconds[stage]:.1f}" if stage in status.seconds else "" for stage in STAGES]
        cells = [status.name, status.state, status.stage, *times, _age(now - status.updated),
                 outputs_on_disk(out_dir), status.reason.replace("|", "/").replace("\n", " ")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"
