"""Safe decoding of uploaded photos.

Images come from investigators and cameras, so they are untrusted. We accept only JPEG and PNG
(the formats the API promises; every extra decoder OpenCV carries, TIFF and friends, is attack
surface we do not need) and read the pixel dimensions from the file header *before* decoding:
a 20000x20000 image is refused from its first bytes instead of allocating 1.2 GB. Truncated
files are refused too, because libjpeg "decodes" them by painting the missing part grey, and a
half-grey face would be embedded as if it were real.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from matcher.faces.errors import FaceError, Reason

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
# Start-of-frame markers carry the dimensions: SOF0..SOF15 minus DHT (C4), JPG (C8), DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_SOS = 0xDA


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on what we agree to decode.

    The defaults admit any ordinary camera or phone photo (40 MP is 8000x5000) while keeping
    the decoded BGR buffer under ~120 MB. ``min_side`` refuses thumbnails and 1x1 probes that
    cannot hold a usable face anyway.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 32


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True)
class HeaderInfo:
    """What the header says: format, width, height (before any EXIF rotation)."""

    format: str
    width: int
    height: int


def probe_header(data: bytes) -> HeaderInfo:
    """Read format and dimensions from a JPEG or PNG header, and check the file is complete.

    Raises FaceError for empty, unsupported, malformed or truncated input.
    """
    if not data:
        raise FaceError(Reason.IMAGE_EMPTY, "the image is empty (0 bytes)")
    if data.startswith(_PNG_SIGNATURE):
        return _probe_png(data)
    if data.startswith(_JPEG_SOI):
        return _probe_jpeg(data)
    raise FaceError(
        Reason.IMAGE_UNSUPPORTED_FORMAT,
        "only JPEG and PNG images are accepted",
        {"first_bytes": data[:8].hex()},
    )


def _probe_png(data: bytes) -> HeaderInfo:
    # The IHDR chunk must come first: 4-byte length, b"IHDR", width, height (big-endian).
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise FaceError(Reason.IMAGE_UNDECODABLE, "PNG header is malformed")
    width, height = struct.unpack(">II", data[16:24])
    if _PNG_IEND not in data:
        raise FaceError(Reason.IMAGE_TRUNCATED, "PNG has no IEND chunk: the file is incomplete")
    return HeaderInfo("png", width, height)


def _probe_jpeg(data: bytes) -> HeaderInfo:
    """Walk the marker segments up to the first scan; take the size from the SOF segment.

    Segments are skipped by their length, so an EXIF thumbnail (a whole JPEG inside APP1,
    with its own SOF and EOI) is never mistaken for the main image.
    """
    pos = 2
    size: tuple[int, int] | None = None
    n = len(data)
    while pos < n:
        if data[pos] != 0xFF:
            raise FaceError(Reason.IMAGE_UNDECODABLE, "JPEG marker structure is malformed")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == 0xD9:  # EOI before any scan: no image data
            raise FaceError(Reason.IMAGE_UNDECODABLE, "JPEG ends before any image data")
        if pos + 2 > n:
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise FaceError(Reason.IMAGE_UNDECODABLE, "JPEG segment length is malformed")
        if marker in _JPEG_SOF:
            if pos + 7 > n:
                break
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            size = (width, height)
        elif marker == _JPEG_SOS:
            if size is None:
                raise FaceError(Reason.IMAGE_UNDECODABLE, "JPEG has no frame header")
            # Entropy-coded data escapes 0xFF as 0xFF00, so an EOI after the first scan can
            # only be the real end of the image: without it the file was cut short.
            if data.rfind(_JPEG_EOI) <= pos:
                raise FaceError(
                    Reason.IMAGE_TRUNCATED, "JPEG has no end-of-image marker: the file is incomplete"
                )
            return HeaderInfo("jpeg", size[0], size[1])
        pos += length
    raise FaceError(Reason.IMAGE_TRUNCATED, "JPEG ends inside its header: the file is incomplete")


def check_limits(header: HeaderInfo, limits: ImageLimits) -> None:
    """Refuse images whose declared size is outside ``limits`` (no pixel is decoded)."""
    details = {"width": header.width, "height": header.height}
    if header.width == 0 or header.height == 0:
        raise FaceError(Reason.IMAGE_UNDECODABLE, "the image declares a zero dimension", details)
    if header.width * header.height > limits.max_pixels:
        raise FaceError(
            Reason.IMAGE_TOO_LARGE,
            f"{header.width}x{header.height} exceeds the limit of {limits.max_pixels} pixels",
            {**details, "max_pixels": limits.max_pixels},
        )
    if min(header.width, header.height) < limits.min_side:
        raise FaceError(
            Reason.IMAGE_TOO_SMALL,
            f"{header.width}x{header.height} is smaller than {limits.min_side} pixels on a side",
            {**details, "min_side": limits.min_side},
        )


def decode_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Decode JPEG/PNG bytes to an HxWx3 uint8 BGR array, refusing unsafe or unusable input.

    EXIF orientation is applied (OpenCV's default for IMREAD_COLOR), so a phone photo taken
    sideways is upright, as the detector needs. Grey, 16-bit and alpha images become 8-bit BGR.
    """
    if len(data) > limits.max_bytes:
        raise FaceError(
            Reason.IMAGE_TOO_LARGE,
            f"{len(data)} bytes exceeds the limit of {limits.max_bytes} bytes",
            {"bytes": len(data), "max_bytes": limits.max_bytes},
        )
    header = probe_header(data)
    check_limits(header, limits)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FaceError(Reason.IMAGE_UNDECODABLE, f"the {header.format.upper()} data cannot be decoded")
    height, width = image.shape[:2]
    if {width, height} != {header.width, header.height}:
        # A decoder disagreeing with the header means a crafted or corrupt file.
        raise FaceError(
            Reason.IMAGE_UNDECODABLE,
            "decoded size differs from the header",
            {"header": [header.width, header.height], "decoded": [width, height]},
        )
    return image
