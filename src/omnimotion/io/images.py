"""Strict image decoding: a truncated or damaged JPEG or PNG is an error naming the file, never a frame.

OpenCV decodes a JPEG cut short with only a warning on stderr ("Premature end of JPEG file") and fills the
missing part with grey; it may do the same for a PNG. So before decoding, the file's structure is walked:

- JPEG: the markers from start-of-image to end-of-image, each segment within the file, the entropy-coded data
  of every scan followed by a marker; a file without its end-of-image marker is truncated;
- PNG: every chunk within the file with a correct CRC, ending with IEND.

This reads no pixel twice (one read, one ``cv2.imdecode``), so it costs about what ``cv2.imread`` does.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import cv2
import numpy as np

__all__ = ["read_image", "image_damage", "CorruptFileError"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_START = b"\xff\xd8"
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: markers without a length
_JPEG_END, _JPEG_SCAN = 0xD9, 0xDA
_MARKER_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7]")  # 0xFF00 is a stuffed byte, RSTn stay in the scan


class CorruptFileError(ValueError):
    """A file exists but cannot be trusted (truncated, wrong shape or dtype, NaNs)."""


def read_image(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """``cv2.imread(path, flags)`` for an intact file; CorruptFileError naming a damaged one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorruptFileError(f"cannot read image {path} ({err.strerror or err})") from err
    damage = image_damage(data, path.suffix)
    image = None if damage else cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise CorruptFileError(f"image {path} is damaged ({damage or 'undecodable'}); replace or delete it")
    return image


def image_damage(data: bytes, suffix: str) -> str | None:
    """Why the encoded image ``data`` cannot be trusted, or None. ``suffix`` (".jpg", ".png", ...) names the
    format; other formats are left to the decoder."""
    suffix = suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        return _jpeg_damage(data)
    if suffix == ".png":
        return _png_damage(data)
    return None


def _jpeg_damage(data: bytes) -> str | None:
    if not data.startswith(_JPEG_START):
        return "no JPEG start-of-image marker"
    position = len(_JPEG_START)
    while position + 2 <= len(data):
        if data[position] != 0xFF:
            return f"no marker at byte {position}"
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        elif marker == _JPEG_END:
            return None
        elif marker in _JPEG_STANDALONE:
            position += 2
        else:
            end = position + 2 + int.from_bytes(data[position + 2:position + 4], "big")
            if end > len(data):
                return f"truncated: a segment runs past the end of the file ({len(data)} bytes)"
            position = end
            if marker == _JPEG_SCAN:
                found = _MARKER_AFTER_SCAN.search(data, position)
                if found is None:
                    break
                position = found.start()
    return f"truncated: no end-of-image marker in its {len(data)} bytes"


def _png_damage(data: bytes) -> str | None:
    if not data.startswith(_PNG_SIGNATURE):
        return "no PNG signature"
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind_and_body = data[position + 4:position + 8 + length]
        crc_at = position + 8 + length
        if crc_at + 4 > len(data):
            break
        if zlib.crc32(kind_and_body) != int.from_bytes(data[crc_at:crc_at + 4], "big"):
            return f"checksum error in chunk {kind_and_body[:4].decode('latin-1')!r}"
        if kind_and_body[:4] == b"IEND":
            return None
        position = crc_at + 4
    return f"truncated: no IEND chunk in its {len(data)} bytes"
