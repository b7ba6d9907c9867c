"""Real weights on real plates: fast-plate-ocr's cct_xs_v1_global and a YOLOv8n plate detector.

The files live in the shared folder beside the repository (``../shared``, or
``$MATCHER_SHARED_DIR``), never in the repository (the detector is AGPL-3.0 / provenance
unclear, see its SOURCE.md). Each test skips, saying which file is absent. Readings and
confidences are printed (run with -s) so they can be compared with the SOURCE.md notes.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from matcher.plates import PlateRead
from matcher.plates import reader_synthetic as syn
from matcher.plates.reader import PlateImageError, PlateImageReason, PlateReader

REPO_ROOT = Path(__file__).resolve().parents[2]


def _shared_dir() -> Path:
    return Path(os.environ.get("MATCHER_SHARED_DIR", REPO_ROOT / ".." / "shared")).resolve()


def _real_file(*parts: str) -> Path:
    path = _shared_dir().joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"real test data {path} is absent (set MATCHER_SHARED_DIR to the shared folder)")
    return path


def _image(name: str) -> bytes:
    return _real_file("reference", "images", name).read_bytes()


@pytest.fixture(scope="module")
def crop_reader(tmp_path_factory: pytest.TempPathFactory) -> PlateReader:
    """The real OCR; crops never reach the detector, so a synthetic one stands in for it and the
    crop tests need only the OCR files."""
    ocr = _real_file("models", "cct_xs_v1_global", "cct_xs_v1_global.onnx")
    config = _real_file("models", "cct_xs_v1_global", "cct_xs_v1_global_plate_config.yaml")
    detector = syn.write_yolov8_detector(tmp_path_factory.mktemp("plate_detector") / "det.onnx")
    return PlateReader(detector, ocr, config)


@pytest.fixture(scope="module")
def real_reader() -> PlateReader:
    return PlateReader(
        _real_file("models", "yolov8n_plate_int8", "license_plate_detector_int8.onnx"),
        _real_file("models", "cct_xs_v1_global", "cct_xs_v1_global.onnx"),
        _real_file("models", "cct_xs_v1_global", "cct_xs_v1_global_plate_config.yaml"),
    )


@pytest.mark.parametrize(
    ("name", "expected"), [("fpo_test_plate_1.png", "AD799KB"), ("fpo_test_plate_2.png", "KRW301")]
)
def test_real_crop_reads_its_plate(crop_reader: PlateReader, name: str, expected: str) -> None:
    reading = crop_reader.read_crop(_image(name))
    print(f"{name}: {reading.text} {[round(c, 4) for c in reading.confidences]}")
    assert reading.text == expected
    assert len(reading.confidences) == len(expected)
    assert min(reading.confidences) > 0.9
    PlateRead(reading.text, reading.confidences)


def test_real_photo_finds_and_reads_the_plate(real_reader: PlateReader) -> None:
    readings = real_reader.read_image(_image("fast_alpr_test_image.png"))
    for r in readings:
        print(f"{r.text} box={r.box} det={r.detector_confidence:.3f} {[round(c, 4) for c in r.confidences]}")
    assert [r.text for r in readings] == ["5AU5341"]
    (reading,) = readings
    # The reference SOURCE.md measured the plate at about (305, 180)-(395, 212).
    x1, y1, x2, y2 = reading.box
    assert abs(x1 - 305) <= 6 and abs(y1 - 180) <= 6 and abs(x2 - 395) <= 6 and abs(y2 - 212) <= 6
    assert reading.detector_confidence is not None and reading.detector_confidence >= 0.4
    assert min(reading.confidences) > 0.9
    reading.to_plate_read()


def test_real_photo_reads_the_same_as_jpeg(real_reader: PlateReader) -> None:
    image = cv2.imdecode(np.frombuffer(_image("fast_alpr_test_image.png"), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    assert [r.text for r in real_reader.read_image(jpeg.tobytes())] == ["5AU5341"]


def test_real_face_photo_has_no_plate(real_reader: PlateReader) -> None:
    with pytest.raises(PlateImageError) as caught:
        real_reader.read_image(_image("obama.jpg"))
    assert caught.value.reason is PlateImageReason.NO_PLATE
