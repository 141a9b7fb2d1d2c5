"""Training trusts nothing it has not checked: damaged prepared files stop it before step 0, one run per
output folder, unfinished temporaries of killed runs are removed, and resuming with other settings warns."""

import logging
import subprocess
import sys

import pytest

from omnimotion.preprocess.options import PrepareConfig
from omnimotion import synthetic
from omnimotion.io.datadir import CorruptFileError
from omnimotion.io.lock import FolderInUseError
from omnimotion.preprocess.pipeline import prepare
from omnimotion.train.trainer import fit

from test_trainer import tiny_run


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A directory made by ``prepare`` (so its stage record holds fingerprints)."""
    root = tmp_path_factory.mktemp("prepared")
    clip = root / "clip.mp4"
    synthetic.write_video(synthetic.make_clip(num_frames=5, height=32, width=32, num_sprites=1, seed=1), clip)
    return prepare(clip, root / "data", PrepareConfig(max_side=None, chain_direct_max_gap=None), workers=1,
                   progress=False)


def test_a_truncated_flow_stops_training_before_step_0(prepared, tmp_path):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(prepared.root, damaged)
    flow = damaged / "raft_exhaustive" / "00001.jpg_00003.jpg.npy"
    flow.write_bytes(flow.read_bytes()[:-100])  # it exists, so the file checks pass; only reading it would tell
    run = tiny_run(damaged, tmp_path, num_iters=2)
    with pytest.raises(CorruptFileError, match=r"00001\.jpg_00003\.jpg\.npy.*omnimotion prepare"):
        fit(damaged, run)
    assert not (tmp_path / "out").exists(), "nothing may be written before the inputs are checked"
    fit(prepared.root, tiny_run(prepared.root, tmp_path / "intact", num_iters=1))  # the intact copy trains


def test_a_second_run_on_the_same_output_folder_refuses_naming_the_first(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    run = tiny_run(data.root, tmp_path, num_iters=1)
    out = tmp_path / "out" / "default"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from omnimotion.io.lock import FolderLock; "
                               "lock = FolderLock(sys.argv[1], 'omnimotion train').__enter__(); print('locked', "
                               "flush=True); time.sleep(60)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderInUseError, match=rf"omnimotion train \(PID {holder.pid} .*wait for it"):
            fit(data.root, run)
    finally:
        holder.kill()
        holder.wait()
    assert fit(data.root, run).name == "model_000001.pth"  # the dead holder's lock is taken over


def test_unfinished_temporaries_of_a_killed_run_are_removed(synthetic_dir, tmp_path):
    data, _ = synthetic_dir
    out = tmp_path / "out" / "default"
    out.mkdir(parents=True)
    stale = [out / ".model_000500.pth.k2j4x9.tmp", out / ".args.txt.a8d7.tmp"]
    for path in stale:
        path.write_bytes(b"x" * 1000)
    fit(data.root, tiny_run(data.root, tmp_path, num_iters=1))
    assert not any(path.exists() for path in stale)
    assert (out / "model_000001.pth").exists()


def test_resuming_with_other_settings_warns_naming_the_keys(synthetic_dir, tmp_path, caplog):
    data, _ = synthetic_dir
    fit(data.root, tiny_run(data.root, tmp_path, num_iters=1))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="omnimotion.train.trainer"):
        fit(data.root, tiny_run(data.root, tmp_path, num_iters=2))  # only the length changed: no warning
    assert "other settings" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="omnimotion.train.trainer"):
        fit(data.root, tiny_run(data.root, tmp_path, num_iters=3, num_pts=16, lr_deform=1e-3))
    assert "num_pts 32 -> 16" in caplog.text and "lr_deform 0.003 -> 0.001" in caplog.text
    assert "num_iters" not in caplog.text
