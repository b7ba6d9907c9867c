"""Showing a photo back to the person who just uploaded it, with the detector's boxes drawn on it.

The console keeps no photo: after the service has answered, the page it returns embeds the
photo as a ``data:`` URL (sent with ``Cache-Control: no-store``) under an SVG of the boxes. When
the person must choose one face of several, the photo travels back in the form as base64, so the
second request carries it again and the console still has held nothing between the two.

Only the pixel size is read here (from the PNG or JPEG header, no decoding): the service
decodes, checks and refuses photos; the console only needs the size to draw boxes in place.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

from matcher.status_details import ImageDetails

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def pixel_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header; None when it is neither (or malformed)."""
    if data.startswith(_PNG) and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else None
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0x01, *range(0xD0, 0xD8)) or marker == 0xFF:
            at += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _JPEG_SOF and at + 9 <= len(data):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return (width, height) if width and height else None
        at += 2 + length
    return None


def media_type(data: bytes) -> str:
    return "image/png" if data.startswith(_PNG) else "image/jpeg"


def data_url(data: bytes) -> str:
    return f"data:{media_type(data)};base64,{base64.b64encode(data).decode()}"


def from_form(value: str, limit: int) -> bytes | None:
    """A photo sent back in a form as base64; None when it is not valid base64 or too large."""
    if len(value) > limit * 4 // 3 + 4:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def to_form(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Box:
    """A face box in image pixels, numbered as the page shows it, with its detector score."""

    number: int
    left: float
    top: float
    right: float
    bottom: float
    score: float = 0.0
    rejected: str = ""

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def value(self) -> str:
        """The box as a form value: ``left,top,right,bottom``."""
        return ",".join(f"{v:g}" for v in (self.left, self.top, self.right, self.bottom))


def boxes_from_refusal(image: ImageDetails | None) -> list[Box]:
    """The detector's boxes of a refused photo (``MatcherError.image``), numbered for the page."""
    if image is None or image.kind != "faces":
        return []
    return [
        Box(number, *seen.box, score=seen.score, rejected=seen.rejected or "")
        for number, seen in enumerate(image.boxes, start=1)
    ]


def parse_box(value: str) -> tuple[float, float, float, float] | None:
    try:
        left, top, right, bottom = (float(v) for v in value.split(","))
    except ValueError:
        return None
    return (left, top, right, bottom)
