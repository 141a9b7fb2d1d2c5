"""The ``omnimotion`` command line: one sub-command per module in ``omnimotion.cli``.

Each command module defines ``add_parser(subparsers)`` (registering its arguments with defaults shown in
``--help``) and ``run(args) -> int``. Errors a user can fix are printed as one line; ``--debug`` shows
the traceback.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import sys

__all__ = ["main", "COMMAND_MODULES", "UserError", "parse_key_values", "HelpFormatter"]

# Sub-command name -> module in omnimotion.cli. Keep in pipeline order.
COMMAND_MODULES: dict[str, str] = {
    "prepare": "omnimotion.cli.prepare",
    "train": "omnimotion.cli.train",
    "track": "omnimotion.cli.track",
    "view": "omnimotion.cli.view",
    "eval": "omnimotion.cli.eval",
    "run": "omnimotion.cli.run",
    "batch": "omnimotion.cli.batch",
    "demo": "omnimotion.cli.demo",
}


class UserError(Exception):
    """An error caused by input the user can fix; printed as one line without a traceback."""


def parse_key_values(items: list[str], option: str = "--set") -> dict[str, str]:
    """``["num_iters=500", ...]`` -> ``{"num_iters": "500"}``; a malformed item is a UserError."""
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option} expects KEY=VALUE, got {item!r}")
        values[key.strip()] = value.strip()
    return values


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default once: not when its help already says it, nor for None and off switches."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == []
        if "default:" in text or unset or action.default == argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from omnimotion import __version__

    parser = argparse.ArgumentParser(
        prog="omnimotion",
        description="Track every pixel of a video through the whole video (OmniMotion).",
        formatter_class=HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"omnimotion {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    # options are matched exactly: an abbreviation such as --num_iter is an error, not a silent --num_iters
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=functools.partial(argparse.ArgumentParser, allow_abbrev=False))
    for name, module_name in COMMAND_MODULES.items():
        importlib.import_module(module_name).add_parser(subparsers, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMAND_MODULES[args.command])
    return run_reporting_errors(module.run, args)


def run_reporting_errors(func, args) -> int:
    """Call ``func(args)``; turn expected errors into one line on stderr and exit code 1 (or 130)."""
    from omnimotion.io.atomic import OutputNotWritableError
    from omnimotion.io.datadir import CorruptFileError, DataDirError

    expected = (UserError, DataDirError, CorruptFileError, OutputNotWritableError, FileNotFoundError,
                ValueError, ConnectionError)
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("omnimotion: interrupted; finished work is kept, re-run the same command to resume",
              file=sys.stderr)
        return 130
    except expected as err:
        if getattr(args, "debug", False):
            raise
        print(f"omnimotion: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
