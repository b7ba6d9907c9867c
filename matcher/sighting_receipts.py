"""Receipts of camera gateways' sightings by the ids the gateways chose (issue 15).

A gateway that lost its stream resends what the stream did not confirm. The receipt of each
``sighting_id`` (per principal) lets the service acknowledge a resent sighting without matching
it or alerting again; it is written in the transaction that stores the sighting's alerts, so a
sighting is taken with its alerts or not at all. A receipt holds no face, camera or capture time
(P7, P8) and is pruned after a day, far longer than a gateway keeps what it may resend.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from lifecycle import order_models as o
from lifecycle.cases import Lifecycle

RECEIPT_TTL = timedelta(days=1)
PRUNE_EVERY = 256


class SightingReceipts:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lc = lifecycle
        self._since_prune = 0

    @staticmethod
    def _exists(actor: str, sighting_id: str) -> object:
        return select(
            exists().where(
                o.SightingReceipt.principal_id == actor, o.SightingReceipt.sighting_id == sighting_id
            )
        )

    def seen(self, actor: str, sighting_id: str) -> bool:
        """A read that does not wait for the writer; ``take`` checks again in the transaction."""
        with self._lc.db.reading() as session:
            return bool(session.scalar(self._exists(actor, sighting_id)))  # type: ignore[call-overload]

    def take(self, session: Session, actor: str, sighting_id: str) -> bool:
        """True when the id was already taken; else records it (and now and then prunes)."""
        if session.scalar(self._exists(actor, sighting_id)):  # type: ignore[call-overload]
            return True
        now = self._lc.clock.now()
        session.add(o.SightingReceipt(principal_id=actor, sighting_id=sighting_id, received_at=now))
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            session.execute(
                delete(o.SightingReceipt).where(o.SightingReceipt.received_at < now - RECEIPT_TTL)
            )
        return False

    def duplicate(self, session: Session, actor: str, reason: str, faces: int) -> None:
        """The audit record of a resent sighting: that it came again, nothing else (P16, P8)."""
        self._lc.audit.append(
            session,
            actor=actor,
            action="sightings.report",
            resource="sightings",
            reason=reason,
            count=0,
            detail={"faces": faces, "duplicate": True, "rule": "P5"},
        )


def _taken(session: Session, actor: str, sighting_id: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    o.SightingReceipt.principal_id == actor, o.SightingReceipt.sighting_id == sighting_id
                )
            )
        )
    )
