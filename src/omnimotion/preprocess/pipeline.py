"""The whole preprocessing stage: video -> training-ready data directory (docs/method.md#preprocessing).

``prepare(source, out_dir, config)`` runs, with the options of a ``PrepareConfig``, each step resumable:

1. frames: ``source`` (video file, frame folder, or a data directory with ``color/``) -> ``color/00000.jpg``...
   (uint8 RGB, longest side <= ``max_side``; a data directory's frames are used as they are), and
   ``source.json`` (the input's frame rate and size before resizing);
2. flow: every ordered pair -> ``raft_exhaustive/{a}_{b}.npy`` (float32 ``[H, W, 2]``, (dx, dy) px);
3. filter: ``raft_masks/``, ``count_maps/``, ``flow_stats.json`` (cycle threshold ``cycle_th`` px);
4. chain: long-gap correspondences; overwrites ``raft_exhaustive`` and the masks in place (as official).
   With ``chain_direct_max_gap`` k the long pairs are checked chains of the flows at most k apart, so step 2
   computes only those (k=1: 2(T-1) flows instead of T(T-1)) and chaining writes every other pair.

Stage record. Because step 4 overwrites the direct flows, resuming needs to know what the files hold.
``omnimotion_state.json`` (written atomically after each step) records the frames, the flow backend and
options, the filter options, whether chaining finished and whether ``raft_exhaustive`` holds chained flows
(``flows_chained``, set *before* chaining starts). The rules:

- when every stage finished with the requested options and every flow file exists, nothing runs;
- otherwise flows are checked: valid files are reused, missing/corrupt ones recomputed (then filter and
  chain are redone);
- if the flows are chained and anything before chaining must be redone (new ``cycle_th`` or appearance,
  chaining interrupted, or ``chain=False``), the chained flows (pairs more than one frame apart; gap-1
  pairs are never changed by chaining) are deleted and recomputed, then filtered and chained again: a
  clean re-filter, never filtering chained flows;
- when the stages finish, the record keeps a fingerprint of every output (``preprocess.record``); a re-run
  checks them before saying "nothing to do", deletes what changed since (truncated or damaged files) and
  recomputes it as above;
- a directory without the record but with ``flow_stats.json`` was preprocessed elsewhere (e.g. by the
  official code): it is used as it is.

``refilter`` (the ``filter_raft.py`` shim) behaves as the official script: it filters whatever
``raft_exhaustive`` holds, chained flows included, and says so; ``prepare`` with the new threshold is the
clean alternative.

One process at a time: ``prepare`` holds the data directory's lock (``omnimotion.io.lock``) and, once it holds
it, removes the unfinished temporary files of killed runs. Workers are spawned processes (``workers``, default
all cores): call ``prepare`` from a script under ``if __name__ == "__main__":``. ``flow_map`` (a ``ChunkMap``) runs
the flow pairs elsewhere instead, in chunks (``omnimotion.batch`` spreads one video's flow over a Ray cluster with it).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from omnimotion.flow.base import FlowBackend
from omnimotion.io.atomic import OutputNotWritableError, atomic_open, remove_stale_temporaries
from omnimotion.io.datadir import FRAME_EXTENSIONS, DataDir
from omnimotion.io.lock import FolderLock
from omnimotion.io.video import frame_files, native_frame_hw, read_frames, video_fps
from omnimotion.preprocess.appearance import Appearance
from omnimotion.preprocess.chain import chain_flows
from omnimotion.preprocess.disk import check_disk_space
from omnimotion.preprocess.filter import filter_flows
from omnimotion.preprocess.options import PrepareConfig
from omnimotion.preprocess.pairs import ChunkMap, compute_exhaustive_flows, pair_schedule
from omnimotion.preprocess.record import STATE_FILE, StageRecord, damaged_outputs, output_fingerprints

__all__ = ["prepare", "refilter", "prepared_max_gap", "StageRecord", "STATE_FILE", "JPEG_QUALITY"]

logger = logging.getLogger(__name__)

JPEG_QUALITY = 95


def prepare(source: str | Path, out_dir: str | Path, config: PrepareConfig | None = None, *,
            workers: int | None = None, progress: bool = True, flow_map: ChunkMap | None = None) -> DataDir:
    """Make (or finish) the data directory ``out_dir`` from ``source`` with the options of ``config`` (default:
    ``PrepareConfig()``, those of ``omnimotion run``); see the module docstring."""
    config = config or PrepareConfig()
    source = Path(source).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"input {source} does not exist; give a video file, a folder of frames or "
                                "a data directory with color/")
    backend = config.backend()
    _check_backend_runs(backend)
    out = Path(out_dir).expanduser()
    frames = _read_source(source, out, config)
    _check_writable(out)
    with FolderLock(out, "omnimotion prepare"):
        _remove_stale_temporaries(DataDir(out))
        data = DataDir(out)
        record = StageRecord(data)
        _store_frames(frames, data, record, progress)
        _record_source(source, data, frames, config)
        del frames
        data = DataDir(out)  # frame names are cached: re-read after writing color/
        if not record.exists and data.flow_stats_path.exists():
            logger.info("%s was preprocessed elsewhere (flow_stats.json present, no %s): using its flows and "
                        "masks as they are; to redo, delete raft_exhaustive/, raft_masks/, count_maps/ and "
                        "flow_stats.json", out, STATE_FILE)
            return data
        _prepare_pairs(data, record, backend, config, workers=workers, progress=progress, flow_map=flow_map)
    return data


def _prepare_pairs(data: DataDir, record: StageRecord, backend: FlowBackend, config: PrepareConfig, *,
                   workers: int | None, progress: bool, flow_map: ChunkMap | None) -> None:
    """Flow, filter and chain of ``prepare``, each resumed or redone as the stage record says."""
    cycle_th, max_gap, chain = config.cycle_th, config.max_gap, config.chain
    chain_direct_max_gap, appearance = config.chain_direct_max_gap, config.appearance_model()
    # The chaining option sits with the filter options: changing it must restore the direct flows and
    # re-filter before chaining again, exactly as a new threshold does.
    filter_options = {"cycle_th": float(cycle_th), "appearance": _appearance_key(appearance),
                      "chain_direct_max_gap": chain_direct_max_gap}
    if _outputs_intact(data, record, max_gap) and _everything_current(record, filter_options, chain):
        logger.info("flow, filter (cycle_th %.2f px) and chaining already finished in %s; nothing to do",
                    cycle_th, data.root)
        return
    flow_options_record = {"backend": backend.name, "options": dict(getattr(backend, "options", {})),
                           "max_gap": max_gap}
    _check_flow_options(data, record, flow_options_record)
    if record["flows_chained"]:
        _restore_direct_flows(data, record, filter_options)
    direct_gap = _direct_flow_gap(max_gap, chain_direct_max_gap if chain else None)
    check_disk_space(data, max_gap if chain else direct_gap)
    _run_flow(data, record, backend, flow_options_record, direct_gap, workers, progress, flow_map)
    _run_filter(data, record, filter_options, appearance, workers, progress)
    if chain:
        _run_chain(data, record, appearance, chain_direct_max_gap, max_gap, workers, progress)
    record.set("outputs", output_fingerprints(data))


def prepared_max_gap(data: DataDir) -> int | None:
    """The ``max_gap`` ``data`` was prepared with: only pairs at most this far apart exist (None: all pairs,
    also for directories prepared elsewhere)."""
    return StageRecord(data)["flow"].get("max_gap")


def refilter(data_dir: str | Path, cycle_th: float = 3.0, appearance: str | Appearance = "auto",
             workers: int | None = None, progress: bool = True) -> DataDir:
    """Filter the flows in ``data_dir`` again, as the official ``filter_raft.py`` (no chaining after)."""
    data = DataDir(Path(data_dir).expanduser())
    data.frame_names  # noqa: B018 - raises a clear DataDirError without color/
    with FolderLock(data.root, "filter_raft.py"):
        _remove_stale_temporaries(data)
        _refilter_locked(data, cycle_th, appearance, workers, progress)
    return data


def _refilter_locked(data: DataDir, cycle_th: float, appearance: str | Appearance, workers: int | None,
                     progress: bool) -> None:
    record = StageRecord(data)
    chained = record["flows_chained"] or (not record.exists and data.flow_stats_path.exists())
    if chained:
        logger.warning(
            "%s holds chained flows (chaining overwrites raft_exhaustive in place, as in the official code); "
            "filtering them as the official filter_raft.py does, so long-gap masks test chained flows. For a "
            "clean re-filter that recomputes the direct flows and chains again, run: omnimotion prepare %s "
            "--out %s --cycle_th %g", data.root, data.root, data.root, cycle_th)
    record.set("filter", {})  # masks are rewritten as filtering goes
    record.set("chain", {"done": False})
    filter_flows(data, cycle_th=cycle_th, appearance=appearance, workers=workers, progress=progress)
    record.set("flows_chained", bool(chained))
    record.set("filter", {"cycle_th": float(cycle_th), "appearance": _appearance_key(appearance),
                          "done": True, "on_chained_flows": bool(chained)})
    record.set("outputs", output_fingerprints(data))


def _check_backend_runs(backend: FlowBackend) -> None:
    """Run the flow backend once on a tiny pair, so that a missing dependency (torchvision for RAFT) or a bad
    weights file fails before anything is written, not after the frames."""
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8)[None, :, None], (64, 1, 3))
    backend(ramp, np.roll(ramp, 1, axis=1))


# ----- frames -------------------------------------------------------------------------------------------
def _remove_stale_temporaries(data: DataDir) -> None:
    """Unfinished writes of killed runs (the data directory's own folders; run folders have their own lock)."""
    removed = sum(remove_stale_temporaries(folder) for folder in
                  (data.root, data.color_dir, data.flow_dir, data.mask_dir, data.count_dir))
    if removed:
        logger.info("removed %d unfinished temporary file(s) of an interrupted run in %s", removed, data.root)


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_open(out / ".write_test", "wb"):
            pass
        (out / ".write_test").unlink(missing_ok=True)  # a concurrent run may have removed it
    except OSError as err:
        raise OutputNotWritableError(f"cannot write to output folder {out} ({err.strerror or err}); "
                                     "choose a writable --out") from err


def _read_source(source: Path, out: Path, config: PrepareConfig) -> np.ndarray | list[Path] | None:
    """Frames uint8 ``[T, H, W, 3]`` of a video/folder, the frame files of another data directory, or None
    when ``source`` is ``out`` itself. Read before anything is written, so bad input leaves no trace."""
    start, end, stride = config.start, config.end, config.stride
    if source.resolve() == out.resolve():
        if (start, end, stride) != (0, None, 1):
            raise ValueError("cannot pick a frame range of a data directory in place; give another --out")
        return None
    if (source / "color").is_dir():  # another data directory: its frames are copied byte for byte
        files = frame_files(source)[start:end:stride]
        if len(files) < 2:
            raise ValueError(f"{source / 'color'} gives {len(files)} frame(s) with start={start} end={end} "
                             f"stride={stride}; OmniMotion needs at least 2 frames")
        return files
    return read_frames(source, start=start, end=end, stride=stride, max_side=config.max_side)


def _store_frames(frames: np.ndarray | list[Path] | None, data: DataDir, record: StageRecord,
                  progress: bool) -> None:
    """Fill ``color/`` (or check it) and record the frames; see the module docstring."""
    if frames is None:
        frames_hw = _check_existing_frames(data)
    elif isinstance(frames, list):
        frames_hw = _reuse_or_write(data, record, len(frames), lambda: _copy_frames(frames, data))
    else:
        frames_hw = _reuse_or_write(data, record, len(frames), lambda: _write_frames(frames, data, progress),
                                    frames.shape[1:3])
    count, (height, width) = frames_hw
    entry = {"count": count, "height": height, "width": width, "done": True}
    if record["frames"] != entry:
        record.set("frames", entry)


def _record_source(source: Path, data: DataDir, frames: np.ndarray | list[Path] | None,
                   config: PrepareConfig) -> None:
    """``source.json``: the input's frame rate and size, so that tracks can be given in its pixels and time."""
    if isinstance(frames, list):  # another data directory: what it recorded still holds
        if DataDir(source).source_info_path.exists():
            shutil.copyfile(DataDir(source).source_info_path, data.source_info_path)
    elif frames is not None:
        data.save_source_info({"path": str(source.resolve()), "fps": video_fps(source),
                               "native_hw": list(native_frame_hw(source)), "start": config.start,
                               "end": config.end, "stride": config.stride})


def _check_existing_frames(data: DataDir) -> tuple[int, tuple[int, int]]:
    fresh = DataDir(data.root)
    if fresh.num_frames < 2:
        raise ValueError(f"{fresh.color_dir} holds 1 frame; OmniMotion needs at least 2 frames")
    shapes = {fresh.load_frame(i).shape for i in range(fresh.num_frames)}
    if len(shapes) != 1:
        raise ValueError(f"frames in {fresh.color_dir} differ in size: {sorted(shapes)}; resize them to one "
                         "size (or give the video to omnimotion prepare)")
    return fresh.num_frames, fresh.image_hw


def _reuse_or_write(data: DataDir, record: StageRecord, count: int, write, hw=None):
    """Reuse ``color/`` if it already holds these frames, else write them (after an interrupted write too)."""
    existing = [p for p in data.color_dir.glob("*") if p.suffix.lower() in FRAME_EXTENSIONS] \
        if data.color_dir.is_dir() else []
    if existing:
        current = _check_existing_frames(data)
        interrupted = record["frames"] and not record["frames"].get("done")
        if current[0] == count and (hw is None or tuple(hw) == current[1]):
            logger.info("frames: %d frames already in %s, reused", count, data.color_dir)
            return current
        if not interrupted:
            raise ValueError(f"{data.color_dir} already holds {current[0]} frames of {current[1][1]}x"
                             f"{current[1][0]}, but the input gives {count} frames"
                             f"{'' if hw is None else f' of {hw[1]}x{hw[0]}'}; use another --out or delete "
                             f"{data.root}")
        for path in existing:
            path.unlink()
    record.set("frames", {"count": count, "done": False})
    write()
    return _check_existing_frames(data)


def _write_frames(frames: np.ndarray, data: DataDir, progress: bool) -> None:
    for t, frame in enumerate(tqdm(frames, desc="frames", unit="frame", leave=False, disable=not progress)):
        ok, encoded = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise ValueError(f"could not encode frame {t} ({frame.shape}) as JPEG")
        with atomic_open(data.color_dir / f"{t:05d}.jpg", "wb") as handle:
            handle.write(encoded.tobytes())
    logger.info("frames: wrote %d frames of %dx%d to %s", len(frames), frames.shape[2], frames.shape[1],
                data.color_dir)


def _copy_frames(files: list[Path], data: DataDir) -> None:
    for t, path in enumerate(files):
        with atomic_open(data.color_dir / f"{t:05d}{path.suffix.lower()}", "wb") as handle:
            shutil.copyfileobj(path.open("rb"), handle)
    logger.info("frames: copied %d frames from %s as they are", len(files), files[0].parent)


# ----- flow, filter, chain ------------------------------------------------------------------------------
def _appearance_key(appearance: str | Appearance) -> str:
    return appearance if isinstance(appearance, str) else appearance.name


def _everything_current(record: StageRecord, filter_options: dict[str, Any], chain: bool) -> bool:
    filtered = record["filter"]
    return (chain and record["chain"].get("done", False) and record["flows_chained"]
            and filtered.get("done", False) and not filtered.get("on_chained_flows", False)
            and {key: filtered.get(key) for key in filter_options} == filter_options)


def _outputs_intact(data: DataDir, record: StageRecord, max_gap: int | None) -> bool:
    """Whether the finished stages' files still match their fingerprints (a record without them, from an
    older version: whether every flow file exists). Damaged files are deleted and the filter and chain
    stages marked undone, so that they are recomputed (chained flows from the direct ones)."""
    if not record["outputs"]:
        return all(data.flow_path(i, j).exists() for i, js in pair_schedule(data.num_frames, max_gap) for j in js)
    damaged = damaged_outputs(data, record["outputs"])
    if not damaged:
        return True
    logger.warning("%d file(s) in %s changed since preprocessing finished (truncated or damaged), e.g. %s: "
                   "recomputing them", len(damaged), data.root, ", ".join(damaged[:3]))
    for name in damaged:
        (data.root / name).unlink(missing_ok=True)
    record.set("filter", {})
    record.set("chain", {})
    return False


def _check_flow_options(data: DataDir, record: StageRecord, wanted: dict[str, Any]) -> None:
    made = record["flow"]
    if made and {key: made.get(key) for key in wanted} != wanted:
        raise ValueError(f"the flows in {data.flow_dir} were made with {_describe(made)}, not "
                         f"{_describe(wanted)}; to go on with them, give those options; to switch, use another "
                         f"--out or delete {data.flow_dir} and {record.path}")


def _describe(flow_record: dict[str, Any]) -> str:
    options = ", ".join(f"{k}={v}" for k, v in flow_record.get("options", {}).items())
    gap = flow_record.get("max_gap")
    return f"--flow {flow_record.get('backend')}" + (f" ({options})" if options else "") + \
        (f" --max_gap {gap}" if gap else "")


def _restore_direct_flows(data: DataDir, record: StageRecord, filter_options: dict[str, Any]) -> None:
    """Delete the chained flows (gap >= 2) so that the flow stage recomputes the direct ones."""
    if not record["flow"]:
        raise ValueError(f"{data.flow_dir} holds chained flows of unknown origin; delete it to recompute "
                         "them, or keep them and re-filter with filter_raft.py")
    logger.warning("flows in %s were chained in place by an earlier run (filter %s, chaining %s); filtering "
                   "and chaining with %s need the direct flows: recomputing the pairs more than one frame "
                   "apart, then filtering and chaining again", data.flow_dir, record["filter"] or "redone",
                   "finished" if record["chain"].get("done") else "interrupted or re-filtered since",
                   filter_options)
    record.set("filter", {})
    record.set("chain", {})
    record.set("flow", dict(record["flow"], done=False))
    for i in range(data.num_frames):
        for j in range(data.num_frames):
            if abs(i - j) >= 2:
                data.flow_path(i, j).unlink(missing_ok=True)
    record.set("flows_chained", False)


def _direct_flow_gap(max_gap: int | None, chain_direct_max_gap: int | None) -> int | None:
    """Farthest pair whose direct flow is computed: chaining with ``chain_direct_max_gap`` reads no farther."""
    if chain_direct_max_gap is None:
        return max_gap
    return chain_direct_max_gap if max_gap is None else min(max_gap, chain_direct_max_gap)


def _run_flow(data: DataDir, record: StageRecord, backend: FlowBackend, flow_record: dict[str, Any],
              direct_gap: int | None, workers: int | None, progress: bool, flow_map: ChunkMap | None) -> None:
    if not record["flow"]:
        record.set("flow", dict(flow_record, done=False))
    summary = compute_exhaustive_flows(data, backend, max_gap=direct_gap, workers=workers,
                                       progress=progress, map_chunks=flow_map)
    if summary.computed and record["filter"]:
        logger.info("flow: %d pairs were (re)computed, so filtering and chaining run again", summary.computed)
        record.set("filter", {})
        record.set("chain", {})
    if not record["flow"].get("done"):
        record.set("flow", dict(flow_record, done=True))


def _run_filter(data: DataDir, record: StageRecord, options: dict[str, Any], appearance: str | Appearance,
                workers: int | None, progress: bool) -> None:
    done = record["filter"]
    if done.get("done") and {key: done.get(key) for key in options} == options:
        logger.info("filter: already done with cycle_th %.2f px, appearance %s; skipped",
                    options["cycle_th"], options["appearance"])
        return
    record.set("filter", {})  # masks are rewritten as filtering goes
    record.set("chain", {})
    filter_flows(data, cycle_th=options["cycle_th"], appearance=appearance, workers=workers, progress=progress)
    record.set("filter", dict(options, done=True, on_chained_flows=False))


def _run_chain(data: DataDir, record: StageRecord, appearance: str | Appearance, direct_max_gap: int | None,
               max_gap: int | None, workers: int | None, progress: bool) -> None:
    if record["chain"].get("done"):
        logger.info("chain: already done; skipped")
        return
    record.set("flows_chained", True)  # before starting: chaining overwrites flows as it goes
    chain_flows(data, appearance=appearance, workers=workers, progress=progress, direct_max_gap=direct_max_gap,
                max_gap=max_gap)
    record.set("chain", {"done": True})
