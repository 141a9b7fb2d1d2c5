"""``omnimotion_state.json``: what each preprocessing stage finished, with which options, and a fingerprint of
every file the finished stages wrote, so that later runs can tell a damaged output from a good one.

The fingerprint of a file is its size and a CRC of its last 4 KiB: a truncated file (its size changes) or
one damaged near its end is told apart without reading whole flows. ``prepare`` checks them before saying
"nothing to do" and recomputes what is damaged; training checks them before its first step.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path
from typing import Any

from omnimotion.io.atomic import save_json
from omnimotion.io.datadir import CorruptFileError, DataDir

__all__ = ["StageRecord", "STATE_FILE", "fingerprint", "output_fingerprints", "damaged_outputs",
           "check_prepared_outputs"]

logger = logging.getLogger(__name__)

STATE_FILE = "omnimotion_state.json"
_EMPTY_STATE: dict[str, Any] = {"version": 1, "frames": {}, "flow": {}, "filter": {}, "chain": {},
                                "flows_chained": False, "outputs": {}}
_TAIL_BYTES = 4096


class StageRecord:
    """``omnimotion_state.json`` of one data directory: what each stage finished, with which options."""

    def __init__(self, data: DataDir):
        self.path = data.root / STATE_FILE
        self.exists = self.path.exists()
        self.state = json.loads(json.dumps(_EMPTY_STATE))
        if self.exists:
            try:
                self.state.update(json.loads(self.path.read_text()))
            except json.JSONDecodeError:
                logger.warning("%s is unreadable; starting a new stage record (finished flows are still "
                               "reused)", self.path)

    def __getitem__(self, stage: str) -> Any:
        return self.state[stage]

    def set(self, stage: str, value: Any) -> None:
        """Change one stage's entry and save at once, so that the file always matches the outputs. Any
        change of a stage forgets the output fingerprints: they are recorded again when the stages finish."""
        self.state[stage] = value
        if stage != "outputs":
            self.state["outputs"] = {}
        save_json(self.path, self.state)
        self.exists = True


def fingerprint(path: Path) -> str:
    """``"<size>:<crc32 of the last 4 KiB>"`` of a file."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(max(0, size - _TAIL_BYTES))
        return f"{size}:{zlib.crc32(handle.read()):08x}"


def output_fingerprints(data: DataDir) -> dict[str, str]:
    """Fingerprints of every flow, mask, count map and ``flow_stats.json``, by path relative to the root."""
    files = [path for folder in (data.flow_dir, data.mask_dir, data.count_dir) if folder.is_dir()
             for path in folder.iterdir() if not path.name.startswith(".")]
    if data.flow_stats_path.exists():
        files.append(data.flow_stats_path)
    return {str(path.relative_to(data.root)): fingerprint(path) for path in sorted(files)}


def damaged_outputs(data: DataDir, recorded: dict[str, str]) -> list[str]:
    """The recorded files (relative paths) that are missing or no longer match their fingerprint."""
    damaged = []
    for name, expected in recorded.items():
        path = data.root / name
        if not path.is_file() or fingerprint(path) != expected:
            damaged.append(name)
    return damaged


def check_prepared_outputs(data: DataDir) -> None:
    """Raise CorruptFileError naming the damaged outputs of a finished ``prepare`` (nothing to check for a
    directory prepared elsewhere, whose stage record holds no fingerprints)."""
    record = StageRecord(data)
    damaged = damaged_outputs(data, record["outputs"]) if record.exists else []
    if damaged:
        raise CorruptFileError(f"{len(damaged)} prepared file(s) in {data.root} changed since preprocessing "
                               f"finished (truncated or damaged), e.g. {', '.join(damaged[:3])}; re-run the "
                               "'omnimotion prepare' (or 'omnimotion run') command that made it: it recomputes them")
