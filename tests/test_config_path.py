"""The one config path: exact keys, one-line errors, checks before any work, args.txt round trip, and the same
tracks from ``track``, ``run`` and the Python API on one checkpoint."""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from omnimotion.pipeline import RunSettings, run_config, track_stage, track_with_model
from omnimotion.cli.main import main
from omnimotion.config import ConfigError, UnknownConfigKeyError, compose, config_to_dict, load_config
from omnimotion.io.datadir import DataDir
from omnimotion.model import OmniMotionModel
from omnimotion.synthetic import make_clip, write_frames
from omnimotion.track import Tracker, load_tracks
from omnimotion.train import fit

sys.path.insert(0, str(Path(__file__).parent / "view"))
from tiny_checkpoint import TINY_MODEL as TINY  # noqa: E402
from view_fixtures import checkpoint_of, make_run  # noqa: E402


def test_args_txt_of_a_surface_run_loads_back_to_the_same_config(tmp_path):
    frames = tmp_path / "frames"
    write_frames(make_clip(num_frames=4, height=24, width=24, seed=2), frames)
    from omnimotion.preprocess.pipeline import prepare

    data = prepare(frames, tmp_path / "data", progress=False, workers=1)
    cfg = run_config(overrides={"num_iters": 1, "num_pairs": 2, "num_pts": 8, "device": "cpu", "progress": False,
                                "tensorboard": False, "surface_plane_resolutions": "[4, 8]",
                                "surface_feature_channels": 4, "surface_depth_grid_size": 4,
                                "data_dir": str(data.root)})
    checkpoint = fit(data.root, cfg)
    assert load_config(checkpoint.parent / "args.txt") == cfg


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_set_keys_are_matched_exactly_and_values_are_typed(tmp_path, capsys):
    out = tmp_path / "o"
    clip = str(tmp_path / "missing.mp4")  # the configuration fails before the input is read
    err = _one_line_error(capsys, ["run", clip, "--out", str(out), "--set", "num_iter=500"])
    assert "unknown config key(s) ['num_iter']" in err and "did you mean num_iters" in err
    err = _one_line_error(capsys, ["run", clip, "--out", str(out), "--set", "num_iters=abc"])
    assert "num_iters = 'abc': expected an integer" in err
    with pytest.raises(SystemExit):  # argparse: an abbreviated option is not taken for --num_iters
        main(["train", str(tmp_path), "--num_iter", "5"])
    assert "unrecognized arguments: --num_iter" in capsys.readouterr().err
    assert not out.exists()


def test_config_file_keys_are_matched_exactly(tmp_path):
    config = tmp_path / "my.txt"
    config.write_text("surface_num = 3\n")
    with pytest.raises(UnknownConfigKeyError, match=r"\['surface_num'\] in config file .*my\.txt"):
        load_config(config)


@pytest.mark.parametrize("key, value, message", [
    ("method", "volume", "method 'volume' is not one of omnimotion, surface"),
    ("device", "tpu", "device 'tpu' is not one of auto, cpu, cuda, cuda:N"),
    ("num_iters", "-5", "num_iters must be >= 1, got -5"),
    ("flow_evidence", "snap", "flow_evidence 'snap' is not one of none, visibility, positions"),
    ("raft_variant", "medium", "raft_variant 'medium' is not one of large, small"),
])
def test_bad_values_fail_before_preprocessing(tmp_path, capsys, key, value, message):
    frames = tmp_path / "frames"
    write_frames(make_clip(num_frames=3, height=16, width=16, seed=0), frames)
    out = tmp_path / "o"
    assert message in _one_line_error(capsys, ["run", str(frames), "--out", str(out), "--set", f"{key}={value}"])
    assert not out.exists()
    with pytest.raises(ConfigError, match=message):
        compose(overrides={key: value})


def test_run_track_and_the_api_give_the_same_tracks_from_one_checkpoint(tmp_path):
    run_dir = make_run(tmp_path)
    config = run_config(preset=None, overrides={"device": "cpu"})  # the faithful tiny model: defaults of run
    state = torch.load(checkpoint_of(run_dir), weights_only=True)
    state["config"] = config_to_dict(dataclasses.replace(config, model=TINY))
    torch.save(state, checkpoint_of(run_dir))
    data = DataDir(run_dir)
    # `run`'s tracking stage
    ran = track_stage(run_dir, checkpoint_of(run_dir), RunSettings(config, grid_step=8))
    ran_tracks = load_tracks(ran.tracks)
    # `omnimotion track` with its defaults
    assert main(["track", str(run_dir), "--grid", "8", "--device", "cpu", "--out", str(tmp_path / "t.npz")]) == 0
    tracked = load_tracks(tmp_path / "t.npz")
    # the Python API: with the checkpoint's settings, and a Tracker on the model with its defaults
    api = track_with_model(checkpoint_of(run_dir), ran_tracks.queries, data, device="cpu")
    model = OmniMotionModel(TINY, data.num_frames, data.image_hw)
    model.load_state_dict({f"{name}.{key}": value for name in ("feature_mlp", "deform_mlp", "color_mlp")
                           for key, value in state[name].items()})
    plain = Tracker(model.eval(), progress=False)(ran_tracks.queries, data)
    for other in (tracked, api, plain):
        np.testing.assert_array_equal(other.tracks, ran_tracks.tracks)
        np.testing.assert_array_equal(other.occluded, ran_tracks.occluded)
    assert Tracker.from_checkpoint(checkpoint_of(run_dir), device="cpu").flow_evidence == "positions"
    none = track_with_model(checkpoint_of(run_dir), ran_tracks.queries, data, device="cpu",
                            track=dataclasses.replace(config.track, flow_evidence="none"))
    assert not np.array_equal(none.tracks, ran_tracks.tracks)  # told otherwise: other tracks

