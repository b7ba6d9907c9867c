"""Sightings to the service over StreamSightings, resumed without duplicates after a failure.

Every sighting carries an id chosen here (the gateway's random prefix and a counter); the service
keeps a receipt of each id and acknowledges a resent one without matching it again. A stream
stays open while sightings come (up to ``stream_seconds`` or ``max_per_stream``, closed after
``idle_seconds`` without any) and its summary confirms everything sent on it. When a stream fails
(the service restarts, the network drops), what it did not confirm is sent again, first, on the
next stream, after a back-off. Waiting sightings are bounded: the oldest are dropped and counted.

P7: a sighting's embeddings are held in memory only until a stream confirms it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from matcher.client import MatcherClient, MatcherError
from matcher.gateway.plate_checks import TRANSIENT
from matcher.v1 import sightings_pb2

log = logging.getLogger(__name__)


@dataclass
class SightingCounts:
    queued: int = 0
    confirmed: int = 0
    duplicates: int = 0
    refused: int = 0
    dropped: int = 0
    streams: int = 0
    failures: int = 0


class SightingSender:
    def __init__(
        self,
        client: MatcherClient,
        *,
        max_waiting: int = 512,
        stream_seconds: float = 30.0,
        idle_seconds: float = 5.0,
        max_per_stream: int = 256,
        max_backoff: float = 30.0,
    ) -> None:
        self._client = client
        self._max_waiting = max_waiting
        self._stream_seconds = stream_seconds
        self._idle_seconds = idle_seconds
        self._max_per_stream = max_per_stream
        self._max_backoff = max_backoff
        self._prefix = secrets.token_hex(6)
        self._next = 0
        self._waiting: deque[sightings_pb2.Sighting] = deque()
        self._unconfirmed: list[sightings_pb2.Sighting] = []
        self._epoch = 0
        self._changed = threading.Condition()
        self.counts = SightingCounts()

    def put(self, sighting: sightings_pb2.Sighting) -> None:
        """Queues a sighting, giving it its id."""
        with self._changed:
            self._next += 1
            sighting.sighting_id = f"{self._prefix}.{self._next}"
            if len(self._waiting) + len(self._unconfirmed) >= self._max_waiting and self._waiting:
                self._waiting.popleft()
                self.counts.dropped += 1
            self._waiting.append(sighting)
            self.counts.queued += 1
            self._changed.notify_all()

    def idle(self) -> bool:
        """Nothing waiting and nothing unconfirmed."""
        with self._changed:
            return not self._waiting and not self._unconfirmed

    def sent(self) -> bool:
        """Nothing waiting (what was sent may still be unconfirmed)."""
        with self._changed:
            return not self._waiting

    def wait_idle(self, timeout: float, *, sent_only: bool = False) -> bool:
        done = self.sent if sent_only else self.idle
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.05)
        return done()

    def run(self, stop: threading.Event) -> None:
        """Sends until ``stop`` is set and nothing is waiting. ``stop`` also closes the open stream
        as soon as nothing waits (its summary confirms it); if the service is away then, what
        could not be sent is counted as dropped."""
        backoff = 0.0
        while True:
            with self._changed:
                if not self._waiting:
                    if stop.is_set():
                        return
                    self._changed.wait(0.2)
                    continue
                self._epoch += 1
                epoch = self._epoch
            self.counts.streams += 1
            try:
                summary = self._client.stream_sightings(
                    self._requests(epoch, stop), timeout=self._stream_seconds + 30
                )
            except MatcherError as error:
                self._failed(epoch, error)
                if stop.is_set():
                    with self._changed:
                        self.counts.dropped += len(self._waiting)
                        self._waiting.clear()
                    log.error(
                        "stopped while the service was away: %d sightings not sent", self.counts.dropped
                    )
                    return
                backoff = min(self._max_backoff, max(0.5, backoff * 2))
                stop.wait(backoff)
                continue
            backoff = 0.0
            with self._changed:
                self.counts.confirmed += len(self._unconfirmed)
                self._unconfirmed = []
                self._changed.notify_all()
            self.counts.duplicates += summary.duplicates
            self.counts.refused += summary.refused
            if summary.refused:
                log.warning("the service refused %d sightings: %s", summary.refused, summary.first_refusal)

    def _requests(self, epoch: int, stop: threading.Event) -> Iterator[sightings_pb2.Sighting]:
        opened = last = time.monotonic()
        sent = 0
        while True:
            with self._changed:
                if self._epoch != epoch:
                    return  # a newer stream took over (this one failed)
                now = time.monotonic()
                if not self._waiting:
                    if (
                        stop.is_set()
                        or now - last > self._idle_seconds
                        or now - opened > self._stream_seconds
                        or sent >= self._max_per_stream
                    ):
                        return
                    self._changed.wait(0.1)
                    continue
                if now - opened > self._stream_seconds or sent >= self._max_per_stream:
                    return
                sighting = self._waiting.popleft()
                self._unconfirmed.append(sighting)
            sent += 1
            last = now
            yield sighting

    def _failed(self, epoch: int, error: MatcherError) -> None:
        """What the failed stream did not confirm goes first on the next one."""
        with self._changed:
            if self._epoch == epoch:
                self._epoch += 1  # ends the failed stream's request iterator
            resend = self._unconfirmed
            self._unconfirmed = []
            if error.code not in TRANSIENT:
                self.counts.refused += len(resend)
                log.error("the service refused the sighting stream: %s", error)
                return
            self.counts.failures += 1
            self._waiting.extendleft(reversed(resend))
            while len(self._waiting) > self._max_waiting:
                self._waiting.popleft()
                self.counts.dropped += 1
        log.warning("the sighting stream failed (%s); resending %d unconfirmed sightings", error, len(resend))
