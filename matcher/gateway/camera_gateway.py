"""The camera gateway: video in, face embeddings and plate reads out, one process for many cameras.

Per camera, a reader thread samples the source into a small frame queue and an analysis thread
runs the face pipeline (the service's detector, quality gates, alignment and recogniser, on the
CPU) and the plate reader (fast-alpr) on each sampled frame. Faces become one sighting per
appearance (see ``appearances``), sent as embeddings, never as frames, so no image leaves the
camera site (P7); plates become reads with per-character confidences, each distinct plate
checked once per ``plate_gap`` seconds of a camera. One sender streams every camera's sightings;
one queue checks every camera's plates. Nothing is written to disk.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from matcher.client import MatcherClient, embedding
from matcher.faces import FacePipeline
from matcher.gateway.appearances import Appearance, Appearances
from matcher.gateway.plate_checks import Certainty, CheckQueue, PlateCheck
from matcher.gateway.sightings import SightingSender
from matcher.gateway.video import Frame, FrameQueue, Source, SourceError, open_capture, redact
from matcher.plates.reader import PlateReader
from matcher.v1 import sightings_pb2

log = logging.getLogger(__name__)

DEFAULT_REASON = "exclusion-zone monitoring"
DEFAULT_CERTAINTY = Certainty()
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class CameraStats:
    """One camera's counts, for its live line and the metrics."""

    frames: int = 0
    analysed: int = 0
    faces: int = 0
    appearances: int = 0
    plates: int = 0
    uncertain: int = 0
    connections: int = 0
    reconnects: int = 0
    last_error: str = ""
    started: float = field(default_factory=time.monotonic)


class Camera:
    """One source: its reader and analysis threads, its frame queue and its counts."""

    def __init__(self, source: Source, gateway: Gateway) -> None:
        self.source = source
        self._gateway = gateway
        self.frames = FrameQueue(gateway.queue_frames, drop_oldest=source.live)
        self.stats = CameraStats()
        self._appearances = Appearances(gap=gateway.track_gap, settle=gateway.settle)
        self._plates_seen: dict[bytes, float] = {}

    # --- reading ---------------------------------------------------------------------------

    def read(self, stop: threading.Event, first: Any = None) -> None:
        """Samples the source until it ends (a file) or ``stop``; reopens a live source."""
        capture: Any = first
        backoff = 0.0
        while not stop.is_set():
            if capture is None:
                try:
                    capture = open_capture(self.source)
                except SourceError as error:
                    self.stats.last_error = str(error)
                    backoff = min(self._gateway.max_backoff, max(0.5, backoff * 2))
                    log.warning("%s; trying again in %.1f s", error, backoff)
                    stop.wait(backoff)
                    continue
                self.stats.reconnects += 1
                log.info("camera %s: reconnected to %s", self.source.camera, redact(self.source.url))
            self.stats.connections += 1
            ended = self._sample(capture, stop)
            capture.release()
            capture = None
            if not self.source.live:
                break
            if ended and not stop.is_set():
                self.stats.last_error = "the stream ended or dropped"
                log.warning("camera %s: the stream ended or dropped; reconnecting", self.source.camera)
                backoff = min(self._gateway.max_backoff, max(0.5, backoff * 2))
                stop.wait(backoff)
        self.frames.close()

    def _sample(self, cap: Any, stop: threading.Event) -> bool:
        """Reads one connection's frames; True when the source ended or failed."""
        import cv2

        interval = 1.0 / self._gateway.fps
        opened = time.monotonic()
        next_t = 0.0
        connection = self.stats.connections
        is_file = "://" not in self.source.url
        while not stop.is_set():
            ok, image = cap.read()
            if not ok or image is None:
                return True
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if is_file else time.monotonic() - opened
            if is_file and self.source.live:  # a file replayed as a camera: at its own pace
                ahead = t - (time.monotonic() - opened)
                if ahead > 0:
                    stop.wait(ahead)
            if t + 1e-6 < next_t:
                continue
            next_t = t + interval
            self.stats.frames += 1
            self.frames.put(Frame(image, t, self._gateway.clock(), connection), stop)
        return False

    # --- analysis --------------------------------------------------------------------------

    def analyse(self, stop: threading.Event) -> None:
        """Runs the models on each sampled frame until the source ended and its queue is empty."""
        connection = 0
        while not (stop.is_set() or self.frames.finished()):
            frame = self.frames.get(0.2)
            if frame is None:
                continue
            if frame.connection != connection:  # never one appearance across a gap
                self._send(self._appearances.end())
                connection = frame.connection
            try:
                self._analyse(frame)
            except Exception as error:  # a model failure on one frame must not stop the camera
                self.stats.last_error = f"analysis failed: {type(error).__name__}"
                log.exception("camera %s: a frame could not be analysed", self.source.camera)
            self.stats.analysed += 1
        self._send(self._appearances.end())

    def _analyse(self, frame: Frame) -> None:
        gateway = self._gateway
        if gateway.pipeline is not None:
            faces = gateway.pipeline.embed_frame(frame.image)
            self.stats.faces += len(faces)
            self._send(self._appearances.update(frame.t, frame.captured_at, faces))
        if gateway.plate_reader is not None:
            for reading in gateway.plate_reader.read_frame(frame.image):
                if gateway.certainty.too_uncertain(reading.confidences):
                    self.stats.uncertain += 1
                    continue
                if self._fresh(reading.text, frame.t):
                    self.stats.plates += 1
                    gateway.checks.offer(PlateCheck(reading.text, reading.confidences, self.source.camera))
        del frame  # P7: the frame is dropped once analysed

    def _fresh(self, text: str, t: float) -> bool:
        """A plate not read on this camera in the last ``plate_gap`` seconds (video time); kept
        as a keyed digest, never as text (P7)."""
        digest = hmac.new(self._gateway.key, text.encode(), hashlib.sha256).digest()[:16]
        gap = self._gateway.plate_gap
        self._plates_seen = {d: seen for d, seen in self._plates_seen.items() if 0 <= t - seen <= gap}
        fresh = digest not in self._plates_seen
        self._plates_seen[digest] = t
        return fresh

    def _send(self, due: list[Appearance]) -> None:
        for appearance in due:
            self.stats.appearances += 1
            stamp = Timestamp()
            stamp.FromDatetime(appearance.captured_at)
            self._gateway.sender.put(
                sightings_pb2.Sighting(
                    camera=f"cameras/{self.source.camera}",
                    capture_time=stamp,
                    faces=[embedding(appearance.embedding, appearance.model)],
                    reason=self._gateway.reason,
                )
            )

    def line(self) -> str:
        stats = self.stats
        seconds = max(1e-6, time.monotonic() - stats.started)
        error = stats.last_error or "-"
        return (
            f"{self.source.camera:<12} {stats.analysed / seconds:5.1f} frames/s  "
            f"{stats.faces / seconds:5.1f} faces/s  {stats.plates / seconds:5.2f} plates/s  "
            f"dropped {self.frames.dropped}  last error: {error}"
        )


class Gateway:
    def __init__(
        self,
        client: MatcherClient,
        sources: list[Source],
        *,
        pipeline: FacePipeline | None,
        plate_reader: PlateReader | None,
        fps: float = 5.0,
        reason: str = DEFAULT_REASON,
        plate_reason: str = "vehicle watchlist check of a city camera",
        clock: Clock = wall_clock,
        queue_frames: int = 2,
        track_gap: float = 2.0,
        settle: int = 3,
        plate_gap: float = 30.0,
        certainty: Certainty = DEFAULT_CERTAINTY,
        max_backoff: float = 30.0,
    ) -> None:
        if not sources:
            raise ValueError("give at least one --source CAMERA_ID=URL_OR_FILE")
        if len({s.camera for s in sources}) != len(sources):
            raise ValueError("each camera has one source")
        if not 0 < fps <= 60:
            raise ValueError("--fps is between 0 and 60 samples per second")
        if pipeline is None and plate_reader is None:
            raise ValueError("nothing to do: neither the face pipeline nor the plate reader is loaded")
        self.pipeline = pipeline
        self.plate_reader = plate_reader
        self.fps = fps
        self.reason = reason
        self.clock = clock
        self.queue_frames = queue_frames
        self.track_gap = track_gap
        self.settle = settle
        self.plate_gap = plate_gap
        self.certainty = certainty
        self.max_backoff = max_backoff
        self.key = secrets.token_bytes(32)
        self.sender = SightingSender(client, max_backoff=max_backoff)
        self.checks = CheckQueue(client, plate_reason, max_backoff=max_backoff)
        self.cameras = [Camera(source, self) for source in sources]
        self._threads: list[threading.Thread] = []
        self._service: list[threading.Thread] = []
        self._stop_service = threading.Event()

    def start(self, stop: threading.Event) -> None:
        """Opens every source (SourceError for the first that cannot be), then starts the threads."""
        opened: list[Any] = []
        try:
            for camera in self.cameras:
                opened.append(open_capture(camera.source))
        except SourceError:
            for capture in opened:
                capture.release()
            raise
        for camera, capture in zip(self.cameras, opened, strict=True):
            for target, args in ((camera.read, (stop, capture)), (camera.analyse, (stop,))):
                thread = threading.Thread(
                    target=target, args=args, name=f"{camera.source.camera}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        for target in (self.sender.run, self.checks.run):
            thread = threading.Thread(target=target, args=(self._stop_service,), daemon=True)
            thread.start()
            self._service.append(thread)

    def sources_done(self) -> bool:
        return not any(thread.is_alive() for thread in self._threads)

    def finish(self, timeout: float = 30.0) -> None:
        """After the sources stopped: sends what is waiting (within ``timeout``), then stops."""
        for thread in self._threads:
            thread.join()
        self.checks.wait_idle(timeout)
        self.sender.wait_idle(timeout, sent_only=True)
        self._stop_service.set()  # closes the sighting stream as soon as nothing waits
        for thread in self._service:
            thread.join(timeout=timeout)

    def lines(self) -> list[str]:
        sent = self.sender.counts
        checks = self.checks.counts
        left = self.checks.waiting() if self._stop_service.is_set() else 0  # reads lost at a stop
        dropped = sent.dropped + checks.dropped + left
        return [camera.line() for camera in self.cameras] + [
            f"{'service':<12} sightings {sent.confirmed}/{sent.queued} confirmed, "
            f"plate hits {checks.hits}/{checks.checked}, dropped {dropped}, "
            f"stream failures {sent.failures}"
        ]
