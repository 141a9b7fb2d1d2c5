"""`omnimotion train` and the official `python train.py` shim."""

import subprocess
import sys
from pathlib import Path

from omnimotion.cli.main import main
from omnimotion.io.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY = ["--num_iters", "2", "--num_pairs", "2", "--num_pts", "8", "--nvp_hidden", "16", "--canonical_hidden", "16",
        "--time_hidden", "16", "--code_dim", "8", "--device", "cpu", "--progress", "false", "--tensorboard", "false"]


def test_cli_trains_with_preset_config_and_overrides(synthetic_dir, tmp_path, capsys):
    data, _ = synthetic_dir
    out = tmp_path / "runs"
    config = tmp_path / "mine.txt"
    config.write_text("num_pts = 4\nexpname = mine\n")
    code = main(["train", str(data.root), "--preset", "fast", "--config", str(config), *TINY,
                 "--save_dir", str(out), "--seed", "7"])
    assert code == 0
    state = load_checkpoint(out / "mine" / "model_000002.pth")
    cfg = state["config"]
    # preset (K=8, no affine) < file (expname) < command line (num_pts 8, seed 7)
    assert cfg["model"]["num_samples_ray"] == 8 and cfg["model"]["use_affine"] is False
    assert cfg["train"]["num_pts"] == 8 and cfg["train"]["seed"] == 7 and cfg["data_dir"] == str(data.root)
    # --resume continues: two more steps on top of the newest checkpoint
    assert main(["train", str(data.root), "--preset", "fast", "--config", str(config), *TINY,
                 "--save_dir", str(out), "--seed", "7", "--resume", "--num_iters", "4"]) == 0
    assert load_checkpoint(out / "mine" / "model_000004.pth")["step"] == 4


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nowhere"), *TINY]) == 1
    assert "omnimotion prepare" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("num_pts = 4\nlearning_rate = 3\n")
    assert main(["train", str(tmp_path), "--config", str(bad)]) == 1
    assert "learning_rate" in capsys.readouterr().err


def test_official_shim_reports_missing_data(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "train.py"), "--config", str(REPO / "configs" / "default.txt"),
                             "--data_dir", str(tmp_path / "seq")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "seq/color does not exist" in result.stderr and "omnimotion prepare" in result.stderr


def test_train_without_a_preset_on_a_cpu_names_the_cpu_presets(synthetic_dir, tmp_path, caplog):
    data, _ = synthetic_dir
    with caplog.at_level("WARNING"):
        assert main(["train", str(data.root), *TINY, "--save_dir", str(tmp_path / "runs")]) == 0
    assert "official GPU configuration" in caplog.text and "--preset surface" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert main(["train", str(data.root), "--preset", "fast", *TINY, "--save_dir", str(tmp_path / "f")]) == 0
    assert "official GPU configuration" not in caplog.text
