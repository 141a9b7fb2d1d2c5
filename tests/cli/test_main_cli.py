"""The ``omnimotion`` entry point: --version, and help that states each default once."""

import re

import pytest

from omnimotion import __version__
from omnimotion.cli.main import COMMAND_MODULES, main
from omnimotion.config import TrainConfig, field_docs


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"omnimotion {__version__}"


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_help_states_each_default_once(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert "(default: None)" not in text
    for option_help in re.split(r" --?\w", text):
        assert option_help.count("default:") <= 1, option_help


def test_train_help_shows_the_config_keys_docstrings(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # TrainConfig.num_pts: """Points per pair per step.""" and its default 256
    assert "--num_pts V Points per pair per step. (default: 256)" in text
    assert field_docs(TrainConfig)["num_iters"] == "Total optimisation steps."
