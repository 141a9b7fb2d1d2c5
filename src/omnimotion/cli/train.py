"""``omnimotion train DATA_DIR``: fit the OmniMotion model to a prepared sequence (official options accepted).

Every official option of ``train.py`` is accepted (``--num_iters``, ``--lr_deform``, ...; see ``--help``), as
is an official config file (``--config configs/default.txt``). ``--preset fast`` starts from the CPU preset;
the config file and then the command line override it.
"""

from __future__ import annotations

import argparse
import logging

from omnimotion.cli.main import HelpFormatter, UserError
from omnimotion.config import (PRESETS, OmniMotionConfig, add_field_options, compose, config_keys, given_values,
                               parse_config)

__all__ = ["add_parser", "run", "run_official"]

log = logging.getLogger(__name__)


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="fit the model to a prepared sequence (checkpoints in DATA_DIR/out/<expname>)",
        usage="omnimotion train DATA_DIR [--preset NAME] [--config FILE] [--resume] [--KEY VALUE ...]",
        description="Fit OmniMotion to DATA_DIR (made by 'omnimotion prepare'). Without --resume the newest "
                    "checkpoint is reloaded automatically unless --no_reload (as the official trainer does). "
                    "Priority: command line > --config file > --preset > defaults.",
        formatter_class=HelpFormatter)
    parser.add_argument("data_dir", help="prepared sequence directory")
    parser.add_argument("--config", default=None, help="config file in the official key = value format")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="start from a preset: surface (the fast single-surface variant, as 'omnimotion run') "
                             "or fast (the faithful method, CPU-sized); default: the official GPU configuration")
    parser.add_argument("--resume", action="store_true",
                        help="require a checkpoint to continue from (error if there is none)")
    for section, title in _KEY_GROUPS.items():
        add_field_options(parser.add_argument_group(title), config_keys([section]))
    return parser


_KEY_GROUPS = {"train": "training keys (official names; see configs/*.txt)",
               "model": "faithful model keys (method omnimotion)",
               "surface": "single-surface model keys (method surface)",
               "track": "tracking keys (stored with the model: the defaults of 'omnimotion track')"}


def build_config(args: argparse.Namespace) -> OmniMotionConfig:
    """``compose`` of --preset, --config and the key options given."""
    return compose(args.config, args.preset, {**given_values(args), "data_dir": args.data_dir})


def run(args: argparse.Namespace) -> int:
    from omnimotion.train import fit

    cfg = build_config(args)
    if args.preset is None and args.config is None:
        warn_if_official_config_on_cpu(cfg)
    path = fit(cfg.data_dir, cfg, resume=args.resume)
    log.info("finished: %s", path)
    return 0


def warn_if_official_config_on_cpu(cfg: OmniMotionConfig) -> None:
    """The official configuration is sized for a GPU; on a CPU it takes days, so say which preset to use."""
    from omnimotion.io.device import resolve_device

    if resolve_device(cfg.train.device).type == "cpu":
        log.warning("training with the official GPU configuration (%d steps) on a CPU takes days; for minutes, "
                    "use --preset surface (the default of 'omnimotion run') or --preset fast (the faithful "
                    "method, CPU-sized)", cfg.train.num_iters)


def run_official(argv: list[str]) -> int:
    """The official ``python train.py --config F --data_dir D [...]`` command line."""
    from omnimotion.train import fit

    cfg = parse_config(argv)
    if not cfg.data_dir:
        raise UserError("--data_dir is required (in the config file or on the command line)")
    fit(cfg.data_dir, cfg)
    return 0
