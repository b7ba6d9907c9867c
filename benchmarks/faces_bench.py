"""Face pipeline throughput, and its overhead over a bare onnxruntime session.

For 1, 4 and 16 faces per image it measures, in one run:

- embedding stage: ``FacePipeline.embed_crops`` (blob, inference, L2 normalisation) against a
  bare ``onnxruntime.InferenceSession`` of the same recogniser file, same thread count, fed the
  same aligned crops already turned into input tensors. Both call the model the same way (one
  batch, or one face per call for dynamically quantised models), so the difference is purely
  our overhead; target < 10 %. Two bare figures: ``bare_run`` gets the input tensors ready-made
  (strictest), ``bare_with_preprocessing`` builds them from the crops as we must. For a
  one-face-per-call model the bare batched figure is shown too ("unsafe": its embeddings depend
  on the batch), as the price of batch-independent embeddings.
- detection: decode + SCRFD on the whole image, per image (reported separately).
- end to end: ``embed_image(purpose="search")``, faces per second.

Uses the real models in ../shared (or $MATCHER_SHARED_DIR) when present, else the synthetic
ones. Rounds alternate ours/bare and report medians, so drift hits both equally.

    python benchmarks/faces_bench.py [--quick] [--threads 1] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matcher.faces import FacePipeline  # sets ORT_DISABLE_TELEMETRY before onnxruntime loads
from matcher.faces import synthetic as syn
from matcher.faces.image import decode_image
from matcher.faces.pipeline import session_options

FACE_COUNTS = (1, 4, 16)
REFERENCE_PHOTOS = (
    "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "biden2.jpg", "kit_harington1.jpeg",
    "kit_harington2.jpeg", "rose_leslie1.jpg", "rose_leslie2.jpg", "alex_lacamoire1.jpg",
    "alex_lacamoire2.jpg",
)  # fmt: skip


def shared_dir() -> Path:
    default = Path(__file__).resolve().parents[1] / ".." / "shared"
    return Path(os.environ.get("MATCHER_SHARED_DIR", default)).resolve()


def real_models() -> tuple[Path, Path] | None:
    models = shared_dir() / "models"
    det = models / "scrfd_500m" / "det_500m.onnx"
    rec = models / "w600k_mbf_int8" / "mobilefacenet_int8.onnx"
    return (det, rec) if det.is_file() and rec.is_file() else None


def grid_image(tiles: list[np.ndarray], count: int) -> np.ndarray:
    """``count`` tiles (cycled) in a square grid on a 640x640 canvas."""
    side = int(np.ceil(np.sqrt(count)))
    cell = 640 // side
    canvas = np.full((640, 640, 3), 128, np.uint8)
    for index in range(count):
        row, col = divmod(index, side)
        canvas[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell] = cv2.resize(
            tiles[index % len(tiles)], (cell, cell)
        )
    return canvas


def real_tiles(pipeline: FacePipeline) -> list[np.ndarray]:
    """Square head-and-shoulders cut-outs of the reference photos, one face each."""
    tiles = []
    for name in REFERENCE_PHOTOS:
        image = decode_image((shared_dir() / "reference" / "images" / name).read_bytes())
        x1, y1, x2, y2 = pipeline.detect(image)[0].box
        half = 0.9 * max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        top, left = int(max(cy - half, 0)), int(max(cx - half, 0))
        tiles.append(image[top : int(cy + half), left : int(cx + half)])
    return tiles


def synthetic_image(count: int) -> np.ndarray:
    """``count`` synthetic faces centred on the detector's 32-pixel grid."""
    side = int(np.ceil(np.sqrt(count)))
    step = 640 // side
    offset = step // 2 // 32 * 32  # the synthetic detector fires on its 32-pixel grid only
    canvas = np.full((640, 640, 3), 128, np.uint8)
    for index in range(count):
        row, col = divmod(index, side)
        centre = (col * step + offset, row * step + offset)
        syn.paint(canvas, centre, syn.face_texture(index))
    return canvas


def detect_bytes(pipeline: FacePipeline, data: bytes) -> object:
    """Decode + detect: the detection stage as a request sees it."""
    return pipeline.detect(decode_image(data))


def median_seconds(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def alternating(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each run, the runs interleaved round by round."""
    for run in runs.values():
        run()  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--threads", type=int, default=1, help="intra_op_num_threads for both sides")
    parser.add_argument(
        "--synthetic", action="store_true", help="use the synthetic models even if real ones exist"
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    rounds = 7 if args.quick else 41

    found = None if args.synthetic else real_models()
    scratch = tempfile.TemporaryDirectory()
    if found is None:
        det, rec = (
            syn.write_detector(Path(scratch.name) / "det.onnx"),
            syn.write_recognizer(Path(scratch.name) / "rec.onnx"),
        )
    else:
        det, rec = found
    pipeline = FacePipeline(det, rec, intra_op_threads=args.threads)
    tiles = real_tiles(pipeline) if found is not None else []

    import onnxruntime as ort  # here, after matcher.faces: see the import of FacePipeline

    bare = ort.InferenceSession(str(rec), session_options(args.threads), providers=["CPUExecutionProvider"])
    input_name = bare.get_inputs()[0].name
    recognizer = pipeline._recognizer  # its input_mean/std: the same preprocessing as ours

    def tensor(crops: list[np.ndarray]) -> np.ndarray:
        scale, size, mean = 1.0 / recognizer.input_std, recognizer.input_size, (recognizer.input_mean,) * 3
        return np.ascontiguousarray(cv2.dnn.blobFromImages(crops, scale, size, mean, swapRB=True), np.float32)

    def bare_run(tensors: list[np.ndarray]) -> np.ndarray:
        """Run prepared input tensors, stack, L2-normalise: the least work that gives embeddings."""
        out = np.concatenate([bare.run(None, {input_name: t})[0] for t in tensors])
        return np.asarray(out / np.linalg.norm(out, axis=1, keepdims=True))

    def bare_with_preprocessing(groups: list[list[np.ndarray]]) -> np.ndarray:
        return bare_run([tensor(group) for group in groups])

    results = []
    for count in FACE_COUNTS:
        image = grid_image(tiles, count) if found is not None else synthetic_image(count)
        data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
        decoded = decode_image(data)
        detected = [c for c in pipeline.detect(decoded) if c.rejection is None]
        crops = [pipeline.align(decoded, c.landmarks) for c in detected]
        crops = [crops[i % len(crops)] for i in range(count)]  # exactly `count` faces for the stage
        # Call the model the way the pipeline does: one batch, or one face per call.
        groups = [crops] if pipeline.recognizer.batched else [[crop] for crop in crops]
        runs: dict[str, Callable[[], object]] = {
            "ours": partial(pipeline.embed_crops, crops),
            "bare_run": partial(bare_run, [tensor(group) for group in groups]),
            "bare_with_preprocessing": partial(bare_with_preprocessing, groups),
        }
        if not pipeline.recognizer.batched:
            runs["bare_batched_unsafe"] = partial(bare_run, [tensor(crops)])
        timing = alternating(runs, rounds)
        difference = np.abs(pipeline.embed_crops(crops) - bare_with_preprocessing(groups)).max()
        embed: dict[str, Any] = {
            name + "_faces_per_s": round(count / seconds, 1) for name, seconds in timing.items()
        }
        embed["overhead_pct_vs_bare_run"] = round(100 * (timing["ours"] / timing["bare_run"] - 1), 2)
        embed["overhead_pct_vs_bare_with_preprocessing"] = round(
            100 * (timing["ours"] / timing["bare_with_preprocessing"] - 1), 2
        )
        embed["max_abs_diff_vs_bare"] = float(difference)
        row: dict[str, Any] = {
            "faces_per_image": count,
            "faces_detected": len(detected),
            "embed": embed,
            "detect_ms_per_image": round(
                1000 * median_seconds(partial(detect_bytes, pipeline, data), rounds), 2
            ),
            "end_to_end_faces_per_s": round(
                len(detected) / median_seconds(partial(pipeline.embed_image, data, purpose="search"), rounds),
                1,
            ),
        }
        results.append(row)
        print(json.dumps(row), flush=True)

    report = {
        "models": "real" if found is not None else "synthetic",
        "detector": str(det),
        "recognizer": str(rec),
        "model_id": pipeline.model_id,
        "recognizer_batched": pipeline.recognizer.batched,
        "threads": args.threads,
        "rounds": rounds,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "cpu": platform.processor()},
        "versions": {
            name: metadata.version(name)
            for name in ("insightface", "onnxruntime", "onnx", "opencv-python-headless", "numpy")
        },
        "results": results,
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    scratch.cleanup()


if __name__ == "__main__":
    main()
