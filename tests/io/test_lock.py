"""FolderLock: one holder at a time, the refusal names the holder, a dead holder's lock is taken over."""

import json
import os
import subprocess
import sys

import pytest

from omnimotion.io.lock import LOCK_FILE, FolderInUseError, FolderLock

HOLD = ("import sys, time; from omnimotion.io.lock import FolderLock; FolderLock(sys.argv[1], 'omnimotion prepare')"
        ".__enter__(); print('locked', flush=True); time.sleep(60)")


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_what_to_do(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderInUseError) as refused:
            FolderLock(tmp_path, "omnimotion prepare").__enter__()
        message = str(refused.value)
        assert f"omnimotion prepare (PID {holder.pid} on " in message and "wait for it to finish" in message
    finally:
        holder.kill()  # kill -9: the kernel releases its lock
        holder.wait()
    with FolderLock(tmp_path, "omnimotion train"):
        held = json.loads((tmp_path / LOCK_FILE).read_text())
        assert held["pid"] == os.getpid() and held["command"] == "omnimotion train"


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 999999, "host": "gone", "command": "omnimotion prepare",
                                                  "since": "yesterday"}) + " " * 200)
    with FolderLock(tmp_path, "omnimotion prepare"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    with FolderLock(tmp_path, "again"):  # released on leaving the block
        pass


def test_an_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OSError, match="cannot write to .*a_file/out"):
        FolderLock(blocker / "out", "omnimotion prepare").__enter__()
