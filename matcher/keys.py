"""The data keys of cases and subjects (decision 5), shared by faces and plates.

A case key is created at the case's first enrolment and wrapped by the current generation of the
key-encryption key; a subject key is wrapped by its case key. A purge deletes the case key row
(P3) or the subject key row (P2), and the KEK rotation that follows (:mod:`matcher.kek_rotation`)
makes every remaining copy of it, in the database's files or a backup, impossible to unwrap.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle import order_models as o
from lifecycle import search_models as w
from lifecycle.clock import Clock
from matcher import crypto
from matcher.kek import KekGenerations


def order_key_aad(order_id: str) -> bytes:
    return f"matcher/v1/order-key/{order_id}".encode()


# PostgreSQL advisory lock between replicas: creating a KEK-wrapped key holds it shared, the
# rotation's re-wrap exclusive, so no key is wrapped under a generation being retired.
KEK_LOCK = 7319


def hold_kek(session: Session, *, exclusive: bool) -> None:
    """Takes the replicas' KEK lock for the rest of the session's transaction (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        session.execute(text(f"SELECT {function}(:key)"), {"key": KEK_LOCK})


class ScopeKeys:
    def __init__(self, keyring: KekGenerations, clock: Clock) -> None:
        self._keys = keyring
        self._clock = clock

    def refresh(self) -> None:
        """Another replica rotated the KEK (see KekGenerations.refresh)."""
        self._keys.refresh()

    def _new_kek_wrapped(self, session: Session, aad: bytes) -> tuple[bytes, bytes]:
        """A new scope key wrapped by the current KEK generation, as the shared key folder says
        it is now (another replica may have rotated), under the replicas' KEK lock."""
        hold_kek(session, exclusive=False)
        if session.get_bind().dialect.name == "postgresql":
            self._keys.refresh()
        return self._keys.new_key(None, aad)

    def case_key(self, session: Session, case_id: str, *, create: bool) -> bytes:
        """Unwraps the case key, creating it first when ``create`` and it does not exist yet."""
        row = session.scalars(
            select(m.DataKey).where(m.DataKey.case_id == case_id, m.DataKey.subject_pk.is_(None))
        ).first()
        aad = crypto.case_key_aad(case_id)
        if row is not None:
            return self._keys.unwrap(None, row.wrapped, aad)
        if not create:
            raise LookupError(f"case {case_id} has no data key (destroyed or never created)")
        key, wrapped = self._new_kek_wrapped(session, aad)
        session.add(
            m.DataKey(case_id=case_id, subject_pk=None, wrapped=wrapped, created_at=self._clock.now())
        )
        return key

    def subject_key(self, session: Session, case_id: str, subject_pk: int, *, create: bool) -> bytes:
        """Unwraps the subject's key through the case key, creating them when ``create``."""
        case_key = self.case_key(session, case_id, create=create)
        aad = crypto.subject_key_aad(case_id, subject_pk)
        row = session.scalars(
            select(m.DataKey).where(m.DataKey.case_id == case_id, m.DataKey.subject_pk == subject_pk)
        ).first()
        if row is not None:
            return self._keys.unwrap(case_key, row.wrapped, aad)
        if not create:
            raise LookupError(f"subject {subject_pk} of case {case_id} has no data key")
        key, wrapped = self._keys.new_key(case_key, aad)
        session.add(
            m.DataKey(case_id=case_id, subject_pk=subject_pk, wrapped=wrapped, created_at=self._clock.now())
        )
        return key

    def order_key(self, session: Session, order_id: str, *, create: bool) -> bytes:
        """An order's key, wrapped by the key-encryption key; destroyed when the order ends (P5)."""
        row = session.get(o.OrderKey, order_id)
        if row is not None:
            return self._keys.unwrap(None, row.wrapped, order_key_aad(order_id))
        if not create:
            raise LookupError(f"order {order_id} has no data key (destroyed or never created)")
        key, wrapped = self._new_kek_wrapped(session, order_key_aad(order_id))
        session.add(o.OrderKey(order_id=order_id, wrapped=wrapped, created_at=self._clock.now()))
        return key

    def waiver_key(self, session: Session, waiver_id: str, *, create: bool) -> bytes:
        """A waiver search's key, wrapped by the key-encryption key; destroyed when it ends (P15)."""
        row = session.get(w.WaiverKey, waiver_id)
        if row is not None:
            return self._keys.unwrap(None, row.wrapped, waiver_key_aad(waiver_id))
        if not create:
            raise LookupError(f"waiver {waiver_id} has no data key (destroyed or never created)")
        key, wrapped = self._new_kek_wrapped(session, waiver_key_aad(waiver_id))
        session.add(w.WaiverKey(waiver_id=waiver_id, wrapped=wrapped, created_at=self._clock.now()))
        return key


def waiver_key_aad(waiver_id: str) -> bytes:
    """The associated data of a waiver search's key (P15), like an order's."""
    return f"matcher/v1/waiver-key/{waiver_id}".encode()
