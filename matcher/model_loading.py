"""Loading the face pipeline and the plate reader at start-up, never downloading anything.

A missing or corrupt model is the operator's to fix: the service logs a clear error naming what
to do and keeps serving every call that does not need that model (embeddings, plate texts); only
calls with images are refused (FACE_PIPELINE_UNAVAILABLE, PLATE_READER_UNAVAILABLE, with the
same explanation) until the models are installed and the service restarted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from matcher.config import Settings
from matcher.faces import FacePipeline, ModelError, QualityGates, resolve
from matcher.plates.reader import DetectorKind, PlateReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unavailable:
    """Why a model-backed feature is off: told to callers who need it."""

    why: str


def load_pipeline(settings: Settings) -> FacePipeline | Unavailable:
    """The configured FacePipeline, or an Unavailable that says why and how to fix it."""
    try:
        if settings.face_detector and settings.face_recognizer:
            detector, recognizer = settings.face_detector, settings.face_recognizer
        else:
            assert settings.model_dir is not None
            paths = resolve(settings.model_dir, settings.face_pack)
            detector, recognizer = paths.detector, paths.recognizer
            log.warning("face models of pack %s; licence: %s", paths.pack, paths.licence)
        gates = QualityGates(
            min_face_px=settings.min_face_px,
            min_det_score=settings.min_detector_score,
            report_score_floor=min(0.3, settings.min_detector_score),
        )
        pipeline = FacePipeline(detector, recognizer, intra_op_threads=settings.face_threads, quality=gates)
    except (ModelError, KeyError, ValueError) as error:
        log.error("face pipeline unavailable, serving embeddings only: %s", error)
        return Unavailable(str(error))
    log.info(
        "face pipeline ready: recogniser %s (%d-d)", pipeline.model_id, pipeline.recognizer.embedding_dim
    )
    return pipeline


def load_plate_reader(settings: Settings) -> PlateReader | Unavailable:
    """The plate reader (detector + OCR from local files), or why there is none."""
    files = (settings.plate_detector, settings.plate_ocr_model, settings.plate_ocr_config)
    if not all(files):
        why = (
            "no plate reader models configured: set MATCHER_PLATE_DETECTOR, MATCHER_PLATE_OCR_MODEL and "
            "MATCHER_PLATE_OCR_CONFIG to local files (plate texts are still checked)"
        )
        log.info(why)
        return Unavailable(why)
    try:
        assert settings.plate_detector and settings.plate_ocr_model and settings.plate_ocr_config
        reader = PlateReader(
            settings.plate_detector,
            settings.plate_ocr_model,
            settings.plate_ocr_config,
            detector_kind=cast(DetectorKind, settings.plate_detector_kind),
            min_detector_confidence=settings.min_plate_detector_score,
            intra_op_threads=settings.face_threads,
        )
    except (ModelError, ValueError) as error:
        log.error("plate reader unavailable, checking plate texts only: %s", error)
        return Unavailable(str(error))
    log.info("plate reader ready: %s detector", settings.plate_detector_kind)
    return reader
