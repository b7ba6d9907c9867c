"""Video sources of the camera gateway: RTSP streams and video files, read with OpenCV.

A source is sampled at the gateway's rate in the video's own time (a file's position; a live
stream's arrival time), so that a file gives the same samples however fast the machine is. A
live source (an RTSP stream, or a file replayed as one with ``live``) is read at its own pace and,
when the analysis is slower, the oldest waiting frame is dropped and counted: the gateway stays
at real time instead of falling behind. A file that is not live is read only as fast as it is
analysed (nothing is dropped). A live source that ends or fails is reopened with back-off.
Frames live in memory only, and only until analysed (P7).
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

_CREDENTIALS = re.compile(r"(?<=://)[^/@]+@")


def redact(url: str) -> str:
    """The address without its user name and password, for logs and errors."""
    return _CREDENTIALS.sub("***@", url)


class SourceError(Exception):
    """A source that cannot be opened or read."""


@dataclass(frozen=True)
class Source:
    """One camera's video: ``camera`` is the registered camera id."""

    camera: str
    url: str
    live: bool

    @classmethod
    def parse(cls, spec: str, *, replay_live: bool = False) -> Source:
        """``CAMERA_ID=URL_OR_FILE``; a URL with a scheme is live, a file only with ``replay_live``."""
        camera, sep, url = spec.partition("=")
        camera = camera.strip().removeprefix("cameras/")
        if not sep or not camera or not url.strip():
            raise ValueError(f"--source {redact(spec)!r}: write CAMERA_ID=rtsp://... or CAMERA_ID=FILE")
        url = url.strip()
        is_stream = "://" in url and not url.startswith("file://")
        return cls(camera, url, live=is_stream or replay_live)


@dataclass
class Frame:
    """One sampled frame: ``t`` is video time in seconds since the source was (re)opened;
    ``connection`` counts reopenings, so that faces are never tracked across a gap."""

    image: np.ndarray
    t: float
    captured_at: datetime
    connection: int


def open_capture(source: Source) -> Any:
    """An opened ``cv2.VideoCapture``, or SourceError saying what to check."""
    if "://" not in source.url and not Path(source.url).is_file():
        raise SourceError(f"camera {source.camera}: the video file {source.url} does not exist")
    capture = cv2.VideoCapture(source.url)
    if not capture.isOpened():
        capture.release()
        raise SourceError(
            f"camera {source.camera}: {redact(source.url)} cannot be opened "
            "(check the address, the credentials, that the camera is on, and the codec)"
        )
    return capture


class FrameQueue:
    """Frames waiting for analysis: at most ``size``; a full queue drops its oldest frame (live)
    or makes the reader wait (a file)."""

    def __init__(self, size: int, *, drop_oldest: bool) -> None:
        self._frames: deque[Frame] = deque()
        self._size = size
        self._drop_oldest = drop_oldest
        self._changed = threading.Condition()
        self.dropped = 0
        self.closed = False

    def put(self, frame: Frame, stop: threading.Event) -> None:
        with self._changed:
            while len(self._frames) >= self._size and not self._drop_oldest and not stop.is_set():
                self._changed.wait(0.1)
            if len(self._frames) >= self._size:
                self._frames.popleft()
                self.dropped += 1
            self._frames.append(frame)
            self._changed.notify_all()

    def get(self, timeout: float) -> Frame | None:
        with self._changed:
            if not self._frames:
                self._changed.wait(timeout)
            if not self._frames:
                return None
            frame = self._frames.popleft()
            self._changed.notify_all()
            return frame

    def __len__(self) -> int:
        with self._changed:
            return len(self._frames)

    def close(self) -> None:
        """No more frames will come (a file ended)."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def finished(self) -> bool:
        with self._changed:
            return self.closed and not self._frames
