"""Live delivery, within this process, of alerts to their operators and notices to the designee.

What is delivered is stored first (alerts in their table, notices in the audit log); this only
tells the connected watchers at once. A slow watcher never blocks the publisher: its queue is
bounded and, when full, the watcher is told and re-reads what it missed from the database.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

MAX_QUEUED = 1000
T = TypeVar("T")


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


class Subscription(Generic[T]):
    def __init__(self, accept: Callable[[T], bool], max_queued: int = MAX_QUEUED) -> None:
        self.accept = accept
        self.queue: queue.Queue[T] = queue.Queue(max_queued)
        # Set when an item was dropped because the queue was full: the watcher then re-reads
        # what it missed from the database, where everything published was stored first.
        self.overflowed = False


class Broadcast(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription[T]] = []

    @contextmanager
    def subscribe(
        self, accept: Callable[[T], bool], max_queued: int = MAX_QUEUED
    ) -> Iterator[Subscription[T]]:
        subscription: Subscription[T] = Subscription(accept, max_queued)
        with self._lock:
            self._subscriptions.append(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.remove(subscription)

    def publish(self, items: Iterable[T]) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for item in items:
            for subscription in subscriptions:
                if subscription.accept(item):
                    try:
                        subscription.queue.put_nowait(item)
                    except queue.Full:
                        subscription.overflowed = True
