"""The viewer's request bodies: JSON objects read into checked values, or ``BadRequest`` saying what is wrong.

Bodies (all JSON objects; pixels of the run's frames, frames counted from 0)
    /api/warm    ``{"frame": t}``
    /api/track   ``{"queries": [[t, x, y], ...]}``
    /api/region  ``{"frame": t, "box": [x0, y0, x1, y1], "side": points per side (1..MAX_REGION_SIDE)}``
    /api/export  ``{"queries": [...], "format": "csv" | "json" | "npz"}``
    /api/video   ``{"queries": [...], "colors": ["#rrggbb", ...], "trail_length": frames,
                 "show_occluded": bool, "background": "frames" | "depth"}``
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

__all__ = ["BadRequest", "parse_body", "queries_field", "int_field", "bool_field", "choice_field", "box_field",
           "colors_field", "MAX_BODY_BYTES", "MAX_QUERIES", "MAX_REGION_SIDE"]

MAX_BODY_BYTES = 16 * 2**20
MAX_QUERIES = 65_536
MAX_REGION_SIDE = 128
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class BadRequest(ValueError):
    """A request the server cannot answer as sent; the message says what to send instead (HTTP 400)."""


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"the body is not valid JSON ({err})") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"the body must be a JSON object, got {type(payload).__name__}")
    return payload


def queries_field(payload: dict[str, Any], key: str = "queries") -> np.ndarray:
    """``[[t, x, y], ...]`` -> float32 ``[N, 3]`` (finite numbers; range checks are the session's)."""
    value = _required(payload, key)
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{key!r} must be a non-empty list of [t, x, y]")
    if len(value) > MAX_QUERIES:
        raise BadRequest(f"{key!r} holds {len(value)} points; at most {MAX_QUERIES} per request")
    if not all(isinstance(row, list) and len(row) == 3 and all(_is_number(v) for v in row) for row in value):
        raise BadRequest(f"every item of {key!r} must be [t, x, y], three finite numbers")
    return np.asarray(value, np.float32)


def int_field(payload: dict[str, Any], key: str, low: int, high: int, default: int | None = None) -> int:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise BadRequest(f"{key!r} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise BadRequest(f"{key!r} must be from {low} to {high}, got {value!r}")
    return int(value)


def bool_field(payload: dict[str, Any], key: str, default: bool) -> bool:
    value = payload.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{key!r} must be true or false, got {value!r}")
    return value


def choice_field(payload: dict[str, Any], key: str, choices: tuple[str, ...], default: str | None = None) -> str:
    value = payload.get(key, default)
    if value not in choices:
        raise BadRequest(f"{key!r} must be one of {', '.join(choices)}, got {value!r}")
    return value


def box_field(payload: dict[str, Any], key: str = "box") -> tuple[float, float, float, float]:
    value = _required(payload, key)
    if not isinstance(value, list) or len(value) != 4 or not all(_is_number(v) for v in value):
        raise BadRequest(f"{key!r} must be [x0, y0, x1, y1], four finite numbers")
    return tuple(float(v) for v in value)


def colors_field(payload: dict[str, Any], count: int, key: str = "colors") -> np.ndarray:
    """``["#rrggbb", ...]``, one per query -> uint8 ``[N, 3]`` RGB."""
    value = _required(payload, key)
    if not isinstance(value, list) or len(value) != count:
        raise BadRequest(f"{key!r} must list one colour per query ({count}), got "
                         f"{len(value) if isinstance(value, list) else type(value).__name__}")
    if not all(isinstance(v, str) and _COLOR.match(v) for v in value):
        raise BadRequest(f"every item of {key!r} must be a colour written #rrggbb")
    return np.asarray([[int(v[i:i + 2], 16) for i in (1, 3, 5)] for v in value], np.uint8).reshape(-1, 3)


def _required(payload: dict[str, Any], key: str) -> Any:
    if key not in payload:
        raise BadRequest(f"the body lacks {key!r}")
    return payload[key]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
