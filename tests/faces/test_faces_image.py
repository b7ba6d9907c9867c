"""Decoding untrusted photos: every bad input is refused with its own reason, before decoding
where the header already tells."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable

import numpy as np
import pytest

from matcher.faces import FaceError, ImageLimits, Reason, decode_image
from matcher.faces.image import DEFAULT_LIMITS, probe_header

Encode = Callable[..., bytes]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header claiming width x height, with a few bytes of pixel data only."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_claiming(width: int, height: int) -> bytes:
    """SOI, a baseline SOF0 claiming width x height, an SOS and EOI: a header, nearly no data."""
    sof = (
        b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    sos = b"\xff\xda" + struct.pack(">HB", 12, 3) + b"\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return b"\xff\xd8" + sof + sos + b"\x00" * 16 + b"\xff\xd9"


def _refused(data: bytes, reason: Reason, limits: ImageLimits = DEFAULT_LIMITS) -> FaceError:
    with pytest.raises(FaceError) as caught:
        decode_image(data, limits)
    assert caught.value.reason is reason, caught.value
    return caught.value


def _photo() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)


def test_zero_bytes_is_empty() -> None:
    _refused(b"", Reason.IMAGE_EMPTY)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_file_is_refused(encode: Encode, ext: str) -> None:
    data = encode(_photo(), ext)
    error = _refused(data[: len(data) * 2 // 3], Reason.IMAGE_TRUNCATED)
    assert "incomplete" in error.message


def test_jpeg_cut_inside_its_header_is_truncated(encode: Encode) -> None:
    _refused(encode(_photo(), ".jpg")[:40], Reason.IMAGE_TRUNCATED)


def test_one_pixel_image_is_too_small(encode: Encode) -> None:
    error = _refused(encode(np.zeros((1, 1, 3), np.uint8)), Reason.IMAGE_TOO_SMALL)
    assert error.details["width"] == 1 and error.details["height"] == 1


@pytest.mark.parametrize("craft", [_png_claiming, _jpeg_claiming])
def test_huge_declared_size_is_refused_from_the_header(craft: Callable[[int, int], bytes]) -> None:
    data = craft(20000, 20000)
    assert len(data) < 200  # nothing like the 1.2 GB that decoding would allocate
    started = time.perf_counter()
    error = _refused(data, Reason.IMAGE_TOO_LARGE)
    assert time.perf_counter() - started < 0.1
    assert error.details == {"width": 20000, "height": 20000, "max_pixels": ImageLimits().max_pixels}


def test_too_many_bytes_is_refused_before_parsing(encode: Encode) -> None:
    data = encode(_photo())
    error = _refused(data, Reason.IMAGE_TOO_LARGE, ImageLimits(max_bytes=len(data) - 1))
    assert error.details["bytes"] == len(data)


@pytest.mark.parametrize(
    "data",
    [b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", b"BM" + b"\x00" * 60, b"hello, not an image"],
    ids=["gif", "bmp", "text"],
)
def test_other_formats_are_unsupported(data: bytes) -> None:
    _refused(data, Reason.IMAGE_UNSUPPORTED_FORMAT)


def test_png_with_garbage_pixels_is_undecodable() -> None:
    data = _png_claiming(64, 64)  # a valid header, but 64 zero bytes cannot fill 64x64 RGB
    _refused(data, Reason.IMAGE_UNDECODABLE)


def test_jpeg_size_comes_from_the_main_frame_not_the_exif_thumbnail(encode: Encode) -> None:
    main = encode(np.zeros((300, 400, 3), np.uint8), ".jpg")
    thumbnail = encode(np.zeros((30, 40, 3), np.uint8), ".jpg")
    body = b"Exif\x00\x00" + thumbnail
    app1 = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    header = probe_header(main[:2] + app1 + main[2:])
    assert (header.format, header.width, header.height) == ("jpeg", 400, 300)


@pytest.mark.parametrize("channels", [1, 4])
def test_grey_and_alpha_images_become_three_channel_bgr(encode: Encode, channels: int) -> None:
    image = np.full((40, 50, channels), 77, np.uint8)
    decoded = decode_image(encode(image))
    assert decoded.shape == (40, 50, 3) and decoded.dtype == np.uint8


def test_exif_orientation_is_applied(encode: Encode) -> None:
    """A phone photo stored sideways (EXIF orientation 6) must reach the detector upright."""
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, :40] = 255  # left half white
    jpeg = encode(image, ".jpg")
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 6) + struct.pack("<I", 0)
    body = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    app1 = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    upright = decode_image(jpeg[:2] + app1 + jpeg[2:])
    assert upright.shape == (80, 40, 3)
    assert upright[:30].min() > 200 and upright[50:].max() < 50  # white half now on top
