"""Loading the face pipeline at start-up, without ever downloading anything.

A missing or corrupt model is the operator's to fix: the service logs a clear error naming the
command that fixes it and keeps serving every embedding-based call; only calls with images are
refused (FACE_PIPELINE_UNAVAILABLE, with the same explanation) until the models are installed
and the service restarted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from matcher.config import Settings
from matcher.faces import FacePipeline, ModelError, QualityGates, resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineUnavailable:
    """Why there is no face pipeline: told to callers who send images."""

    why: str


def load_pipeline(settings: Settings) -> FacePipeline | PipelineUnavailable:
    """The configured FacePipeline, or a PipelineUnavailable that says why and how to fix it."""
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
        return PipelineUnavailable(str(error))
    log.info(
        "face pipeline ready: recogniser %s (%d-d)", pipeline.model_id, pipeline.recognizer.embedding_dim
    )
    return pipeline
