"""The camera gateway's cost per core, and the time from a frame to the operator's alert (issue 15).

1. Analysis throughput, one onnxruntime thread (one core): 720p frames with 1 and with 4 real
   faces (the reference photos, composited on a street), through the gateway's face pipeline
   (SCRFD 500m + the INT8 w600k MobileFaceNet), and the plate reader on the street photo.
2. Frame to alert: a video of a person passing a camera again and again, replayed live (at its own
   pace, as a camera would) through ``matcher gateway``'s code into a real server over loopback,
   with the operator subscribed to alerts. Latency is the time from the capture of the frame whose
   face was sent (the best of the first ``settle`` samples of the passage) to the operator's
   receipt of the alert; the wait for those samples (``settle`` / fps) is part of the design and
   is reported separately.

Needs the real weights and photos in ../shared (MATCHER_SHARED_DIR); says so and stops otherwise.

    python -m benchmarks.gateway_bench [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks import machine
from lifecycle.clock import SystemClock
from matcher.app import build_app
from matcher.client import MatcherClient
from matcher.config import Settings
from matcher.faces import FacePipeline
from matcher.gateway.camera_gateway import Gateway
from matcher.gateway.video import Source
from matcher.model_loading import load_pipeline
from matcher.plates.reader import PlateReader
from matcher.server import start

SHARED = Path(os.environ.get("MATCHER_SHARED_DIR", Path(__file__).resolve().parents[1] / ".." / "shared"))
MODELS, IMAGES = SHARED / "models", SHARED / "reference" / "images"
DETECTOR = MODELS / "scrfd_500m" / "det_500m.onnx"
RECOGNIZER = MODELS / "w600k_mbf_int8" / "mobilefacenet_int8.onnx"
PEOPLE = ("obama.jpg", "biden.jpg", "kit_harington1.jpeg", "rose_leslie1.jpg")
HD = (1280, 720)


def _patch(pipeline: FacePipeline, photo: Path, face_px: int) -> np.ndarray:
    image = cv2.imread(str(photo))
    assert image is not None, "OpenCV could not read the image"
    [face] = pipeline.embed_frame(image)
    x1, y1, x2, y2 = face.box
    margin, scale = (x2 - x1) * 0.6, face_px / (x2 - x1)
    crop = image[
        int(max(0, y1 - margin)) : int(min(image.shape[0], y2 + margin)),
        int(max(0, x1 - margin)) : int(min(image.shape[1], x2 + margin)),
    ]
    return cv2.resize(crop, (int(crop.shape[1] * scale), int(crop.shape[0] * scale)))


def _scene(size: tuple[int, int], patches: list[np.ndarray], shift: int = 0) -> np.ndarray:
    frame = np.full((size[1], size[0], 3), 90, np.uint8)
    for i, patch in enumerate(patches):
        h, w = patch.shape[:2]
        x = min(size[0] - w, 40 + i * (size[0] // max(1, len(patches))) + shift)
        frame[60 : 60 + h, x : x + w] = patch[: size[1] - 60]
    return frame


def throughput(pipeline: FacePipeline, reader: PlateReader | None, frames: int) -> dict[str, Any]:
    patches = [_patch(pipeline, IMAGES / name, 110) for name in PEOPLE]
    out: dict[str, Any] = {}
    for faces in (1, 4):
        scenes = [_scene(HD, patches[:faces], shift=3 * i) for i in range(frames)]
        found, started = 0, time.perf_counter()
        for scene in scenes:
            found += len(pipeline.embed_frame(scene))
        seconds = time.perf_counter() - started
        out[f"faces_{faces}"] = {
            "frames": frames,
            "faces_found": found,
            "frames_per_s": round(frames / seconds, 2),
            "faces_per_s": round(found / seconds, 2),
            "ms_per_frame": round(1000 * seconds / frames, 1),
        }
    if reader is not None:
        street = cv2.imread(str(IMAGES / "fast_alpr_test_image.png"))
        assert street is not None, "OpenCV could not read the image"
        scale = HD[1] / street.shape[0]  # the street photo filling a 720p frame's height
        street = cv2.resize(street, (int(street.shape[1] * scale), HD[1]))
        frame = np.zeros((HD[1], HD[0], 3), np.uint8)
        frame[:, : street.shape[1]] = street
        reads, started = 0, time.perf_counter()
        for _ in range(frames):
            reads += len(reader.read_frame(frame))
        seconds = time.perf_counter() - started
        out["plates"] = {
            "frames": frames,
            "plates_read": reads,
            "frames_per_s": round(frames / seconds, 2),
            "ms_per_frame": round(1000 * seconds / frames, 1),
        }
    return out


def latency(pipeline: FacePipeline, passages: int, fps: float) -> dict[str, Any]:
    patch = _patch(pipeline, IMAGES / "obama.jpg", 120)
    size, video_fps, walk, gap = (640, 480), 10, 1.0, 1.5
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "walks.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), video_fps, size)
        empty = _scene(size, [])
        for _ in range(passages):
            for _ in range(int(gap * video_fps)):
                writer.write(empty)
            steps = int(walk * video_fps)
            for i in range(steps):
                writer.write(_scene(size, [patch], shift=i * (size[0] - patch.shape[1] - 40) // steps))
        writer.release()
        settings = Settings(
            data_dir=Path(tmp) / "data",
            listen="127.0.0.1:0",
            face_detector=DETECTOR,
            face_recognizer=RECOGNIZER,
        )
        app = build_app(settings, SystemClock())
        service = start(app)
        target = f"127.0.0.1:{service.port}"
        tokens = settings.data_dir / "tokens"

        def client(name: str) -> MatcherClient:
            return MatcherClient.connect(target, token_file=tokens / f"{name}.token", timeout=30)

        admin, registry, operator, camera = (
            client(n) for n in ("local-admin", "local-registry", "local-operator", "local-camera")
        )
        admin.create_camera("c1", description="bench", reason="benchmark")
        admin.create_zone("park", ["c1"], description="bench", reason="benchmark")
        admin.set_operator_zones("local-operator", ["park"], reason="benchmark")
        now = datetime.now(UTC)
        registry.create_order(
            "o-1",
            label="RI-1",
            legal_reference="benchmark",
            zones=["park"],
            start=now - timedelta(hours=1),
            end=now + timedelta(days=1),
            reason="benchmark",
        )
        registry.enroll_order_face("o-1", photo=(IMAGES / "obama2.jpg").read_bytes(), reason="benchmark")
        received: list[float] = []
        stream = operator.alert_stream(timeout=600)

        def watch() -> None:
            for alert in stream:
                seen = datetime.now(UTC)
                received.append((seen - alert.capture_time.ToDatetime(tzinfo=UTC)).total_seconds())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        edge = Gateway(
            camera,
            [Source("c1", str(video), live=True)],
            pipeline=pipeline,
            plate_reader=None,
            fps=fps,
            track_gap=1.0,
        )
        stop = threading.Event()
        started = time.perf_counter()
        edge.start(stop)
        deadline = time.monotonic() + passages * (walk + gap) + 30
        while len(received) < passages and time.monotonic() < deadline:
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        stop.set()
        edge.finish(timeout=10)
        stream.cancel()
        lines = edge.lines()
        for c in (admin, registry, operator, camera):
            c.close()
        service.stop(grace=None)
        app.close()
    ordered = sorted(received)
    return {
        "passages": passages,
        "alerts": len(received),
        "fps_sampled": fps,
        "settle_wait_s": round(edge.settle / fps, 2),
        "frame_to_alert_p50_s": round(statistics.median(ordered), 3) if ordered else None,
        "frame_to_alert_p99_s": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3)
        if ordered
        else None,
        "frame_to_alert_max_s": round(ordered[-1], 3) if ordered else None,
        "dropped_frames": edge.cameras[0].frames.dropped,
        "run_s": round(seconds, 1),
        "gateway": lines,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    for needed in (DETECTOR, RECOGNIZER, *(IMAGES / p for p in PEOPLE)):
        if not needed.is_file():
            print(f"skipped: {needed} is absent (real weights and photos live in ../shared)", file=sys.stderr)
            return 0
    pipeline = load_pipeline(Settings(face_detector=DETECTOR, face_recognizer=RECOGNIZER))
    assert isinstance(pipeline, FacePipeline), pipeline
    ocr = MODELS / "cct_xs_v1_global" / "cct_xs_v1_global.onnx"
    plate_detector = MODELS / "yolov8n_plate_int8" / "license_plate_detector_int8.onnx"
    reader = (
        PlateReader(plate_detector, ocr, ocr.with_name("cct_xs_v1_global_plate_config.yaml"))
        if ocr.is_file() and plate_detector.is_file()
        else None
    )
    result = {
        "machine": machine.describe(),
        "throughput_720p_one_core": throughput(pipeline, reader, 10 if args.quick else 30),
        "frame_to_alert": latency(pipeline, 5 if args.quick else 20, fps=5.0),
        "command": f"python -m benchmarks.gateway_bench{' --quick' if args.quick else ''}",
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
