"""Plate reader latency, and its overhead over calling fast-alpr directly.

For a photo (detector + OCR) and a plate crop (OCR only) it times, per call:

- ``ours``: ``PlateReader.read_image`` / ``read_crop`` on the encoded bytes (safe decode, fast-alpr,
  confidence alignment);
- ``bare``: the same reader's fast-alpr ``ALPR.predict`` / ``ocr.predict`` on the already decoded
  array, i.e. what fast-alpr costs with the same sessions, providers and threads.

The difference is our overhead, mostly PNG/JPEG decoding. Uses the real models and reference
images in ../shared (or $MATCHER_SHARED_DIR) when present, else the synthetic ones. Rounds
alternate ours/bare and report medians, so drift hits both equally.

    python benchmarks/plate_reader_bench.py [--quick] [--threads 1] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matcher.faces.image import decode_image
from matcher.plates import reader_synthetic as syn
from matcher.plates.reader import PlateReader


def _shared() -> Path:
    return Path(os.environ.get("MATCHER_SHARED_DIR", Path(__file__).resolve().parents[1] / ".." / "shared"))


def _setup(threads: int, scratch: Path) -> tuple[str, PlateReader, bytes, bytes]:
    """The reader and the (photo, crop) bytes: real when the shared folder has them."""
    shared = _shared()
    detector = shared / "models" / "yolov8n_plate_int8" / "license_plate_detector_int8.onnx"
    ocr = shared / "models" / "cct_xs_v1_global" / "cct_xs_v1_global.onnx"
    config = shared / "models" / "cct_xs_v1_global" / "cct_xs_v1_global_plate_config.yaml"
    images = shared / "reference" / "images"
    photo, crop = images / "fast_alpr_test_image.png", images / "fpo_test_plate_1.png"
    if all(p.is_file() for p in (detector, ocr, config, photo, crop)):
        reader = PlateReader(detector, ocr, config, intra_op_threads=threads)
        return "real", reader, photo.read_bytes(), crop.read_bytes()
    reader = PlateReader(
        syn.write_yolov8_detector(scratch / "det.onnx"),
        syn.write_ocr_model(scratch / "ocr.onnx"),
        syn.write_ocr_config(scratch / "ocr.yaml"),
        intra_op_threads=threads,
    )
    image, _ = syn.scene((640, 480), [("5AU5341", (10, 10))])
    return "synthetic", reader, _png(image), _png(syn.plate_image("AD799KB", 151, 54))


def _png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def _median_ms(calls: dict[str, Callable[[], object]], rounds: int, per_round: int) -> dict[str, float]:
    """Median per-call milliseconds of each callable, rounds interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(per_round):
                call()
            samples[name].append((time.perf_counter() - start) * 1000 / per_round)
    return {name: round(statistics.median(values), 3) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, for a smoke run")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per session")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    rounds, per_round = (3, 5) if args.quick else (15, 20)
    with tempfile.TemporaryDirectory() as scratch:
        models, reader, photo, crop = _setup(args.threads, Path(scratch))
        alpr: Any = reader._alpr  # the very sessions the reader uses, for a like-for-like baseline
        photo_array, crop_array = decode_image(photo), decode_image(crop, reader.crop_limits)
        results = {
            "models": models,
            "threads": args.threads,
            "photo_ms": _median_ms(
                {"ours": lambda: reader.read_image(photo), "bare": lambda: alpr.predict(photo_array)},
                rounds,
                per_round,
            ),
            "crop_ms": _median_ms(
                {"ours": lambda: reader.read_crop(crop), "bare": lambda: alpr.ocr.predict(crop_array)},
                rounds,
                per_round,
            ),
        }
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
