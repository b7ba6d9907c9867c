"""PlateReader on synthetic models with the real signatures (matcher.plates.reader_synthetic).

fast-alpr, fast-plate-ocr and open-image-models load these files through their own code and
onnxruntime runs them, so every assertion below is about what the reader really returns: the
text painted into a plate, confidences on the right characters, boxes where the plate is, and
refusals with their reasons.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from matcher.faces.errors import ModelError, ModelMissingError
from matcher.plates import PlateRead
from matcher.plates import reader_synthetic as syn
from matcher.plates.reader import (
    PlateImageError,
    PlateImageReason,
    PlateReader,
    align_confidences,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header claiming width x height, followed by too little pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("plate_models")
    return {
        "ocr": syn.write_ocr_model(folder / "ocr.onnx"),
        "config": syn.write_ocr_config(folder / "ocr_plate_config.yaml"),
        "yolov8": syn.write_yolov8_detector(folder / "yolov8.onnx"),
        "yolov9": syn.write_yolov9_end2end_detector(folder / "yolov9.onnx"),
    }


@pytest.fixture(scope="module")
def reader(models: dict[str, Path]) -> PlateReader:
    return PlateReader(models["yolov8"], models["ocr"], models["config"])


@pytest.fixture(scope="module")
def fast_alpr_reader(models: dict[str, Path]) -> PlateReader:
    return PlateReader(models["yolov9"], models["ocr"], models["config"], detector_kind="fast-alpr")


def _refusal(call: object, data: bytes) -> PlateImageError:
    assert callable(call)
    with pytest.raises(PlateImageError) as caught:
        call(data)
    assert isinstance(caught.value, ValueError)
    return caught.value


# --- reading crops (OCR only) -------------------------------------------------------------


@pytest.mark.parametrize("text", ["Q", "AB123", "7XK4410", "ABCDEFGH9"])
def test_crop_reads_the_text_painted_into_it(reader: PlateReader, text: str) -> None:
    reading = reader.read_crop(_png(syn.plate_image(text, 256, 64)))
    assert reading.text == text
    assert len(reading.confidences) == len(text)
    assert all(c > 0.99 for c in reading.confidences)
    assert reading.box == (0, 0, 256, 64)
    assert reading.detector_confidence is None
    assert reading.to_plate_read() == PlateRead(text, reading.confidences)


def test_pads_are_dropped_and_confidences_stay_on_their_characters(reader: PlateReader) -> None:
    # Slot 2 decodes as the pad; slot 4 ("2") is painted off its level, so it is less certain.
    reading = reader.read_crop(_png(syn.plate_image("AB_12", 270, 60, offsets={4: 3})))
    assert reading.text == "AB12"
    assert len(reading.confidences) == 4
    assert reading.confidences[3] == pytest.approx(syn.confidence_for_offset(3), abs=1e-3)
    assert 0.7 < reading.confidences[3] < 0.8
    assert all(c > 0.99 for c in reading.confidences[:3])
    assert reading.to_plate_read().unknown_mask(0.9) == (False, False, False, True)


def test_crop_with_no_characters_is_no_plate(reader: PlateReader) -> None:
    error = _refusal(reader.read_crop, _png(syn.plate_image("", 256, 64)))
    assert error.reason is PlateImageReason.NO_PLATE
    assert error.details == {"image_size": [256, 64]}


def test_crop_limits_admit_small_plates_but_not_slivers(reader: PlateReader) -> None:
    assert reader.read_crop(_png(syn.plate_image("K9", 64, 16))).text == "K9"
    error = _refusal(reader.read_crop, _png(syn.plate_image("K9", 64, 12)))
    assert error.reason is PlateImageReason.IMAGE_TOO_SMALL


# --- reading photos (detector + OCR) --------------------------------------------------------


@pytest.mark.parametrize("size", [(320, 320), (640, 480), (640, 640)])
def test_photo_yields_the_plate_with_its_box(reader: PlateReader, size: tuple[int, int]) -> None:
    image, boxes = syn.scene(size, [("7XK441", (10, 10))])
    (reading,) = reader.read_image(_png(image))
    assert reading.text == "7XK441"
    assert reading.box == boxes[0]
    assert reading.detector_confidence is not None and reading.detector_confidence > 0.95
    assert all(c > 0.99 for c in reading.confidences)


def test_every_plate_in_a_photo_is_read(reader: PlateReader) -> None:
    image, boxes = syn.scene((640, 640), [("AB123", (3, 4)), ("ZZ9", (15, 12))])
    readings = reader.read_image(_png(image))
    assert {(r.text, r.box) for r in readings} == {("AB123", boxes[0]), ("ZZ9", boxes[1])}


def test_fast_alpr_detector_kind_reads_through_open_image_models(fast_alpr_reader: PlateReader) -> None:
    image, boxes = syn.scene((768, 576), [("5AU5341", (12, 6))], input_size=384)
    (reading,) = fast_alpr_reader.read_image(_png(image))
    assert (reading.text, reading.box) == ("5AU5341", boxes[0])
    assert reading.detector_confidence is not None and reading.detector_confidence > 0.95


@pytest.mark.parametrize("kind", ["yolov8", "fast-alpr"])
def test_photo_without_plate_is_no_plate(
    reader: PlateReader, fast_alpr_reader: PlateReader, kind: str
) -> None:
    chosen = reader if kind == "yolov8" else fast_alpr_reader
    image, _ = syn.scene((640, 480), [])
    error = _refusal(chosen.read_image, _png(image))
    assert error.reason is PlateImageReason.NO_PLATE
    assert error.details["detections"] == []
    assert error.details["image_size"] == [640, 480]
    assert "no plate detected" in error.message


def test_detected_but_unreadable_plate_is_no_plate_with_its_box(reader: PlateReader) -> None:
    image, boxes = syn.scene((640, 480), [("", (10, 10))])
    error = _refusal(reader.read_image, _png(image))
    assert error.reason is PlateImageReason.NO_PLATE
    assert [d["box"] for d in error.details["detections"]] == [list(boxes[0])]
    assert "none could be read" in error.message


def test_plate_below_the_detector_threshold_is_not_reported(models: dict[str, Path]) -> None:
    # A 0.99 threshold sits above the synthetic detector's best score (~0.982).
    strict = PlateReader(models["yolov8"], models["ocr"], models["config"], min_detector_confidence=0.99)
    image, _ = syn.scene((640, 480), [("AB123", (10, 10))])
    assert _refusal(strict.read_image, _png(image)).reason is PlateImageReason.NO_PLATE


# --- bad input ----------------------------------------------------------------------------


def test_bad_images_are_refused_with_reasons(reader: PlateReader) -> None:
    cases = {
        b"": PlateImageReason.IMAGE_EMPTY,
        b"this is not an image at all": PlateImageReason.IMAGE_UNSUPPORTED_FORMAT,
        _png_claiming(64, 64): PlateImageReason.IMAGE_UNDECODABLE,
        _png(np.zeros((64, 64, 3), np.uint8))[:-20]: PlateImageReason.IMAGE_TRUNCATED,
        _png(np.zeros((12, 200, 3), np.uint8)): PlateImageReason.IMAGE_TOO_SMALL,
        _png_claiming(100_000, 100_000): PlateImageReason.IMAGE_TOO_LARGE,
    }
    for data, reason in cases.items():
        for call in (reader.read_image, reader.read_crop):
            error = _refusal(call, data)
            assert error.reason is reason, (data[:16], call)
            assert str(error).startswith(f"{reason}: ")


def test_photos_must_be_larger_than_crops(reader: PlateReader) -> None:
    # 20 px is too small to find a plate in, yet enough for a plate that is already cropped.
    data = _png(syn.plate_image("K9", 200, 20))
    assert _refusal(reader.read_image, data).reason is PlateImageReason.IMAGE_TOO_SMALL
    assert reader.read_crop(data).text == "K9"


def test_too_large_refusal_says_what_was_claimed(reader: PlateReader) -> None:
    error = _refusal(reader.read_image, _png_claiming(100_000, 100_000))
    assert error.details["width"] == error.details["height"] == 100_000
    assert error.details["max_pixels"] == reader.limits.max_pixels


# --- model loading ------------------------------------------------------------------------


def test_sessions_are_cpu_only_whatever_onnxruntime_offers(
    reader: PlateReader, fast_alpr_reader: PlateReader
) -> None:
    assert "CPUExecutionProvider" in ort.get_available_providers()
    for loaded in (reader, fast_alpr_reader):
        assert loaded.providers == {
            "detector": ("CPUExecutionProvider",),
            "ocr": ("CPUExecutionProvider",),
        }


def test_missing_model_file_is_named(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match=r"absent\.onnx"):
        PlateReader(tmp_path / "absent.onnx", models["ocr"], models["config"])
    with pytest.raises(FileNotFoundError):
        PlateReader(models["yolov8"], models["ocr"], tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("detector", "kind"),
    [("ocr", "yolov8"), ("yolov9", "yolov8"), ("ocr", "fast-alpr"), ("yolov8", "fast-alpr")],
)
def test_wrong_detector_file_is_refused_at_start(models: dict[str, Path], detector: str, kind: str) -> None:
    with pytest.raises(ModelError):
        PlateReader(models[detector], models["ocr"], models["config"], detector_kind=kind)  # type: ignore[arg-type]


def test_ocr_model_swapped_with_detector_is_refused(models: dict[str, Path]) -> None:
    with pytest.raises(ModelError):
        PlateReader(models["yolov8"], models["yolov8"], models["config"])


def test_alphabet_the_matcher_would_refuse_is_refused(models: dict[str, Path], tmp_path: Path) -> None:
    config = syn.write_ocr_config(tmp_path / "lower.yaml", alphabet="0123456789abcdefghijklmnopqrstuvwxyz_")
    with pytest.raises(ModelError, match="plates may not contain"):
        PlateReader(models["yolov8"], models["ocr"], config)


def test_unparseable_config_is_a_model_error(models: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("max_plate_slots: 9\nunknown_key: 1\n", encoding="utf-8")
    with pytest.raises(ModelError):
        PlateReader(models["yolov8"], models["ocr"], config)


def test_bad_settings_are_refused(models: dict[str, Path]) -> None:
    paths = (models["yolov8"], models["ocr"], models["config"])
    with pytest.raises(ValueError, match="detector_kind"):
        PlateReader(*paths, detector_kind="yolov5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="intra_op_threads"):
        PlateReader(*paths, intra_op_threads=0)
    with pytest.raises(ValueError, match="min_detector_confidence"):
        PlateReader(*paths, min_detector_confidence=1.0)


# --- OCR output alignment -----------------------------------------------------------------


def test_align_confidences_drops_pads_and_keeps_pairs() -> None:
    # fast-plate-ocr strips trailing pads from the text but scores all nine slots.
    slots = [0.9, 0.8, 0.99, 0.7, 0.6, 0.99, 0.99, 0.99, 0.99]
    assert align_confidences("AB_1C", slots, "_") == ("AB1C", (0.9, 0.8, 0.7, 0.6))
    assert align_confidences("", slots, "_") == ("", ())


def test_align_confidences_clamps_rounding_but_refuses_non_probabilities() -> None:
    text, confidences = align_confidences("A", [1.0000001], "_")
    assert confidences == (1.0,)
    PlateRead(text, confidences)
    for bad in (math.nan, 1.5, -0.1):
        with pytest.raises(ModelError):
            align_confidences("A", [bad], "_")
    with pytest.raises(ModelError):
        align_confidences("ABC", [0.9, 0.9], "_")


# --- environment --------------------------------------------------------------------------
