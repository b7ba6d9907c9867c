"""Reading licence plates from photos: image bytes in, plate texts with per-character confidences out.

Built on fast-alpr's ``ALPR`` (detector, crop, OCR) with fast-plate-ocr's recogniser, so plate
texts and confidences are what those libraries produce. What this module adds is what the
crime center's service needs around them:

- **Local files only.** fast-alpr's defaults name hub models that it downloads on first use; we
  pass ``ocr_model=None`` with explicit model and config paths, and build the detector ourselves
  from a local file, so nothing is ever fetched.
- **CPU only, fixed thread budget.** fast-alpr's default provider list is everything onnxruntime
  offers, Azure first; both sessions are forced onto ``CPUExecutionProvider`` and checked.
- **Refusals with reasons.** Uploaded images go through the face pipeline's safe decoder (header
  probed before decoding, JPEG/PNG only, size limits); refusals are :class:`PlateImageError`
  with a stable ``reason``, as for faces.
- **Reads the matching engine accepts.** fast-plate-ocr returns one confidence per model slot,
  pad slots included; :class:`PlateReading` keeps one confidence per plate character so
  ``PlateRead(reading.text, reading.confidences)`` lines up (see :func:`align_confidences`).

Two detector kinds, chosen by configuration: ``"fast-alpr"`` loads fast-alpr's own YOLOv9
end-to-end plate detectors (through open-image-models, the loader fast-alpr's
``DefaultDetector`` uses; that class itself only accepts hub names) and ``"yolov8"`` runs an
Ultralytics YOLOv8 single-class export (raw ``[1, 5, anchors]`` output, NMS done here).

Importing this module imports ``matcher`` first, which sets ``ORT_DISABLE_TELEMETRY`` before
onnxruntime (pulled in by fast-alpr) is loaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import onnxruntime as ort
from fast_alpr import ALPR, BaseDetector
from open_image_models import create_detector
from open_image_models.detection.core.base import (
    BoundingBox,
    DetectionResult,
    inspect_model_input_shape,
)
from open_image_models.detection.core.yolo_v9.inference import YoloV9Detector
from open_image_models.detection.core.yolo_v9.postprocess import convert_to_detection_result
from open_image_models.detection.core.yolo_v9.preprocess import preprocess

from matcher.faces.errors import FaceError, ModelError, ModelMissingError
from matcher.faces.image import DEFAULT_LIMITS, ImageLimits, decode_image
from matcher.faces.pipeline import session_options
from matcher.plates.alphabet import ALPHABET, MAX_PLATE_LENGTH
from matcher.plates.text import PlateRead

DetectorKind = Literal["yolov8", "fast-alpr"]
Box = tuple[int, int, int, int]

CPU_ONLY = ("CPUExecutionProvider",)
PLATE_LABEL = "License Plate"
"""Label of every detection (both detector kinds are single-class plate detectors)."""
CROP_LIMITS = ImageLimits(max_bytes=5 * 1024 * 1024, max_pixels=4_000_000, min_side=16)
"""Limits for :meth:`PlateReader.read_crop`: a plate crop is small (the OCR sees it at 128x64),
so far less than a photo is allowed, and a 16-pixel-high crop is still worth reading."""
_PROBABILITY_SLACK = 1e-3
"""float32 softmax outputs may exceed 1 by rounding; more than this means they are not probabilities."""


class PlateImageReason(StrEnum):
    """Why an image was refused. The ``IMAGE_*`` values equal the face pipeline's, so the gRPC layer
    maps both the same way; never rename."""

    IMAGE_EMPTY = "IMAGE_EMPTY"
    IMAGE_UNSUPPORTED_FORMAT = "IMAGE_UNSUPPORTED_FORMAT"
    IMAGE_UNDECODABLE = "IMAGE_UNDECODABLE"
    IMAGE_TRUNCATED = "IMAGE_TRUNCATED"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    IMAGE_TOO_SMALL = "IMAGE_TOO_SMALL"
    NO_PLATE = "NO_PLATE"


class PlateImageError(ValueError):
    """The image cannot be read; ``reason`` says why and ``details`` what was seen.

    ``details`` holds only sizes, boxes and scores (never pixels or plate text), so it is safe
    to return to the caller and to log.
    """

    def __init__(self, reason: PlateImageReason, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.details: dict[str, Any] = details or {}


@dataclass(frozen=True, slots=True)
class PlateReading:
    """One plate read from an image.

    ``text`` is the OCR's reading without pad characters and ``confidences`` holds one
    probability (0..1) per character of it. ``box`` is (x1, y1, x2, y2) in image pixels (the whole
    image for :meth:`PlateReader.read_crop`); ``detector_confidence`` is None when no detector ran.
    """

    text: str
    confidences: tuple[float, ...]
    box: Box
    detector_confidence: float | None

    def to_plate_read(self) -> PlateRead:
        """The read the matching engine takes (the reader guarantees it is accepted)."""
        return PlateRead(self.text, self.confidences)


def align_confidences(
    text: str, slot_confidences: Sequence[float], pad_char: str
) -> tuple[str, tuple[float, ...]]:
    """Drop pad characters from an OCR reading, keeping one confidence per remaining character.

    fast-plate-ocr decodes one symbol per slot and strips trailing pads from the text, but
    returns a confidence for every slot; a pad can also be decoded *between* characters. Slot
    ``i`` is text position ``i`` (only trailing pads were stripped), so pairing them and then
    dropping pads keeps each confidence on its own character.
    """
    if len(slot_confidences) < len(text):
        raise ModelError(f"the OCR returned {len(slot_confidences)} confidences for {len(text)} slots")
    kept = [(ch, c) for ch, c in zip(text, slot_confidences, strict=False) if ch != pad_char]
    for _, confidence in kept:
        if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0 + _PROBABILITY_SLACK):
            raise ModelError(f"the OCR produced a score {confidence!r} that is not a probability")
    return "".join(ch for ch, _ in kept), tuple(min(float(c), 1.0) for _, c in kept)


class YoloV8PlateDetector(BaseDetector):  # type: ignore[misc]  # fast_alpr is untyped (Any)
    """An Ultralytics YOLOv8 single-class plate detector plugged into fast-alpr.

    The export has no NMS inside: its one output is ``[1, 5, anchors]`` holding (cx, cy, w, h,
    score) in letterboxed input pixels. Preprocessing is Ultralytics' letterbox (grey 114
    padding, RGB, /255), which open-image-models implements identically for YOLOv9; boxes are
    mapped back to the image, clipped to it, and overlapping ones merged by NMS.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        conf_thresh: float,
        nms_iou: float,
        options: ort.SessionOptions,
    ) -> None:
        self.conf_thresh = conf_thresh
        self.nms_iou = nms_iou
        self.session = ort.InferenceSession(str(model_path), sess_options=options, providers=list(CPU_ONLY))
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{model_path} has {len(inputs)} inputs and {len(outputs)} outputs, not 1 and 1")
        try:
            shape = inspect_model_input_shape(inputs[0].shape)
        except ValueError as exc:
            raise ModelError(f"{model_path} is not a YOLOv8 detector: {exc}") from exc
        if shape.image_size[0] != shape.image_size[1]:
            raise ModelError(f"{model_path} input is not square: {inputs[0].shape}")
        if len(outputs[0].shape) != 3 or outputs[0].shape[1] != 5:
            raise ModelError(
                f"{model_path} outputs {outputs[0].shape}; a single-class YOLOv8 export gives [1, 5, anchors]"
            )
        self.input_size: tuple[int, int] = shape.image_size
        self.input_name: str = inputs[0].name
        self.output_name: str = outputs[0].name

    def predict(self, frame: np.ndarray) -> list[DetectionResult]:
        """Plates in a BGR image, boxes in image pixels, most confident first."""
        tensor, (ratio, _), (pad_x, pad_y) = preprocess(frame, self.input_size)
        (raw,) = self.session.run([self.output_name], {self.input_name: tensor})
        cx, cy, w, h, scores = np.asarray(raw, dtype=np.float32)[0]
        kept = scores >= self.conf_thresh
        x1 = (cx[kept] - w[kept] / 2 - pad_x) / ratio
        y1 = (cy[kept] - h[kept] / 2 - pad_y) / ratio
        widths, heights, confidences = w[kept] / ratio, h[kept] / ratio, scores[kept]
        rects = [[float(v) for v in rect] for rect in zip(x1, y1, widths, heights, strict=True)]
        chosen = cv2.dnn.NMSBoxes(rects, confidences.tolist(), self.conf_thresh, self.nms_iou)
        height, width = frame.shape[:2]
        detections = []
        for index in np.asarray(chosen, dtype=np.int64).reshape(-1):
            left, top, box_w, box_h = rects[index]
            box = BoundingBox(
                math.floor(left), math.floor(top), math.ceil(left + box_w), math.ceil(top + box_h)
            ).clamp(width, height)
            if not box.is_empty:
                detections.append(DetectionResult(PLATE_LABEL, float(confidences[index]), box))
        return sorted(detections, key=lambda d: -d.confidence)


class FastAlprPlateDetector(BaseDetector):  # type: ignore[misc]  # fast_alpr is untyped (Any)
    """fast-alpr's own YOLOv9 end-to-end plate detector, loaded from a local file.

    Loading goes through open-image-models' ``create_detector`` (what fast-alpr's
    ``DefaultDetector`` calls, minus the hub download). Inference calls the session directly
    rather than ``YoloV9Detector.predict``, because that method turns any inference error into
    "no detections", which here would tell an investigator there is no plate when the model
    failed. Boxes are clipped to the image and empty ones dropped (fast-alpr would crash
    cropping them).
    """

    def __init__(self, model_path: Path, *, conf_thresh: float, options: ort.SessionOptions) -> None:
        try:
            detector = create_detector(
                model_path,
                backend="yolo_v9",
                class_labels=(PLATE_LABEL,),
                conf_thresh=conf_thresh,
                providers=list(CPU_ONLY),
                sess_options=options,
            )
        except ValueError as exc:  # open-image-models' refusal of the input shape
            raise ModelError(f"{model_path} is not a YOLOv9 end-to-end detector: {exc}") from exc
        if not isinstance(detector, YoloV9Detector):
            raise ModelError(f"open-image-models built a {type(detector).__name__}, not a YoloV9Detector")
        self.detector = detector
        self.session: Any = detector.model

    def predict(self, frame: np.ndarray) -> list[DetectionResult]:
        """Plates in a BGR image, boxes in image pixels, most confident first."""
        tensor, ratio, padding = preprocess(frame, self.detector.img_size)
        (raw,) = self.session.run([self.detector.output_name], {self.detector.input_name: tensor})
        rows = np.asarray(raw, dtype=np.float32)
        # End-to-end rows are (batch, x1, y1, x2, y2, class, score), batched as [1, K, 7] or [K, 7].
        if rows.shape[-1] != 7 or rows.ndim not in (2, 3) or (rows.ndim == 3 and rows.shape[0] != 1):
            raise ModelError(f"the detector outputs {rows.shape}; an end-to-end detector gives [K, 7] rows")
        rows = rows[0] if rows.ndim == 3 else rows[rows[:, 0] == 0]
        height, width = frame.shape[:2]
        detections = []
        for found in convert_to_detection_result(
            rows, self.detector.class_labels, ratio, padding, self.detector.conf_thresh
        ):
            box = found.bounding_box.clamp(width, height)
            if not box.is_empty:
                detections.append(DetectionResult(PLATE_LABEL, found.confidence, box))
        return sorted(detections, key=lambda d: -d.confidence)


class PlateReader:
    """Find and read licence plates in JPEG/PNG bytes, from local model files only.

    Thread-safe: one instance can serve concurrent requests (onnxruntime sessions run
    concurrently; no per-call state is kept). Each session uses ``intra_op_threads`` threads,
    default 1, like the face pipeline: parallelism comes from concurrent requests.

    Construction fails with ``ModelMissingError`` for an absent file and ``ModelError`` for a
    file or config that is not what it should be (wrong signature, an alphabet the matching
    engine would refuse), after a warm-up run of both models, so a bad deployment fails at start.
    """

    def __init__(
        self,
        detector_path: str | Path,
        ocr_model_path: str | Path,
        ocr_config_path: str | Path,
        *,
        detector_kind: DetectorKind = "yolov8",
        min_detector_confidence: float = 0.4,
        nms_iou: float = 0.5,
        intra_op_threads: int = 1,
        limits: ImageLimits = DEFAULT_LIMITS,
        crop_limits: ImageLimits = CROP_LIMITS,
    ) -> None:
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be >= 1")
        if not 0.0 < min_detector_confidence < 1.0:
            raise ValueError("min_detector_confidence must be between 0 and 1 (exclusive)")
        if not 0.0 < nms_iou <= 1.0:
            raise ValueError("nms_iou must be in (0, 1]")
        if detector_kind not in ("yolov8", "fast-alpr"):
            raise ValueError(f"detector_kind must be 'yolov8' or 'fast-alpr', not {detector_kind!r}")
        self.min_detector_confidence = min_detector_confidence
        self.limits = limits
        self.crop_limits = crop_limits
        detector_file = _existing(detector_path, "detector model")
        ocr_file = _existing(ocr_model_path, "OCR model")
        config_file = _existing(ocr_config_path, "OCR plate config")
        options = session_options(intra_op_threads)

        detector: YoloV8PlateDetector | FastAlprPlateDetector
        try:
            if detector_kind == "yolov8":
                detector = YoloV8PlateDetector(
                    detector_file, conf_thresh=min_detector_confidence, nms_iou=nms_iou, options=options
                )
            else:
                detector = FastAlprPlateDetector(
                    detector_file, conf_thresh=min_detector_confidence, options=options
                )
            alpr = ALPR(
                detector=detector,
                ocr_model=None,  # the default is a hub name: it would download
                ocr_device="cpu",
                ocr_providers=list(CPU_ONLY),
                ocr_sess_options=options,
                ocr_model_path=ocr_file,
                ocr_config_path=config_file,
            )
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime, onnx and yaml raise many unrelated types for a bad file
            raise ModelError(f"the plate models cannot be loaded: {exc}") from exc
        self._alpr: Any = alpr
        self._detector = detector
        recognizer = alpr.ocr.ocr_model
        self._pad_char: str = recognizer.config.pad_char
        self._check_ocr_config(recognizer.config, config_file)
        self._sessions: dict[str, Any] = {"detector": detector.session, "ocr": recognizer.model}
        for role, session in self._sessions.items():
            if tuple(session.get_providers()) != CPU_ONLY:
                raise ModelError(f"the plate {role} did not load on the CPU provider alone")
            if session.get_session_options().intra_op_num_threads != intra_op_threads:
                raise ModelError(f"the plate {role} session ignored the thread count")
        self._warm_up(recognizer.config.max_plate_slots)

    @property
    def providers(self) -> Mapping[str, tuple[str, ...]]:
        """Execution providers of each session (always CPU only), for start-up logs and checks."""
        return {role: tuple(session.get_providers()) for role, session in self._sessions.items()}

    def read_image(self, image_bytes: bytes) -> list[PlateReading]:
        """Detect and read every plate in a photo, most confident detection first.

        Plates the OCR reads as nothing (only pad) are left out. Refuses the image with
        ``NO_PLATE`` when nothing readable remains; ``details`` then lists the detections, if any,
        so "no plate found" and "plates found but unreadable" can be told apart.
        """
        image = _decode(image_bytes, self.limits)
        readings, detections = self._read(image)
        if not readings:
            height, width = image.shape[:2]
            found = (
                f"{len(detections)} plate(s) detected but none could be read"
                if detections
                else "no plate detected"
            )
            raise PlateImageError(
                PlateImageReason.NO_PLATE,
                f"{found} in the image",
                {
                    "image_size": [width, height],
                    "detections": detections,
                    "min_detector_confidence": self.min_detector_confidence,
                },
            )
        return readings

    def read_frame(self, image: np.ndarray) -> list[PlateReading]:
        """Every readable plate of a decoded BGR video frame (a camera gateway's); maybe none."""
        return self._read(image)[0]

    def _read(self, image: np.ndarray) -> tuple[list[PlateReading], list[dict[str, Any]]]:
        readings = []
        detections = []
        for result in self._alpr.predict(image):
            box: Box = result.detection.bounding_box.xyxy
            confidence = float(result.detection.confidence)
            detections.append({"box": list(box), "detector_confidence": round(confidence, 4)})
            reading = self._reading(result.ocr, box, confidence)
            if reading is not None:
                readings.append(reading)
        return readings, detections

    def read_crop(self, image_bytes: bytes) -> PlateReading:
        """Read an image that already shows just a plate (OCR only; no detector runs).

        Refuses with ``NO_PLATE`` when the OCR reads no character in it.
        """
        image = _decode(image_bytes, self.crop_limits)
        height, width = image.shape[:2]
        reading = self._reading(self._alpr.ocr.predict(image), (0, 0, width, height), None)
        if reading is None:
            raise PlateImageError(
                PlateImageReason.NO_PLATE,
                "no plate characters could be read in the crop",
                {"image_size": [width, height]},
            )
        return reading

    def _reading(self, ocr: Any, box: Box, detector_confidence: float | None) -> PlateReading | None:
        if ocr is None:
            return None
        if not isinstance(ocr.confidence, list):
            raise ModelError("the OCR returned no per-character confidences")
        text, confidences = align_confidences(ocr.text, ocr.confidence, self._pad_char)
        if not text:
            return None
        return PlateReading(text, confidences, box, detector_confidence)

    def _check_ocr_config(self, config: Any, path: Path) -> None:
        """Refuse a model whose readings the matching engine would reject (see PlateRead)."""
        if config.pad_char not in config.alphabet:
            raise ModelError(f"{path}: pad_char {config.pad_char!r} is not in the alphabet")
        foreign = sorted(set(config.alphabet) - ALPHABET - {config.pad_char})
        if foreign:
            raise ModelError(
                f"{path}: the OCR alphabet has characters plates may not contain: {''.join(foreign)!r}"
            )
        if config.max_plate_slots > MAX_PLATE_LENGTH:
            raise ModelError(
                f"{path}: {config.max_plate_slots} slots exceed the plate length limit ({MAX_PLATE_LENGTH})"
            )

    def _warm_up(self, slots: int) -> None:
        """Run both models once so that a wrong signature fails now, not on the first request."""
        blank = np.zeros((64, 128, 3), dtype=np.uint8)
        try:
            self._detector.predict(blank)
            ocr = self._alpr.ocr.predict(blank)
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime reports a wrong input name, type or shape this way
            raise ModelError(f"the plate models do not run on a test image: {exc}") from exc
        if not isinstance(ocr.confidence, list) or len(ocr.confidence) != slots:
            raise ModelError(f"the OCR model does not output {slots} slots as its config says")


def _existing(path: str | Path, role: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise ModelMissingError(
            f"the plate {role} {file} is missing; check the plate model paths in the configuration"
        )
    return file


def _decode(data: bytes, limits: ImageLimits) -> np.ndarray:
    """The face pipeline's safe decoder, its refusals restated as plate refusals (same reasons)."""
    try:
        return decode_image(data, limits)
    except FaceError as exc:
        raise PlateImageError(PlateImageReason(exc.reason.value), exc.message, exc.details) from exc
