"""The camera gateway end to end: a video made here from real photos, the real models, a real
server, and the alerts the operator gets.

Skips without ../shared (MATCHER_SHARED_DIR): real photos and weights are never in the repo.
Kept few and short (a few seconds of 640x480 video each) for a shared 2-core machine; SQLite only.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from matcher.config import Settings
from matcher.faces import FacePipeline
from matcher.gateway.camera_gateway import Gateway
from matcher.gateway.gateway_metrics import serve_metrics
from matcher.gateway.video import Source, SourceError
from matcher.model_loading import load_pipeline
from matcher.plates.reader import PlateReader
from tests.conftest import START, Harness, running_server, wait_until
from tests.serverproc import free_port

SHARED = Path(os.environ.get("MATCHER_SHARED_DIR", Path(__file__).resolve().parents[1] / ".." / "shared"))
MODELS, IMAGES = SHARED / "models", SHARED / "reference" / "images"
DETECTOR = MODELS / "scrfd_500m" / "det_500m.onnx"
RECOGNIZER = MODELS / "w600k_mbf_int8" / "mobilefacenet_int8.onnx"
FPS = 10
SIZE = (640, 480)


def _real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is absent: real weights and photos live in ../shared, never in the repo")
    return path


def write_video(path: Path, frames: list[np.ndarray], fps: int = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened()
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def face_patch(photo: Path, pipeline: FacePipeline, face_px: int = 120) -> np.ndarray:
    """The photo's face with some margin, scaled so the face is about ``face_px`` wide."""
    image = cv2.imread(str(photo))
    assert image is not None, "OpenCV could not read the image"
    [face] = pipeline.embed_frame(image)
    x1, y1, x2, y2 = face.box
    scale = face_px / (x2 - x1)
    margin = (x2 - x1) * 0.6
    top, bottom = int(max(0, y1 - margin)), int(min(image.shape[0], y2 + margin))
    left, right = int(max(0, x1 - margin)), int(min(image.shape[1], x2 + margin))
    crop = image[top:bottom, left:right]
    return cv2.resize(crop, (int(crop.shape[1] * scale), int(crop.shape[0] * scale)))


def street(patch: np.ndarray | None, step: int, steps: int) -> np.ndarray:
    """A grey street; the person (``patch``) walking from left to right across it."""
    frame = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    cv2.rectangle(frame, (0, 380), (SIZE[0], SIZE[1]), (60, 60, 60), -1)
    if patch is not None:
        height, width = patch.shape[:2]
        x = int((SIZE[0] - width) * step / max(1, steps - 1))
        y = 80
        frame[y : y + height, x : x + width] = patch[: SIZE[1] - y, : SIZE[0] - x]
    return frame


def walks(patch: np.ndarray, appearances: int, walk_s: float = 1.5, gap_s: float = 3.0) -> list[np.ndarray]:
    """``appearances`` passages of the person, separated by an empty street."""
    frames: list[np.ndarray] = []
    steps = int(walk_s * FPS)
    for _ in range(appearances):
        frames += [street(None, 0, 1)] * int(gap_s * FPS / 2)
        frames += [street(patch, i, steps) for i in range(steps)]
        frames += [street(None, 0, 1)] * int(gap_s * FPS / 2)
    return frames


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    loaded = load_pipeline(Settings(face_detector=_real(DETECTOR), face_recognizer=_real(RECOGNIZER)))
    assert isinstance(loaded, FacePipeline), loaded
    return loaded


@pytest.fixture(scope="module")
def obama(pipeline: FacePipeline) -> np.ndarray:
    return face_patch(_real(IMAGES / "obama.jpg"), pipeline)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    with running_server(
        tmp_path / "data", "sqlite", face_detector=_real(DETECTOR), face_recognizer=_real(RECOGNIZER)
    ) as harness:
        admin = harness.as_("local-admin")
        for camera in ("c1", "c2"):
            admin.create_camera(camera, description=camera, reason="installed")
        admin.create_zone("park", ["c1"], description="Forest Park", reason="r")
        admin.set_operator_zones("local-operator", ["park"], reason="park desk")
        registry = harness.as_("local-registry")
        registry.create_order(
            "o-1",
            label="RI-1",
            legal_reference="Circuit Court order 26-PO-7",
            zones=["park"],
            start=START - timedelta(hours=1),
            end=START + timedelta(days=1),
            reason="protection order",
        )
        photo = _real(IMAGES / "obama2.jpg").read_bytes()  # another photo than the video's
        registry.enroll_order_face("o-1", photo=photo, reason="photo from the order file")
        yield harness


def alerts(h: Harness) -> list[str]:
    """The cameras of the alerts the park's operator has (every alert of the zone)."""
    pending = h.app.individuals.pending_alerts("local-operator", frozenset({"park"}), None)
    return [alert.camera_id for alert in pending]


def gateway(h: Harness, sources: list[Source], pipeline: FacePipeline | None, **options: object) -> Gateway:
    return Gateway(
        h.as_("local-camera"),
        sources,
        pipeline=pipeline,
        plate_reader=None,
        clock=h.clock.now,
        **options,  # type: ignore[arg-type]
    )


def test_P5_a_face_walking_past_raises_one_alert_per_appearance_and_none_outside_the_zones(
    h: Harness,
    pipeline: FacePipeline,
    obama: np.ndarray,
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "walk.avi", walks(obama, appearances=2))
    # One process, two cameras: c1 is in the order's zone, c2 is not.
    edge = gateway(h, [Source("c1", str(video), live=False), Source("c2", str(video), live=False)], pipeline)
    edge.start(threading.Event())
    edge.finish(timeout=60)
    assert alerts(h) == ["c1", "c1"], edge.lines()
    c1, c2 = edge.cameras
    assert c1.stats.appearances == 2 and c2.stats.appearances == 2, edge.lines()
    assert c1.stats.faces >= 2 * 5  # many frames of each passage, one sighting each
    assert edge.sender.counts.confirmed == 4 and edge.sender.counts.duplicates == 0
    records = [r for r in h.audit("sightings.report") if r.actor == "local-camera"]
    assert len(records) == 4 and sum(r.count for r in records) == 2


def test_a_live_stream_that_drops_and_comes_back_is_reopened(
    h: Harness,
    pipeline: FacePipeline,
    obama: np.ndarray,
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "cam.avi", walks(obama, appearances=1, gap_s=1.0))
    stop = threading.Event()
    edge = gateway(h, [Source("c1", str(video), live=True)], pipeline, max_backoff=1.0)
    edge.start(stop)
    try:
        camera = edge.cameras[0]
        assert wait_until(lambda: alerts(h) == ["c1"], timeout=30), edge.lines()
        away = video.rename(tmp_path / "away.avi")  # the camera goes away after this passage
        assert wait_until(lambda: "does not exist" in camera.stats.last_error, timeout=30), edge.lines()
        shutil.move(away, video)  # and comes back
        assert wait_until(lambda: len(alerts(h)) == 2, timeout=30), edge.lines()
        assert camera.stats.reconnects >= 1
    finally:
        stop.set()
        edge.finish(timeout=10)


def test_a_source_that_cannot_be_opened_is_a_clear_error(
    h: Harness, pipeline: FacePipeline, tmp_path: Path
) -> None:
    edge = gateway(h, [Source("c1", str(tmp_path / "missing.avi"), live=False)], pipeline)
    with pytest.raises(SourceError, match=r"camera c1: the video file .* does not exist"):
        edge.start(threading.Event())
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"not a video" * 100)
    with pytest.raises(SourceError, match="cannot be opened"):
        gateway(h, [Source("c1", str(garbage), live=False)], pipeline).start(threading.Event())


def test_the_street_photo_in_a_video_gives_a_hit_for_its_plate_once(h: Harness, tmp_path: Path) -> None:
    ocr = _real(MODELS / "cct_xs_v1_global" / "cct_xs_v1_global.onnx")
    reader = PlateReader(
        _real(MODELS / "yolov8n_plate_int8" / "license_plate_detector_int8.onnx"),
        ocr,
        ocr.with_name("cct_xs_v1_global_plate_config.yaml"),
    )
    h.client.create_case("c-1", "Stolen vehicles", reason="opened")
    h.client.add_plate("c-1", "5AU5341", reason="reported stolen")
    photo = cv2.imread(str(_real(IMAGES / "fast_alpr_test_image.png")))
    assert photo is not None, "OpenCV could not read the image"
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    frame[: photo.shape[0], : photo.shape[1]] = photo
    video = write_video(tmp_path / "street.avi", [frame] * 10)  # one second of a parked car
    edge = Gateway(
        h.as_("local-camera"), [Source("c2", str(video), live=False)], pipeline=None, plate_reader=reader
    )
    metrics = serve_metrics(edge, f"127.0.0.1:{free_port()}")
    edge.start(threading.Event())
    edge.finish(timeout=60)
    counts = edge.checks.counts
    assert (counts.checked, counts.hits) == (1, 1), edge.lines()  # the same plate, checked once
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics.server_port}/metrics", timeout=10) as page:
        exposed = page.read().decode()
    metrics.shutdown()
    assert 'matcher_gateway_plates_total{camera="c2"} 1.0' in exposed, exposed
    assert "matcher_gateway_plate_hits_total 1.0" in exposed and "5AU" not in exposed
    [record] = h.audit("plates.check")
    assert record.actor == "local-camera" and record.count == 1 and "5AU" not in record.detail_json


def test_a_live_camera_faster_than_the_analysis_drops_its_oldest_frames_and_stays_in_real_time(
    h: Harness,
    pipeline: FacePipeline,
    obama: np.ndarray,
    tmp_path: Path,
) -> None:
    """60 frames/s sampled at 60/s: more than the face pipeline can take on this machine."""
    frames = [street(obama, i, 120) for i in range(120)]  # two seconds at 60 frames/s
    video = write_video(tmp_path / "fast.avi", frames, fps=60)
    stop = threading.Event()
    edge = gateway(h, [Source("c1", str(video), live=True)], pipeline, fps=60)
    camera = edge.cameras[0]
    started = time.monotonic()
    edge.start(stop)
    try:
        assert wait_until(lambda: camera.stats.connections >= 2 or camera.stats.last_error, timeout=30)
        elapsed = time.monotonic() - started
        stop.set()
    finally:
        stop.set()
        edge.finish(timeout=15)
    stats = camera.stats
    if stats.analysed / elapsed < 50:  # slower than the camera (as on a shared 2-core machine)
        assert camera.frames.dropped > 0, edge.lines()
    # Every frame accounted for: analysed, dropped, or still waiting when the gateway stopped.
    assert stats.analysed + camera.frames.dropped + len(camera.frames) == stats.frames, edge.lines()
    assert elapsed < 2.0 + 3.0, f"fell behind real time: {elapsed:.1f} s for 2 s of video"
    assert alerts(h) == ["c1"]  # still one passage, one alert


def test_a_service_that_restarts_while_the_gateway_runs_loses_and_duplicates_no_alert(
    tmp_path: Path,
    pipeline: FacePipeline,
    obama: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kill -9 of the service while a sighting stream is open (its alert stored, the stream not yet
    confirmed): the gateway resends what was not confirmed to the restarted service, whose
    receipts make the resend harmless. Three passages, exactly three alerts."""
    from datetime import UTC, datetime

    from matcher.client import MatcherClient
    from tests.serverproc import ServerProcess

    monkeypatch.setenv("MATCHER_FACE_DETECTOR", str(DETECTOR))
    monkeypatch.setenv("MATCHER_FACE_RECOGNIZER", str(RECOGNIZER))
    data = tmp_path / "data"
    server = ServerProcess(
        data, f"sqlite:///{data / 'matcher.db'}", tmp_path / "clock", tmp_path / "server.log"
    )
    now = datetime.now(UTC)
    server.set_clock(now)
    server.start()
    try:
        server.wait_serving()
        admin, registry, operator = (
            server.client(p) for p in ("local-admin", "local-registry", "local-operator")
        )
        admin.create_camera("c1", description="c1", reason="installed")
        admin.create_zone("park", ["c1"], description="Forest Park", reason="r")
        admin.set_operator_zones("local-operator", ["park"], reason="park desk")
        registry.create_order(
            "o-1",
            label="RI-1",
            legal_reference="Circuit Court order 26-PO-7",
            zones=["park"],
            start=now - timedelta(hours=1),
            end=now + timedelta(days=1),
            reason="protection order",
        )
        registry.enroll_order_face("o-1", photo=(IMAGES / "obama2.jpg").read_bytes(), reason="order file")

        def seen() -> int:
            return len(list(operator.subscribe_alerts(timeout=0.5)))

        video = write_video(tmp_path / "walk.avi", walks(obama, appearances=3))
        camera = MatcherClient.connect(
            f"127.0.0.1:{server.port}", token_file=data / "tokens" / "local-camera.token"
        )
        edge = Gateway(
            camera,
            [Source("c1", str(video), live=False)],
            pipeline=pipeline,
            plate_reader=None,
            max_backoff=1.0,
        )
        edge.start(threading.Event())
        assert wait_until(lambda: seen() >= 1, timeout=60), edge.lines()
        assert edge.sender.counts.confirmed == 0  # the stream that carried it is still open
        assert server.process is not None
        server.process.kill()
        server.wait_exit()
        server.start()
        server.wait_serving()
        edge.finish(timeout=90)
        operator = server.client("local-operator")
        assert seen() == 3, edge.lines()
        counts = edge.sender.counts
        assert counts.failures >= 1 and counts.duplicates >= 1 and counts.confirmed == 3, counts
        camera.close()
    finally:
        server.stop()


def test_gateway_command_reads_a_file_and_says_clearly_what_cannot_be_opened(
    h: Harness, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from tests.serverproc import REPO

    ocr = _real(MODELS / "cct_xs_v1_global" / "cct_xs_v1_global.onnx")
    h.client.create_case("c-1", "Stolen vehicles", reason="opened")
    h.client.add_plate("c-1", "5AU5341", reason="reported stolen")
    photo = cv2.imread(str(_real(IMAGES / "fast_alpr_test_image.png")))
    assert photo is not None, "OpenCV could not read the image"
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    frame[: photo.shape[0], : photo.shape[1]] = photo
    video = write_video(tmp_path / "street.avi", [frame] * 5)
    command = [
        sys.executable,
        "-m",
        "matcher.cli",
        "--target",
        h.target,
        "gateway",
        "--no-faces",
        "--plate-detector",
        str(MODELS / "yolov8n_plate_int8" / "license_plate_detector_int8.onnx"),
        "--plate-ocr-model",
        str(ocr),
        "--plate-ocr-config",
        str(ocr.with_name("cct_xs_v1_global_plate_config.yaml")),
    ]
    # P7: nothing is written, not even a cache: the gateway runs in an empty folder and home.
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(home),
        "MATCHER_TOKEN": h.token("local-camera"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, "--data-dir", str(work / "data"), *args],
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            timeout=120,
        )

    missing = run("--source", f"c2={tmp_path / 'missing.avi'}")
    assert missing.returncode == 2 and "camera c2: the video file" in missing.stderr, missing.stderr
    done = run("--source", f"c2={video}")
    assert done.returncode == 0, done.stderr
    assert "plate hits 1/1" in done.stderr and "5AU" not in done.stderr, done.stderr
    assert "Traceback" not in missing.stderr + done.stderr
    assert list(work.iterdir()) == [] and list(home.rglob("*")) == []
