"""One clock for every policy decision (DESIGN decision 7).

Policy instants (a hold's end, a purge's due time) are compared against an injectable clock in
UTC, so tests move time forward instead of sleeping, and a subprocess under test can be driven
through a file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Tells the current instant, timezone-aware in UTC."""

    def now(self) -> datetime: ...

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Calls ``callback`` whenever time jumps (manual clocks); real clocks never call it."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Real time never jumps on request: waiting with a timeout is enough."""


class ManualClock:
    """A clock that moves only when told to, and wakes whoever waits on time when it does."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware instant")
        with self._lock:
            self._now = instant.astimezone(UTC)
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def advance(self, delta: timedelta) -> None:
        self.set(self.now() + delta)

    def subscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)


class FileClock:
    """Reads the current instant (ISO 8601) from a file: lets tests drive a server subprocess.

    Only selected by explicit configuration (``MATCHER_CLOCK_FILE``); the server logs a warning at
    start when it is in use. A watcher thread notices changes so that waiting workers wake.
    """

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
