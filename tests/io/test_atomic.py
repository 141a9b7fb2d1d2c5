"""Atomic writes: files get an ordinary file's permissions (0666 less the umask), and the temporaries that
killed writers leave are found and removed."""

import os
import stat

import numpy as np
import pytest

from omnimotion.io.atomic import remove_stale_temporaries, save_json, save_npy


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    save_json(tmp_path / "a.json", {"x": 1})
    save_npy(tmp_path / "f.npy", np.zeros(3))
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "f.npy").stat().st_mode) == mode


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    keep = [tmp_path / "00000.jpg_00001.jpg.npy", tmp_path / ".omnimotion.lock", tmp_path / "notes.tmp"]
    stale = [tmp_path / ".00000.jpg_00001.jpg.npy.x81kq2.tmp", tmp_path / ".tracks.tmp.mp4"]
    for path in keep + stale:
        path.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    nested = tmp_path / "sub" / ".model_000100.pth.abc.tmp"
    nested.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == 2
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)
    assert nested.exists(), "sub-folders have their own writers and locks (run folders under out/)"
