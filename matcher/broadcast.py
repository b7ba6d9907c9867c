"""Live delivery, within this process, of alerts to their operators and notices to the designee.

What is delivered is stored first (alerts in their table, notices in the audit log); this only
tells the connected watchers at once. Watchers are streams served on the event loop: a watcher
holds a bounded asyncio queue, not a thread, so a thousand idle operator consoles cost a thousand
small queues and never a worker that calls need. Publishing happens on worker threads and never
blocks: one wake-up per event loop per publication hands the items over; a watcher whose queue is
full is flagged and re-reads what it missed from the database, where everything was stored first.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
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
    """One watcher's queue, read on its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_queued: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[T] = asyncio.Queue(max_queued)
        # Set when an item was dropped because the queue was full: the watcher then re-reads
        # what it missed from the database, where everything published was stored first.
        self.overflowed = False

    def offer(self, item: T) -> None:
        """Called on the watcher's loop only."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True

    async def next(self) -> T:
        return await self.queue.get()


class Broadcast(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[asyncio.AbstractEventLoop, list[Subscription[T]]] = {}

    def subscribe(self, max_queued: int = MAX_QUEUED) -> Subscription[T]:
        """A new watcher on the running event loop; call :meth:`unsubscribe` when it ends."""
        subscription: Subscription[T] = Subscription(asyncio.get_running_loop(), max_queued)
        with self._lock:
            self._subscriptions.setdefault(subscription.loop, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        with self._lock:
            watchers = self._subscriptions.get(subscription.loop, [])
            if subscription in watchers:
                watchers.remove(subscription)
            if not watchers:
                self._subscriptions.pop(subscription.loop, None)

    def watchers(self) -> int:
        with self._lock:
            return sum(len(watchers) for watchers in self._subscriptions.values())

    def publish(self, items: Iterable[T]) -> None:
        """Hands the items to every watcher without blocking (any thread)."""
        batch = list(items)
        if not batch:
            return
        with self._lock:
            loops = {loop: list(watchers) for loop, watchers in self._subscriptions.items()}
        for loop, watchers in loops.items():
            try:
                loop.call_soon_threadsafe(_deliver, watchers, batch)
            except RuntimeError:  # That loop has closed: its watchers are gone with it.
                continue


def _deliver(watchers: list[Subscription[T]], batch: list[T]) -> None:
    for item in batch:
        for watcher in watchers:
            watcher.offer(item)
