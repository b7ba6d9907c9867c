"""One clock for every policy decision (DESIGN decision 7).

Policy instants (a hold's end, a purge's due time) are compared against an injectable clock in
UTC, so tests move time forward instead of sleeping. (A server subprocess under test is driven
through a file by ``tests/fileclock.py``, which production code never imports.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
