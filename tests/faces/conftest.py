"""Fixtures for the face pipeline tests.

Synthetic models (matcher.faces.synthetic) run everywhere. Real weights and photos come from the
shared folder beside the repository (``../shared``, or ``$MATCHER_SHARED_DIR``); tests that need
them skip, saying so, when it is absent: the weights are licensed for research only and are
never committed here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from matcher.faces import FacePipeline
from matcher.faces import synthetic as syn

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("MATCHER_SHARED_DIR", REPO_ROOT / ".." / "shared")).resolve()


@pytest.fixture(scope="session")
def encode() -> Callable[..., bytes]:
    """Encode a BGR array as PNG (default) or JPEG bytes, as a client would upload it."""

    def run(image: np.ndarray, ext: str = ".png") -> bytes:
        ok, buffer = cv2.imencode(ext, image)
        assert ok
        return buffer.tobytes()

    return run


@pytest.fixture(scope="session")
def synthetic_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """det.onnx, rec.onnx (fp32) and rec_int8.onnx (the same, dynamically quantised)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = tmp_path_factory.mktemp("synthetic_models")
    rec = syn.write_recognizer(folder / "rec.onnx")
    rec_int8 = folder / "rec_int8.onnx"
    quantize_dynamic(str(rec), str(rec_int8), weight_type=QuantType.QUInt8)
    return {"det": syn.write_detector(folder / "det.onnx"), "rec": rec, "rec_int8": rec_int8}


@pytest.fixture(scope="session")
def pipeline(synthetic_models: dict[str, Path]) -> FacePipeline:
    return FacePipeline(synthetic_models["det"], synthetic_models["rec"])


@pytest.fixture
def canvas() -> Callable[..., np.ndarray]:
    """A mid-grey BGR image (no face for the synthetic detector)."""

    def make(width: int = 640, height: int = 640, value: int = 128) -> np.ndarray:
        return np.full((height, width, 3), value, dtype=np.uint8)

    return make


def _real_file(*parts: str) -> Path:
    path = shared_dir().joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"real test data {path} is absent (set MATCHER_SHARED_DIR to the shared folder)")
    return path


@pytest.fixture(scope="session")
def real_pipeline() -> FacePipeline:
    return FacePipeline(
        _real_file("models", "scrfd_500m", "det_500m.onnx"),
        _real_file("models", "w600k_mbf_int8", "mobilefacenet_int8.onnx"),
    )


@pytest.fixture(scope="session")
def reference_photo() -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return _real_file("reference", "images", name).read_bytes()

    return read
