"""A policy clock read from a file: lets the crash tests drive a server subprocess's time.

Test-only: the service never reads a clock file; ``tests/serve_for_tests.py`` passes this clock
to the service it starts. A watcher thread notices changes so that waiting workers wake.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path


class FileClock:
    """Reads the current instant (ISO 8601) from a file."""

    def __init__(self, path: Path, poll_seconds: float = 0.05) -> None:
        self._path = path
        self._callbacks: list[Callable[[], None]] = []
        self._last = self._read()
        watcher = threading.Thread(target=self._watch, args=(poll_seconds,), daemon=True)
        watcher.start()

    def _read(self) -> datetime:
        instant = datetime.fromisoformat(self._path.read_text().strip())
        if instant.tzinfo is None:
            raise ValueError(f"{self._path}: the instant needs a timezone")
        return instant.astimezone(UTC)

    def now(self) -> datetime:
        return self._read()

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def _watch(self, poll_seconds: float) -> None:
        stop = threading.Event()
        while not stop.wait(poll_seconds):
            try:
                current = self._read()
            except (OSError, ValueError):
                continue
            if current != self._last:
                self._last = current
                for callback in list(self._callbacks):
                    callback()
