"""Live delivery of alerts to the operators watching them, within this process.

Alerts are stored first (the system of record), then published here; a subscriber that was not
connected gets them from the database when it comes back (at-least-once, see
:mod:`matcher.transport.alert_service`). A slow subscriber never blocks the sighting path: its
queue is bounded and, when full, the alert waits in the database for its reconnection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

MAX_QUEUED = 1000


@dataclass(frozen=True)
class AlertView:
    id: int
    order_id: str
    person_label: str
    camera_id: str
    zones: tuple[str, ...]
    score: float
    captured_at: datetime
    created_at: datetime


class Subscription:
    def __init__(self, zones: frozenset[str]) -> None:
        self.zones = zones
        self.queue: queue.Queue[AlertView] = queue.Queue(MAX_QUEUED)
        self.overflowed = False


class AlertHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []

    @contextmanager
    def subscribe(self, zones: frozenset[str]) -> Iterator[Subscription]:
        subscription = Subscription(zones)
        with self._lock:
            self._subscriptions.append(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.remove(subscription)

    def publish(self, alerts: Iterable[AlertView]) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for alert in alerts:
            for subscription in subscriptions:
                if subscription.zones & set(alert.zones):
                    try:
                        subscription.queue.put_nowait(alert)
                    except queue.Full:
                        subscription.overflowed = True  # it will be replayed from the database
