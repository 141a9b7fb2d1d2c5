"""OmniMotionConfig: the whole run configuration, read from official ``.txt`` files and command lines.

The stage configs keep their fields beside the code they configure (``ModelConfig`` in omnimotion.model,
``TrainConfig`` in omnimotion.train); this module nests them with the inference options of the official
``config.py`` and maps official ``key = value`` files (configargparse) and ``--key value`` command-line
options onto the fields. Every official key is accepted; an unknown key is an error that names it.
Priority: command line > config file > preset > field defaults.

The fast single-surface model (``method = surface``) keeps its options in ``SurfaceModelConfig``; their keys
carry a ``surface_`` prefix (``surface_num_bins``, ``surface_depth_tolerance``, ...) since some names
(``min_depth``, ``occlusion_th``) are also faithful-model keys with other defaults.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import configargparse

from omnimotion.model.config import ModelConfig
from omnimotion.model.surface import SurfaceModelConfig
from omnimotion.track.evidence import check_flow_evidence_mode
from omnimotion.train.options import TrainConfig

__all__ = ["OmniMotionConfig", "InferenceConfig", "PRESETS", "build_parser", "parse_config", "load_config",
           "config_to_dict", "config_from_dict", "config_to_text", "UnknownConfigKeyError", "add_field_options",
           "given_values", "parse_values", "resolve", "override_arguments", "field_docs"]


class UnknownConfigKeyError(ValueError):
    """A config file or command line holds keys no stage knows."""


@dataclass
class InferenceConfig:
    """Official inference/visualisation keys not owned by the model (tracking reads them)."""

    chunk_size: int = 10000
    """Points per model call when rendering or tracking densely."""
    query_frame_id: int = 0
    """Frame whose pixels are tracked in the official visualisations."""
    vis_occlusion: bool = False
    """Mark occluded points as crosses in visualisations."""
    foreground_mask_path: str = ""
    """Foreground mask for trail visualisations."""
    flow_evidence: str = "visibility"
    """Correct tracks with the prepared flows (``omnimotion.track.evidence``): none; visibility (visible
    wherever the flow's cycle check followed the point there and back); positions (also take the flow's
    position there)."""

    def __post_init__(self) -> None:
        check_flow_evidence_mode(self.flow_evidence)


@dataclass
class OmniMotionConfig:
    data_dir: str = ""
    """The prepared sequence directory (official layout)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    surface: SurfaceModelConfig = field(default_factory=SurfaceModelConfig)


SECTIONS = {"model": ModelConfig, "train": TrainConfig, "inference": InferenceConfig,
            "surface": SurfaceModelConfig}
# Keys of a section are its field names with this prefix.
KEY_PREFIX = {"surface": "surface_"}
# Official keys with no effect here (ipython dummy); accepted so that official command lines run.
IGNORED_KEYS = ("fff",)

# Presets are key -> value overrides applied below the config file; configs/<name>.txt holds the same
# values for use with --config (tests/test_config.py checks that they agree).
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {
        "expname": "fast", "num_imgs": 0, "num_iters": 2000, "num_pairs": 4, "num_pts": 64, "use_count_map": True,
        "use_error_map": True, "start_interval": 1, "interval_growth_steps": 50, "lrate_decay_steps": 1000,
        "schedule_scale": 0.02, "i_cache": 500, "error_map_stride": 8, "i_weight": 500,
        "i_print": 50, "i_img": 500, "num_samples_ray": 8, "use_affine": False, "nvp_hidden": 128,
        "canonical_hidden": 256, "time_hidden": 128, "code_dim": 64, "use_max_loc": True,
        "vis_occlusion": True,
    },
    # The fast single-surface variant (docs/method.md#single-surface-variant).
    "surface": {
        "expname": "surface", "method": "surface", "num_imgs": 0, "num_iters": 3000, "num_pairs": 8, "num_pts": 256,
        "use_count_map": True, "use_error_map": True, "start_interval": 1, "interval_growth_steps": 50,
        "lrate_decay_steps": 1500, "grad_clip": 1.0, "i_cache": 1000, "error_map_stride": 4,
        "i_weight": 1000, "i_print": 100, "i_img": 1000, "vis_occlusion": True, "temporal_smooth_weight": 0.1,
        "flow_evidence": "positions",
    },
}


def _field_map() -> dict[str, tuple[str, dataclasses.Field]]:
    """Official/our key -> (section, dataclass field); keys must be unique across sections."""
    mapping: dict[str, tuple[str, dataclasses.Field]] = {}
    for section, cls in SECTIONS.items():
        for fld in dataclasses.fields(cls):
            key = KEY_PREFIX.get(section, "") + fld.name
            if key in mapping:
                raise RuntimeError(f"config key {key!r} is defined by two stages")
            mapping[key] = (section, fld)
    return mapping


def _to_bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise configargparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _default_of(fld: dataclasses.Field) -> Any:
    if fld.default is not dataclasses.MISSING:
        return fld.default
    return fld.default_factory()  # type: ignore[misc]


def build_parser(parser: configargparse.ArgumentParser | None = None) -> configargparse.ArgumentParser:
    """A configargparse parser with ``--config``, ``--data_dir`` and one option per config field."""
    parser = parser or configargparse.ArgumentParser(description="OmniMotion training options")
    parser.add_argument("--config", is_config_file=True, help="config file (official key = value format)")
    parser.add_argument("--data_dir", type=str, default=None, help="the prepared sequence directory")
    add_field_options(parser)
    return parser


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


def add_field_options(parser) -> None:
    """Add ``--<key>`` for every config field to an (configarg)argparse parser; defaults None = not given.
    Each option's help is the first sentence of its field's docstring and its default."""
    for key, (section, fld) in _field_map().items():
        default = _default_of(fld)
        doc = field_docs(SECTIONS[section]).get(fld.name, "")
        help_text = (f"{doc} (default: {default!r})" if doc else f"(default: {default!r})").replace("%", "%%")
        if isinstance(default, bool):
            # `--flag` alone (official store_true) or `--flag false` / `flag = False` in a file
            parser.add_argument(f"--{key}", type=_to_bool, nargs="?", const=True, default=None, metavar="BOOL",
                                help=help_text)
        elif isinstance(default, list):
            parser.add_argument(f"--{key}", type=float, nargs="+", default=None, metavar="V", help=help_text)
        elif isinstance(default, tuple):
            parser.add_argument(f"--{key}", type=type(default[0]), nargs="+", default=None, metavar="V",
                                help=help_text)
        else:
            parser.add_argument(f"--{key}", type=type(default), default=None, metavar="V", help=help_text)
    parser.add_argument("-f", "--fff", default=None, help=configargparse.SUPPRESS)


def given_values(namespace) -> dict[str, Any]:
    """The config keys a parsed namespace actually sets (not None), without parser-only entries."""
    keys = set(_field_map()) | {"data_dir"}
    return {key: value for key, value in vars(namespace).items() if key in keys and value is not None}


def override_arguments(values: dict[str, Any]) -> list[str]:
    """``{key: value}`` overrides (``--set KEY=VALUE``) -> official-style arguments.

    A list-valued key's value is given as ``[8, 32, 64]``, ``8,32,64`` or ``8 32 64``; it becomes one
    argument per item. Other values (names, paths) are passed whole, commas and spaces included.
    """
    fields = _field_map()
    argv = []
    for key, value in values.items():
        is_list = key in fields and isinstance(_default_of(fields[key][1]), (list, tuple))
        items = str(value).strip().strip("[]()").replace(",", " ").split() if is_list else []
        argv += [f"--{key}", *items] if items else [f"--{key}={value}"]
    return argv


def parse_values(argv: Sequence[str]) -> dict[str, Any]:
    """Official-style arguments -> the key -> value pairs they set (config file below command line)."""
    parser = build_parser()
    namespace, unknown = parser.parse_known_args(list(argv))
    if unknown:
        keys = sorted({u.split("=")[0].lstrip("-") for u in unknown if u.startswith("-")} or set(unknown))
        source = f" (config file {namespace.config})" if namespace.config else ""
        raise UnknownConfigKeyError(f"unknown config key(s) {keys}{source}; see 'omnimotion train --help' "
                                    "for the accepted keys")
    return given_values(namespace)


def parse_config(argv: Sequence[str], preset: str | None = None) -> OmniMotionConfig:
    """Official-style arguments (``--config F --data_dir D --key value ...``) -> OmniMotionConfig."""
    return resolve(parse_values(argv), preset)


def resolve(values: dict[str, Any], preset: str | None = None) -> OmniMotionConfig:
    """Build a config from key -> value overrides on top of ``preset`` (if any) and the defaults."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    merged = dict(PRESETS[preset]) if preset else {}
    merged.update(values)
    mapping = _field_map()
    unknown = sorted(set(merged) - set(mapping) - {"data_dir"})
    if unknown:
        raise UnknownConfigKeyError(f"unknown config key(s) {unknown}")
    per_section: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for key, value in merged.items():
        if key != "data_dir":
            section, fld = mapping[key]
            # tuple-valued fields (surface grids) arrive as lists from command lines and config files
            per_section[section][fld.name] = tuple(value) if isinstance(_default_of(fld), tuple) else value
    return OmniMotionConfig(data_dir=str(merged.get("data_dir") or ""),
                            **{name: SECTIONS[name](**kw) for name, kw in per_section.items()})


def load_config(path: str | Path, overrides: Sequence[str] = (), preset: str | None = None) -> OmniMotionConfig:
    """Read an official-format config file, then apply command-line style ``overrides``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist; pass an existing .txt such as "
                                "configs/default.txt")
    return parse_config(["--config", str(path), *overrides], preset=preset)


def config_to_dict(cfg: OmniMotionConfig) -> dict[str, Any]:
    """Nested plain dict (for checkpoints and JSON)."""
    return dataclasses.asdict(cfg)


def config_from_dict(data: dict[str, Any]) -> OmniMotionConfig:
    """Inverse of config_to_dict; unknown keys raise UnknownConfigKeyError."""
    flat = {KEY_PREFIX.get(name, "") + key: value for name in SECTIONS for key, value in data.get(name, {}).items()}
    flat["data_dir"] = data.get("data_dir", "")
    return resolve(flat)


def config_to_text(cfg: OmniMotionConfig) -> str:
    """Every resolved value in the official ``key = value`` format, keys with their section's ``KEY_PREFIX``.
    (``args.txt`` is written by ``omnimotion.train.trainer``, not by this function.)"""
    lines = [f"data_dir = {cfg.data_dir}"]
    for name in SECTIONS:
        lines.append(f"# {name}")
        for key, value in dataclasses.asdict(getattr(cfg, name)).items():
            text = "[" + ", ".join(str(v) for v in value) + "]" if isinstance(value, (list, tuple)) else value
            lines.append(f"{KEY_PREFIX.get(name, '')}{key} = {text}")
    return "\n".join(lines) + "\n"
