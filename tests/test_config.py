"""Config: official files and command lines land in the right fields; unknown keys are errors."""

from pathlib import Path

import pytest

from omnimotion.config import (IGNORED_KEYS, PRESETS, UnknownConfigKeyError, compose, config_from_dict, config_keys,
                               config_to_dict, load_config, parse_config)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# Every option of the official config.py (qianqianwang68/omnimotion @43868e5) with its official default.
OFFICIAL_DEFAULTS = {
    "expname": "", "local_rank": 0, "save_dir": "out/", "ckpt_path": "", "no_reload": False, "distributed": 0,
    "num_iters": 100000, "num_workers": 4, "load_opt": 1, "load_scheduler": 1, "loader_seed": 12,
    "dataset_types": "flow", "dataset_weights": [1.0], "num_imgs": 250, "num_pairs": 8, "num_pts": 256,
    "lr_feature": 1e-3, "lr_deform": 1e-4, "lr_color": 3e-4, "lrate_decay_steps": 20000,
    "lrate_decay_factor": 0.5, "grad_clip": 0.0, "use_error_map": False, "use_count_map": False,
    "use_affine": False, "mask_near": False, "num_samples_ray": 32, "pe_freq": 4, "min_depth": 0.0,
    "max_depth": 2.0, "start_interval": 20, "max_padding": 0.0, "chunk_size": 10000, "use_max_loc": False,
    "query_frame_id": 0, "vis_occlusion": False, "occlusion_th": 0.99, "foreground_mask_path": "",
    "i_print": 100, "i_img": 500, "i_weight": 20000, "i_cache": 20000,
}


def _value(cfg, key):
    for section in (cfg.model, cfg.train, cfg.track):
        if hasattr(section, key):
            return getattr(section, key)
    raise AssertionError(f"{key} is in no section")


def test_every_official_option_is_accepted_on_the_command_line(tmp_path):
    argv = []
    for key, default in OFFICIAL_DEFAULTS.items():
        if isinstance(default, bool):
            argv.append(f"--{key}")
        elif isinstance(default, list):
            argv += [f"--{key}", "0.5"]
        else:
            argv += [f"--{key}", str(default)]
    cfg = parse_config(argv + ["--data_dir", str(tmp_path), "-f", "x"])
    for key, default in OFFICIAL_DEFAULTS.items():
        if key in IGNORED_KEYS:  # accepted, no effect
            continue
        expected = True if isinstance(default, bool) else [0.5] if isinstance(default, list) else default
        assert _value(cfg, key) == expected, key
    assert cfg.data_dir == str(tmp_path)


def test_official_default_txt_lands_in_the_right_fields():
    cfg = load_config(CONFIGS / "default.txt")
    assert cfg.train.expname == "default"
    assert (cfg.train.num_pairs, cfg.train.num_pts) == (8, 256)
    assert cfg.model.use_affine and cfg.train.use_error_map and cfg.train.use_count_map
    assert cfg.model.use_max_loc
    # untouched keys keep the official defaults
    assert (cfg.train.num_iters, cfg.train.lr_deform, cfg.model.num_samples_ray) == (100000, 1e-4, 32)
    assert cfg.train.i_weight == 20000 and cfg.model.occlusion_th == 0.99


def test_command_line_overrides_config_file_and_booleans_switch_off():
    cfg = load_config(CONFIGS / "default.txt", {"num_pts": "64", "use_affine": "false", "lr_color": 1e-3})
    assert cfg.train.num_pts == 64 and not cfg.model.use_affine and cfg.train.lr_color == 1e-3
    assert cfg.train.num_pairs == 8  # still from the file


def test_unknown_keys_are_errors_naming_them(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("num_pairs = 4\nnum_ptss = 3\n")
    with pytest.raises(UnknownConfigKeyError, match=r"\['num_ptss'\].*bad\.txt"):
        load_config(bad)
    with pytest.raises(UnknownConfigKeyError, match="learning_rate"):
        parse_config(["--learning_rate", "3"])
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_config(tmp_path / "missing.txt")


def test_fast_preset_equals_configs_fast_txt():
    from_file = load_config(CONFIGS / "fast.txt")
    from_preset = parse_config([], preset="fast")
    assert config_to_dict(from_file) == config_to_dict(from_preset)
    assert set(PRESETS["fast"]) <= set(config_keys())
    # the file wins over the preset, the command line over both
    cfg = load_config(CONFIGS / "default.txt", {"num_pts": "32"}, preset="fast")
    assert (cfg.train.num_pairs, cfg.train.num_pts, cfg.model.num_samples_ray) == (8, 32, 8)
    with pytest.raises(ValueError, match="preset .turbo. is not one of fast, surface"):
        parse_config([], preset="turbo")


def test_dict_round_trip():
    cfg = load_config(CONFIGS / "fast.txt", {"data_dir": "/x"})
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_defaults_are_official_except_the_model_defaults_that_follow_default_txt():
    cfg = parse_config([])
    differing = {key for key, default in OFFICIAL_DEFAULTS.items()
                 if key not in IGNORED_KEYS and _value(cfg, key) != default}
    # ModelConfig defaults reproduce configs/default.txt (use_affine, use_max_loc on); expname is filled
    # in at run time ("default") when empty, as official runs name it in the config file. chunk_size is the
    # tracker's (point, frame) pairs per model call (it changes only the speed).
    assert differing == {"use_affine", "use_max_loc", "chunk_size"}


def test_list_overrides_from_key_values():
    cfg = compose(overrides={"surface_plane_resolutions": "[8, 32,64 ,128]", "num_iters": "50",
                             "surface_time_resolutions": "0.5 1.0"})
    assert cfg.surface.plane_resolutions == (8, 32, 64, 128)
    assert cfg.train.num_iters == 50 and cfg.surface.time_resolutions == (0.5, 1.0)


def test_text_overrides_keep_commas_and_spaces_and_one_item_lists_parse():
    cfg = compose(overrides={"expname": "take 2, dog", "surface_plane_resolutions": "[16]"})
    assert cfg.train.expname == "take 2, dog"
    assert cfg.surface.plane_resolutions == (16,)


def test_flow_evidence_mode_is_checked_with_the_config():
    assert parse_config(["--flow_evidence", "visibility"]).track.flow_evidence == "visibility"
    with pytest.raises(ValueError, match="flow_evidence 'snap' is not one of none, visibility, positions"):
        parse_config(["--flow_evidence", "snap"])
