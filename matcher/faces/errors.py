"""Errors of the face pipeline.

Refusals of an input carry a machine-readable ``reason`` (stable strings the gRPC layer can map to
``google.rpc.ErrorInfo.reason``) and JSON-friendly ``details`` (boxes, scores, sizes), so an
investigator learns what to fix in the photo rather than just that it failed. Model problems are
separate exception types because they are the operator's to fix, not the caller's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why an image or face was refused. Values are part of the API contract: never rename."""

    IMAGE_EMPTY = "IMAGE_EMPTY"
    IMAGE_UNSUPPORTED_FORMAT = "IMAGE_UNSUPPORTED_FORMAT"
    IMAGE_UNDECODABLE = "IMAGE_UNDECODABLE"
    IMAGE_TRUNCATED = "IMAGE_TRUNCATED"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    IMAGE_TOO_SMALL = "IMAGE_TOO_SMALL"
    NO_FACE = "NO_FACE"
    FACE_TOO_SMALL = "FACE_TOO_SMALL"
    FACE_LOW_SCORE = "FACE_LOW_SCORE"
    MULTIPLE_FACES = "MULTIPLE_FACES"
    FACE_BOX_INVALID = "FACE_BOX_INVALID"
    FACE_BOX_NOT_FOUND = "FACE_BOX_NOT_FOUND"
    ALIGNED_CROP_WRONG_SIZE = "ALIGNED_CROP_WRONG_SIZE"


class FaceError(ValueError):
    """The input cannot be used; ``reason`` says why and ``details`` what was seen.

    ``details`` never holds pixels or embeddings, only geometry and scores, so it is safe to
    return to the caller and to log.
    """

    def __init__(self, reason: Reason, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.details: dict[str, Any] = details or {}


class ModelError(RuntimeError):
    """A model file exists but is not what the pipeline needs (wrong kind, unusable graph)."""


class ModelMissingError(ModelError, FileNotFoundError):
    """A model file is absent. The message names the command that installs it."""


class ModelIntegrityError(ModelError):
    """A model file's size or sha256 differs from the manifest: it is refused, never used."""
