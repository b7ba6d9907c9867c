"""A per-principal bound on reads refused as too uncertain: a gateway probing the hotlist stops.

Issue 17: ten all-uncertain reads once recovered a whole hotlist. They are refused now
(``READ_TOO_UNCERTAIN``), but a gateway that keeps sending them is either broken or probing for
the bound's edge, and the designee must hear of it at once (P16). A principal whose refusals reach
``limit`` within ``window`` is *suspended*: its plate checks are refused with
``PLATE_CHECKS_SUSPENDED`` (FAILED_PRECONDITION, rule P16) until the window after the last such
refusal has passed, and one notice goes to the designee and the auditors. It lifts by itself, so a
camera with a dirty lens cannot stop a gateway for longer than that (each refusal is also counted
in ``matcher_rpc_calls_total`` by reason, and audited).

The count lives in this process's memory: a restart forgets it, which costs a prober one window.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from lifecycle.access import Notice
from lifecycle.clock import Clock
from lifecycle.errors import Kind, PolicyError

SUSPENDED = "PLATE_CHECKS_SUSPENDED"


class UncertainReadGuard:
    """Counts each principal's ``READ_TOO_UNCERTAIN`` refusals in a sliding window."""

    def __init__(self, clock: Clock, limit: int, window: timedelta, notify: Callable[[Notice], None]) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._notify = notify
        self._lock = threading.Lock()
        self._refusals: dict[str, deque[datetime]] = {}

    def _recent(self, principal_id: str, now: datetime) -> deque[datetime]:
        times = self._refusals.get(principal_id)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._refusals[principal_id]
        return times

    def require_not_suspended(self, principal_id: str) -> None:
        """Raises ``PLATE_CHECKS_SUSPENDED`` while the principal is over the bound."""
        now = self._clock.now()
        with self._lock:
            times = self._recent(principal_id, now)
            if len(times) < self._limit:
                return
            until = times[-1] + self._window
        raise PolicyError(
            Kind.FAILED_PRECONDITION,
            SUSPENDED,
            f"{self._limit} plate reads from this account were refused as too uncertain within"
            f" {self._window.total_seconds() / 60:g} minutes; its plate checks are suspended until"
            f" {until.isoformat()} and the designee has been told (P16): check the camera",
            rule="P16",
        )

    def refused(self, principal_id: str) -> None:
        """Counts one refusal; the one that reaches the bound raises the notice."""
        now = self._clock.now()
        with self._lock:
            times = self._recent(principal_id, now)
            times.append(now)
            self._refusals[principal_id] = times
            reached = len(times) == self._limit
        if reached:
            self._notify(
                Notice(
                    "probing",
                    principal_id,
                    "plates.check",
                    SUSPENDED,
                    f"{self._limit} plate reads refused as too uncertain within"
                    f" {self._window.total_seconds() / 60:g} minutes: plate checks suspended"
                    " (a faulty camera, or someone probing the hotlist)",
                    now,
                )
            )
