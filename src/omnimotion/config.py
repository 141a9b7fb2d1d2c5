"""OmniMotionConfig: the whole configuration, composed and validated in one place (``compose``).

Each stage keeps its typed section beside the code it configures: ``PrepareConfig`` (omnimotion.preprocess),
``ModelConfig`` and ``SurfaceModelConfig`` (omnimotion.model), ``TrainConfig`` (omnimotion.train) and
``TrackConfig`` (omnimotion.track). This module nests them and maps flat config keys onto their fields: a key is
the field's name, with a ``surface_`` prefix for the single-surface model's section (some of its names, e.g.
``min_depth``, ``occlusion_th``, are also faithful-model keys with other defaults) or the name a field's
``metadata["key"]`` gives. Every key of the official ``config.py`` is accepted; the official keys this package
has no use for are accepted and ignored (``IGNORED_KEYS``).

``compose(config_file, preset, overrides)`` is the one path from user input to a configuration: the preset's
values, then the config file's (official ``key = value`` format), then the overrides (command-line options,
``--set KEY=VALUE``, a dict from Python); priority: overrides > config file > preset > field defaults. Keys
are matched exactly (no abbreviations); every value is converted to its field's type and every section
validated, so a bad key or value fails in one line naming the key before any work starts. ``config_to_text``
writes the configuration in the config-file format (a training run's ``args.txt``); ``load_config`` reads it
back to the same configuration.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import functools
import inspect
import textwrap
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import configargparse

from omnimotion.model.config import ModelConfig
from omnimotion.model.surface import SurfaceModelConfig
from omnimotion.preprocess.options import PrepareConfig
from omnimotion.track.options import TrackConfig
from omnimotion.train.options import TrainConfig

__all__ = ["OmniMotionConfig", "PRESETS", "SECTIONS", "ConfigError", "UnknownConfigKeyError", "compose",
           "load_config", "parse_config", "read_config_file", "config_to_text", "config_to_dict",
           "config_from_dict", "config_values", "add_field_options", "given_values", "field_docs", "config_keys"]


class ConfigError(ValueError):
    """A configuration key or value is invalid; the one-line message names the key and what is allowed."""


class UnknownConfigKeyError(ConfigError):
    """A config file or command line holds keys no section knows."""


@dataclass
class OmniMotionConfig:
    """The whole configuration: the prepared sequence and one section per stage."""

    data_dir: str = ""
    """The prepared sequence directory (official layout)."""
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    surface: SurfaceModelConfig = field(default_factory=SurfaceModelConfig)
    track: TrackConfig = field(default_factory=TrackConfig)

    def to_text(self) -> str:
        """``config_to_text(self)``: what training writes as ``args.txt``."""
        return config_to_text(self)


SECTIONS: dict[str, type] = {"prepare": PrepareConfig, "model": ModelConfig, "train": TrainConfig,
                             "surface": SurfaceModelConfig, "track": TrackConfig}
KEY_PREFIX = {"surface": "surface_"}
IGNORED_KEYS = {
    "fff": "ipython's dummy argument",
    "query_frame_id": "the official visualisations' query frame (omnimotion track --frame chooses it)",
    "vis_occlusion": "the official visualisations' occlusion crosses (the pictures always show occlusion)",
    "foreground_mask_path": "the official trail visualisation's mask (omnimotion track --mask chooses points)",
}
"""Official keys with no effect here, accepted so that official config files and command lines run."""

# Presets are key -> value overrides applied below the config file; configs/<name>.txt holds the same
# values for use with --config (tests/test_config.py checks that they agree).
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {
        "expname": "fast", "num_imgs": 0, "num_iters": 2000, "num_pairs": 4, "num_pts": 64, "use_count_map": True,
        "use_error_map": True, "start_interval": 1, "interval_growth_steps": 50, "lrate_decay_steps": 1000,
        "schedule_scale": 0.02, "i_cache": 500, "error_map_stride": 8, "i_weight": 500,
        "i_print": 50, "i_img": 500, "num_samples_ray": 8, "use_affine": False, "nvp_hidden": 128,
        "canonical_hidden": 256, "time_hidden": 128, "code_dim": 64, "use_max_loc": True,
    },
    # The fast single-surface variant (docs/method.md#single-surface-variant).
    "surface": {
        "expname": "surface", "method": "surface", "num_imgs": 0, "num_iters": 3000, "num_pairs": 8, "num_pts": 256,
        "use_count_map": True, "use_error_map": True, "start_interval": 1, "interval_growth_steps": 50,
        "lrate_decay_steps": 1500, "grad_clip": 1.0, "i_cache": 1000, "error_map_stride": 4,
        "i_weight": 1000, "i_print": 100, "i_img": 1000, "temporal_smooth_weight": 0.1,
    },
}


# ----- keys -----------------------------------------------------------------------------------------------
def _key(section: str, fld: dataclasses.Field) -> str:
    return fld.metadata.get("key", KEY_PREFIX.get(section, "") + fld.name)


@functools.cache
def _field_map() -> dict[str, tuple[str, dataclasses.Field, Any]]:
    """Config key -> (section, dataclass field, its type); keys are unique across sections."""
    mapping: dict[str, tuple[str, dataclasses.Field, Any]] = {}
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for fld in dataclasses.fields(cls):
            key = _key(section, fld)
            if key in mapping:
                raise RuntimeError(f"config key {key!r} is defined by two sections")
            mapping[key] = (section, fld, hints[fld.name])
    return mapping


def config_keys(sections: Sequence[str] | None = None) -> list[str]:
    """The config keys of ``sections`` (default: all), in section and field order."""
    return [key for key, (section, _, _) in _field_map().items() if sections is None or section in sections]


def _unknown_keys(keys, source: str = "") -> None:
    known = set(_field_map()) | set(IGNORED_KEYS) | {"data_dir"}
    unknown = sorted(set(keys) - known)
    if not unknown:
        return
    close = [match for key in unknown for match in difflib.get_close_matches(key, known, n=1)]
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    where = f" in {source}" if source else ""
    raise UnknownConfigKeyError(f"unknown config key(s) {unknown}{where}{hint}; keys are matched exactly, see "
                                "'omnimotion train --help'")


# ----- values ---------------------------------------------------------------------------------------------
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(key: str, value: Any, hint: Any) -> Any:
    """``value`` (a string from a file or command line, or a Python value) as type ``hint``; ConfigError
    naming the key otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):  # X | None: "none" (or nothing) is None
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
            return None
        return _convert(key, value, next(arg for arg in args if arg is not type(None)))
    if origin in (list, tuple):
        items = value if isinstance(value, (list, tuple)) else \
            str(value).strip().strip("[]()").replace(",", " ").split()
        converted = [_convert(key, item, args[0]) for item in items]
        return tuple(converted) if origin is tuple else converted
    try:
        return _scalar(value, hint)
    except (TypeError, ValueError):
        what = {bool: "true or false", int: "an integer", float: "a number", str: "text"}[hint]
        raise ConfigError(f"{key} = {value!r}: expected {what}") from None


def _scalar(value: Any, hint: type) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in _TRUE + _FALSE:
            raise ValueError(text)
        return text in _TRUE
    if isinstance(value, bool) or isinstance(value, (list, tuple, dict)):
        raise TypeError(value)
    if hint is int:
        return value if isinstance(value, int) else int(str(value).strip())
    if hint is float:
        return float(value)
    return str(value)


def _text(value: Any) -> str:
    """A field value in the config-file format (``_convert`` reads it back)."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


# ----- composing ------------------------------------------------------------------------------------------
def compose(config_file: str | Path | None = None, preset: str | None = None,
            overrides: Mapping[str, Any] | None = None, base: OmniMotionConfig | None = None) -> OmniMotionConfig:
    """The configuration: ``base``'s values (default: the field defaults), then ``preset``'s, then
    ``config_file``'s, then ``overrides`` (key -> value, a string to convert or a value of the field's type;
    ``data_dir`` included), converted and validated. Any bad key or value raises a ConfigError with a one-line
    message naming it."""
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"preset {preset!r} is not one of {', '.join(sorted(PRESETS))}")
    values = config_values(base) if base is not None else {}
    values.update(PRESETS[preset] if preset else {})
    if config_file is not None:
        values.update(read_config_file(config_file))
    values.update(overrides or {})
    _unknown_keys(values)
    per_section: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for key, value in values.items():
        if key in _field_map():
            section, fld, hint = _field_map()[key]
            per_section[section][fld.name] = _convert(key, value, hint)
    sections = {}
    for name, kwargs in per_section.items():
        try:
            sections[name] = SECTIONS[name](**kwargs)
        except ValueError as err:
            prefix = f"{KEY_PREFIX[name]}* keys: " if name in KEY_PREFIX else ""
            raise ConfigError(f"{prefix}{err}") from None
    return OmniMotionConfig(data_dir=str(values.get("data_dir") or ""), **sections)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The key -> value pairs of a config file in the official ``key = value`` format (``#`` comments, lists as
    ``[a, b]``); unknown keys raise UnknownConfigKeyError naming the file, ignored official keys are dropped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist; pass an existing .txt such as "
                                "configs/default.txt")
    with path.open() as stream:
        values = dict(configargparse.DefaultConfigFileParser().parse(stream))
    _unknown_keys(values, f"config file {path}")
    return {key: value for key, value in values.items() if key not in IGNORED_KEYS}


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None,
                preset: str | None = None) -> OmniMotionConfig:
    """``compose`` from a config file (such as a run's ``args.txt``) and overrides."""
    return compose(path, preset, overrides)


def config_values(cfg: OmniMotionConfig) -> dict[str, Any]:
    """Every value of ``cfg`` by config key (``data_dir`` included)."""
    values: dict[str, Any] = {"data_dir": cfg.data_dir}
    for name in SECTIONS:
        section = getattr(cfg, name)
        values.update({_key(name, fld): getattr(section, fld.name) for fld in dataclasses.fields(section)})
    return values


def config_to_text(cfg: OmniMotionConfig) -> str:
    """Every value of ``cfg`` in the config-file format, sections as comments; ``load_config`` reads it back
    to ``cfg``. Training writes it as ``args.txt`` in its output folder."""
    values = config_values(cfg)
    lines = ["# omnimotion configuration: load it with --config", f"data_dir = {values.pop('data_dir')}"]
    for name in SECTIONS:
        lines.append(f"# {name}")
        lines += [f"{key} = {_text(values[key])}" for key in config_keys([name])]
    return "\n".join(lines) + "\n"


def config_to_dict(cfg: OmniMotionConfig) -> dict[str, Any]:
    """Nested plain dict (for checkpoints and JSON)."""
    return dataclasses.asdict(cfg)


def config_from_dict(data: Mapping[str, Any]) -> OmniMotionConfig:
    """Inverse of ``config_to_dict``; unknown keys raise UnknownConfigKeyError. The ``inference`` section of
    earlier versions gives its ``flow_evidence`` to the tracking section."""
    by_field = {(section, fld.name): key for key, (section, fld, _) in _field_map().items()}
    flat: dict[str, Any] = {"data_dir": data.get("data_dir", "")}
    if "flow_evidence" in data.get("inference", {}) and "track" not in data:
        flat["flow_evidence"] = data["inference"]["flow_evidence"]
    for name in SECTIONS:
        for key, value in data.get(name, {}).items():
            flat[by_field.get((name, key), KEY_PREFIX.get(name, "") + key)] = value
    return compose(overrides=flat)


# ----- command lines --------------------------------------------------------------------------------------
@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The first sentence of the docstring under each field of dataclass ``cls`` (fields without one are
    left out); read from the source, as the docstrings are not kept at run time."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):  # no source shipped (e.g. a zipped install): help without docstrings
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for statement, following in zip(body, body[1:]):
        if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            text = " ".join(following.value.value.split())
            docs[statement.target.id] = text.split(". ")[0].rstrip(".") + "."
    return docs


def _default_of(fld: dataclasses.Field) -> Any:
    return fld.default if fld.default is not dataclasses.MISSING else fld.default_factory()  # type: ignore[misc]


def add_field_options(parser, keys: Sequence[str]) -> None:
    """Add ``--<key>`` for each config key to an argparse parser (or group). The value stays a string (None =
    not given) for ``compose`` to convert; the help is the field's docstring and its default."""
    for key in keys:
        section, fld, hint = _field_map()[key]
        doc = field_docs(SECTIONS[section]).get(fld.name, "")
        default = _default_of(fld)
        help_text = (f"{doc} (default: {_text(default)})" if default != "" else doc).strip().replace("%", "%%")
        if hint is bool:  # `--flag` alone (official store_true) or `--flag false`
            parser.add_argument(f"--{key}", nargs="?", const="true", default=None, metavar="BOOL", help=help_text)
        elif typing.get_origin(hint) in (list, tuple):
            parser.add_argument(f"--{key}", nargs="+", default=None, metavar="V", help=help_text)
        else:
            parser.add_argument(f"--{key}", default=None, metavar="V", help=help_text)


def given_values(namespace: argparse.Namespace, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """The config keys (default: all) a parsed namespace sets, i.e. not None."""
    wanted = set(config_keys() if keys is None else keys)
    return {key: value for key, value in vars(namespace).items() if key in wanted and value is not None}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line ConfigErrors instead of a usage message and an exit."""

    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(message)


def parse_config(argv: Sequence[str], preset: str | None = None) -> OmniMotionConfig:
    """The official command line (``--config F --data_dir D --key value ...``; ``train.py``) -> ``compose``."""
    parser = _Parser(allow_abbrev=False, add_help=False)
    parser.add_argument("--config", default=None)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("-f", "--fff", default=None)
    for key in set(IGNORED_KEYS) - {"fff"}:
        parser.add_argument(f"--{key}", nargs="?")
    add_field_options(parser, config_keys())
    namespace, unknown = parser.parse_known_args(list(argv))
    if unknown:
        _unknown_keys({item.split("=")[0].lstrip("-") for item in unknown if item.startswith("-")} or unknown)
        raise ConfigError(f"unexpected arguments {unknown}")
    values = given_values(namespace)
    if namespace.data_dir is not None:
        values["data_dir"] = namespace.data_dir
    return compose(namespace.config, preset, values)
