"""The videos of a batch: command-line inputs -> one ``BatchVideo`` (source, output data directory) each.

An input is a video file, a folder of jpg/png frames, a glob (``"videos/*.mp4"``, expanded here when the shell
did not), or a ``.txt`` list with one input per line (blank lines and ``#`` comments skipped; relative paths
are relative to the list file's folder, so a list moves with its videos). Each video gets the data directory
``<out_root>/<name>``, its name being the file stem or the folder name; two inputs with the same name are an
error (their outputs would collide), the same path given twice counts once.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from omnimotion.io.video import VIDEO_EXTENSIONS, frame_files

__all__ = ["BatchVideo", "expand_inputs", "plan_videos"]

_GLOB_CHARS = "*?["
_HINT = "give video files, folders of jpg/png frames, globs or a .txt list (one path per line)"


@dataclass(frozen=True)
class BatchVideo:
    """One video of a batch: ``name`` (unique in the batch), ``source`` (video file or frame folder) and
    ``out_dir`` (its data directory, where every stage writes)."""

    name: str
    source: Path
    out_dir: Path


def expand_inputs(items: Sequence[str | Path]) -> list[Path]:
    """Video files and frame folders named by ``items`` (see the module docstring), in the given order."""
    sources: list[Path] = []
    for item in items:
        sources.extend(_expand_one(str(item), Path.cwd()))
    unique = list(dict.fromkeys(path.resolve() for path in sources))
    if not unique:
        raise ValueError(f"no input videos; {_HINT}")
    return unique


def plan_videos(sources: Sequence[Path], out_root: str | Path) -> list[BatchVideo]:
    """One ``BatchVideo`` per source, its data directory ``out_root/<name>``; same names are an error.

    ``out_root`` is made absolute: workers may run in another working directory (or on another machine
    sharing the file system)."""
    root = Path(out_root).expanduser().resolve()
    by_name: dict[str, Path] = {}
    for source in sources:
        name = source.stem if source.is_file() else source.name
        if name in by_name:
            raise ValueError(f"{by_name[name]} and {source} would share the output folder "
                             f"{root / name}; rename one of them or run them in separate batches")
        by_name[name] = source
    return [BatchVideo(name, source, root / name) for name, source in by_name.items()]


def _expand_one(item: str, base: Path) -> list[Path]:
    path = Path(item).expanduser()
    if not path.is_absolute():
        path = base / path
    if any(char in item for char in _GLOB_CHARS) and not path.exists():
        matches = sorted(Path(match) for match in glob.glob(str(path)))
        if not matches:
            raise FileNotFoundError(f"{item} matches no file; {_HINT}")
        return [source for match in matches for source in _expand_one(str(match), base)]
    if not path.exists():
        raise FileNotFoundError(f"input {item} does not exist; {_HINT}")
    if path.suffix.lower() == ".txt":
        return _read_list(path)
    if path.is_dir():
        return [_check_frame_folder(path)]
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise ValueError(f"input {item} is not a video ({', '.join(VIDEO_EXTENSIONS)}); {_HINT}")
    return [path]


def _read_list(list_file: Path) -> list[Path]:
    lines = [line.strip() for line in list_file.read_text().splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    if not entries:
        raise ValueError(f"list file {list_file} names no video; write one path per line")
    return [source for entry in entries for source in _expand_one(entry, list_file.parent)]


def _check_frame_folder(folder: Path) -> Path:
    if frame_files(folder):
        return folder
    videos = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if videos:
        raise ValueError(f"{folder} holds videos ({', '.join(videos[:3])}{', ...' if len(videos) > 3 else ''}), "
                         f"not frames; give them as '{folder}/*{Path(videos[0]).suffix}'")
    raise ValueError(f"folder {folder} holds no jpg/png frames; {_HINT}")
