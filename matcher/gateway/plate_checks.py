"""Plate reads sent to the service as a camera gateway: the answer is hit or miss, nothing more.

A camera gateway is the least trusted part of the system. It reads nothing of the service's
answer but the number of hits, so it needs no watchlist text, case or subject, and keeps working
unchanged when the service tells a camera only that a hit happened (least privilege).
"""

from __future__ import annotations

import logging
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


def hit_count(response: plates_pb2.CheckPlateReadResponse) -> int:
    """Hits in the answer: the only thing of it a camera gateway reads."""
    return sum(len(result.hits) for result in response.results)


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
    return hit_count(response) > 0
