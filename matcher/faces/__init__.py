"""Face pipeline: image bytes in, L2-normalised face embeddings with their boxes out.

onnxruntime may send telemetry unless ``ORT_DISABLE_TELEMETRY=1`` is in the process environment
*before* it is imported, so this package sets it first, ahead of every onnxruntime or insightface
import. An operator who exported a value on purpose keeps it. If onnxruntime was imported earlier
by someone else (for example the plate reader), the setting may come too late: we warn, and the
fix is to import ``matcher.faces`` first or to set the variable in the service's environment.
"""

import os
import sys
import warnings

if "onnxruntime" in sys.modules and "ORT_DISABLE_TELEMETRY" not in os.environ:
    warnings.warn(
        "onnxruntime was imported before matcher.faces could set ORT_DISABLE_TELEMETRY=1; "
        "import matcher.faces first or export ORT_DISABLE_TELEMETRY=1 in the service environment",
        RuntimeWarning,
        stacklevel=2,
    )
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from matcher.faces.errors import (
    FaceError,
    ModelError,
    ModelIntegrityError,
    ModelMissingError,
    Reason,
)
from matcher.faces.image import ImageLimits, decode_image
from matcher.faces.models import ModelPaths, install_from, load_manifest, resolve
from matcher.faces.pipeline import (
    DetectedFace,
    FaceCandidate,
    FacePipeline,
    Purpose,
    RecognizerInfo,
)
from matcher.faces.quality import QualityGates

__all__ = [
    "DetectedFace",
    "FaceCandidate",
    "FaceError",
    "FacePipeline",
    "ImageLimits",
    "ModelError",
    "ModelIntegrityError",
    "ModelMissingError",
    "ModelPaths",
    "Purpose",
    "QualityGates",
    "Reason",
    "RecognizerInfo",
    "decode_image",
    "install_from",
    "load_manifest",
    "resolve",
]
