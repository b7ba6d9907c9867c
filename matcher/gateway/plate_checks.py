"""Plate reads sent to the service as a camera gateway: the answer is hit or miss, nothing more.

A camera gateway is the least trusted part of the system. It reads nothing of the service's
answer but the number of hits, so it needs no watchlist text, case or subject, and keeps working
unchanged when the service tells a camera only that a hit happened (least privilege).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

import grpc

from matcher.client import MatcherClient, MatcherError
from matcher.v1 import plates_pb2

log = logging.getLogger(__name__)

# A service that cannot answer now: the read is kept and tried again.
TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)


class ServiceUnavailable(Exception):
    """The service could not be reached or answer in time; try the same read again later."""


class ReadRefused(Exception):
    """The service refused the read (a bad plate, a revoked account): trying again will not help."""

    def __init__(self, error: MatcherError) -> None:
        super().__init__(str(error))
        self.reason = error.reason or error.code.name


@dataclass(frozen=True, slots=True)
class PlateCheck:
    """One plate read of one registered camera. ``confidences``: one per character, or None."""

    text: str
    confidences: tuple[float, ...] | None
    camera: str


@dataclass(frozen=True)
class Certainty:
    """Which reads are worth sending: a character below ``min_confidence`` is unknown to the
    matcher; a read with more than ``max_unknown`` of them, or fewer than ``min_known`` known
    characters, could match too many plates, and the service refuses it (counting such refusals
    against the gateway), so the gateway keeps it back and counts it instead."""

    min_confidence: float = 0.5
    max_unknown: int = 2
    min_known: int = 4

    def too_uncertain(self, confidences: tuple[float, ...]) -> bool:
        unknown = sum(c < self.min_confidence for c in confidences)
        return unknown > self.max_unknown or len(confidences) - unknown < self.min_known


def any_hit(response: plates_pb2.CheckPlateReadResponse) -> bool:
    """Whether the read hit: the only thing of the answer a camera gateway reads. A service that
    tells a camera gateway only *that* a read hit sets ``hit`` and sends no hits; an older one
    sends the hits."""
    return any(bool(getattr(result, "hit", False)) or len(result.hits) > 0 for result in response.results)


def check(client: MatcherClient, read: PlateCheck, reason: str) -> bool:
    """Checks one read against the watchlists of every open case; True on a hit.

    Raises ServiceUnavailable for a transient failure and ReadRefused for a refusal.
    """
    try:
        response = client.check_plate(
            read.text,
            confidences=list(read.confidences) if read.confidences else None,
            camera=f"cameras/{read.camera}",
            reason=reason,
        )
    except MatcherError as error:
        if error.code in TRANSIENT:
            raise ServiceUnavailable(str(error)) from None
        raise ReadRefused(error) from None
    return any_hit(response)


@dataclass
class CheckCounts:
    checked: int = 0
    hits: int = 0
    misses: int = 0
    refused: int = 0
    dropped: int = 0
    retries: int = 0


class CheckQueue:
    """Plate reads waiting for the service, checked in order on one thread (``run``).

    Bounded: when the service is slower than the cameras (or away), the oldest waiting read is
    dropped and counted. A transient failure keeps the read and tries it again with back-off
    (0.5 s doubling up to ``max_backoff``); a refusal is counted and logged by its reason only,
    since the service's message may quote the read (P7).
    """

    def __init__(
        self, client: MatcherClient, reason: str, *, size: int = 1024, max_backoff: float = 30.0
    ) -> None:
        self._client = client
        self._reason = reason
        self._size = size
        self._max_backoff = max_backoff
        self._queue: deque[PlateCheck] = deque()
        self._ready = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self.counts = CheckCounts()

    def offer(self, read: PlateCheck) -> bool:
        """Queues a read; False when an older read had to be dropped to make room."""
        with self._ready:
            dropped = len(self._queue) >= self._size
            if dropped:
                self._queue.popleft()
                self.counts.dropped += 1
            self._queue.append(read)
            self._idle.clear()
            self._ready.notify()
        return not dropped

    def run(self, stop: threading.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
            with self._ready:
                if not self._queue:
                    self._idle.set()
                    self._ready.wait(timeout=0.2)
                    continue
                read = self._queue[0]
            try:
                hit = check(self._client, read, self._reason)
            except ServiceUnavailable as error:
                backoff = min(self._max_backoff, max(0.5, backoff * 2))
                self.counts.retries += 1
                log.warning("the service is unavailable (%s); trying again in %.1f s", error, backoff)
                stop.wait(backoff)
                continue
            except ReadRefused as error:
                self._done(read)
                self.counts.refused += 1
                log.warning("the service refused a plate read of camera %s: %s", read.camera, error.reason)
                continue
            backoff = 0.0
            self._done(read)
            self.counts.checked += 1
            if hit:
                self.counts.hits += 1
                log.warning("watchlist hit on camera %s (plate text withheld, P7)", read.camera)
            else:
                self.counts.misses += 1

    def _done(self, read: PlateCheck) -> None:
        with self._ready:
            if self._queue and self._queue[0] is read:
                self._queue.popleft()

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued read was checked (for tests and a clean stop)."""
        return self._idle.wait(timeout)

    def waiting(self) -> int:
        """Reads not checked yet (at a stop: not checked at all)."""
        with self._ready:
            return len(self._queue)
