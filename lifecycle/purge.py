"""The durable purge state machine and the worker that carries it out (P2, P3, P4; decision 4).

A purge row is created in the same transaction as the change that ended the legal basis. The
worker moves it through its states, one committed step at a time, so that a crash anywhere
resumes where it stopped:

    pending -> key_destroyed -> rows_deleted -> checkpointed -> kek_rotated -> done (receipt)

1. ``key_destroyed``: the data key is deleted first (crypto-erase: every copy of the ciphertext,
   backups included, becomes unreadable); the number of templates is recorded for the receipt.
2. ``rows_deleted``: the ciphertext rows (face templates, watchlist plates and their hits) are
   deleted (SQLite overwrites them: secure_delete).
3. ``checkpointed``: in-memory copies are dropped (idempotent) and the WAL is checkpointed and
   truncated, so no page of the deleted rows survives in the journal.
4. ``kek_rotated`` (P18, NIST SP 800-88 crypto-erase of every copy of the key): deleting the key
   row leaves copies of it (PostgreSQL's dead tuples and WAL, any backup), all wrapped by the
   key-encryption key. A new KEK generation is made, every surviving key is re-wrapped under it
   and the old generation is destroyed (:class:`KeyRotation`). Purges that reach this step in one
   pass of the worker share one rotation.
5. ``done``: the receipt is appended to the audit log in the same transaction as the state, so it
   is written exactly once, and only after the rotation.

A legal hold (P4) leaves a purge pending until the hold is lifted or ends. The worker sleeps
until the next such instant (or until woken by a new purge, a lifted hold or a clock jump), not
on a coarse poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lifecycle import faults
from lifecycle import models as m
from lifecycle import order_models as o
from lifecycle import search_models as w
from lifecycle.actions import Action
from lifecycle.cases import Lifecycle

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:purge-worker"
RULE_OF_TRIGGER = {
    m.TRIGGER_CASE_CLOSED: "P3",
    m.TRIGGER_SUBJECT_RELEASED: "P2",
    m.TRIGGER_ORDER_ENDED: "P5",
    m.TRIGGER_ORDER_REVOKED: "P5",
    m.TRIGGER_WAIVER_ENDED: "P15",
    m.TRIGGER_WAIVER_REVOKED: "P15",
}
_MAX_SLEEP_SECONDS = 3600.0
_PURGE_LOCK = 7318  # PostgreSQL advisory lock: one replica's purge worker at a time
_BUSY_RETRY = timedelta(seconds=2)  # when another replica holds it


class KeyRotation(Protocol):
    """Destroys every copy of the purged keys by retiring the KEK that wrapped them."""

    @property
    def generation(self) -> int:
        """The current KEK generation (named in the receipts)."""
        ...

    def rotate(self, refresh_cases: Collection[str]) -> int:
        """Re-wraps every surviving key under a new KEK generation, then destroys the old ones.

        ``refresh_cases``: cases that lost a subject, whose case key must be renewed too (their
        purged subject keys are wrapped by the case key). Returns the new generation; raises when
        it could not finish (the purges stay where they are and it runs again).
        """
        ...


class PurgeWorker:
    """Carries out pending purges; one per process."""

    def __init__(self, lifecycle: Lifecycle, rotation: KeyRotation) -> None:
        self._lc = lifecycle
        self._rotation = rotation
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()
        lifecycle.on_purge_requested(self.wake)
        lifecycle.clock.subscribe(self.wake)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="purge-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                next_due = self.run_due()
            except Exception:  # A failed step stays pending; try again shortly, loudly.
                log.exception("purge step failed; it will be retried")
                next_due = None
                self._wake.wait(5.0)
                continue
            timeout = _MAX_SLEEP_SECONDS
            if next_due is not None:
                remaining = (next_due - self._lc.clock.now()).total_seconds()
                timeout = max(0.0, min(remaining, _MAX_SLEEP_SECONDS))
            self._wake.wait(timeout)

    def run_due(self) -> datetime | None:
        """Ends what is due, carries out every purge that may run; returns the next due instant.

        With replicas, exactly one runs this at a time (a PostgreSQL advisory lock); the others
        look again shortly, so a replica that dies mid-purge (its lock goes with its session) has
        its purge finished by another, each step once (every step is guarded by the durable state).
        """
        with self._run_lock, self._lc.db.only_one(_PURGE_LOCK) as mine:
            if not mine:
                return self._lc.clock.now() + _BUSY_RETRY
            due: list[datetime] = []
            for source in self._lc.due_sources:
                source.expire_due()
            with self._lc.db.transaction() as session:
                open_ids = list(
                    session.scalars(
                        select(m.Purge.id).where(m.Purge.state != m.PURGE_DONE).order_by(m.Purge.id)
                    )
                )
            for purge_id in open_ids:
                held_until = self._carry_out(purge_id)
                if held_until is not None:
                    due.append(held_until)
            self._rotate_keys()
            with self._lc.db.transaction() as session:
                rotated = list(
                    session.scalars(
                        select(m.Purge.id).where(m.Purge.state == m.PURGE_KEK_ROTATED).order_by(m.Purge.id)
                    )
                )
            for purge_id in rotated:
                self._receipt(purge_id)
            due.extend(d for d in (source.next_due() for source in self._lc.due_sources) if d is not None)
            return min(due, default=None)

    def _scope(self, purge: m.Purge) -> str:
        """The in-memory scope the purge empties: a case, an order's or a waiver's gallery scope."""
        if purge.waiver_id is not None:
            return f"waivers/{purge.waiver_id}"
        return f"orders/{purge.order_id}" if purge.order_id is not None else str(purge.case_id)

    def _destroy_keys(self, session: Session, purge: m.Purge) -> None:
        """Step 1 (crypto-erase): deletes the data key, counting what it protected."""
        lc = self._lc
        if purge.waiver_id is not None:
            purge.face_template_count = int(
                session.scalar(
                    select(func.count())
                    .select_from(w.WaiverTemplate)
                    .where(w.WaiverTemplate.waiver_id == purge.waiver_id)
                )
                or 0
            )
            session.execute(delete(w.WaiverKey).where(w.WaiverKey.waiver_id == purge.waiver_id))
            return
        if purge.order_id is not None:
            purge.face_template_count = int(
                session.scalar(
                    select(func.count())
                    .select_from(o.OrderTemplate)
                    .where(o.OrderTemplate.order_id == purge.order_id)
                )
                or 0
            )
            purge.alert_count = int(
                session.scalar(
                    select(func.count()).select_from(o.Alert).where(o.Alert.order_id == purge.order_id)
                )
                or 0
            )
            session.execute(delete(o.OrderKey).where(o.OrderKey.order_id == purge.order_id))
            return
        assert purge.case_id is not None
        purge.face_template_count = lc.template_count(session, purge.case_id, purge.subject_pk)
        purge.plate_entry_count = lc.plate_count(session, purge.case_id, purge.subject_pk)
        keys = delete(m.DataKey).where(m.DataKey.case_id == purge.case_id)
        if purge.subject_pk is not None:
            keys = keys.where(m.DataKey.subject_pk == purge.subject_pk)
        session.execute(keys)

    def _delete_rows(self, session: Session, purge: m.Purge) -> None:
        """Step 2: deletes the ciphertext and derived rows (SQLite overwrites them)."""
        if purge.waiver_id is not None:
            session.execute(delete(w.WaiverTemplate).where(w.WaiverTemplate.waiver_id == purge.waiver_id))
            return
        if purge.order_id is not None:
            alerts = select(o.Alert.id).where(o.Alert.order_id == purge.order_id)
            session.execute(delete(o.AlertAck).where(o.AlertAck.alert_id.in_(alerts)))
            session.execute(delete(o.Alert).where(o.Alert.order_id == purge.order_id))
            session.execute(delete(o.OrderTemplate).where(o.OrderTemplate.order_id == purge.order_id))
            return
        # Plate hits are derived data of their entries (P8): destroyed with them.
        tables: tuple[type[m.FaceTemplate] | type[m.PlateEntry] | type[m.PlateHitRecord], ...] = (
            m.FaceTemplate,
            m.PlateEntry,
            m.PlateHitRecord,
        )
        for table in tables:
            rows = delete(table).where(table.case_id == purge.case_id)
            if purge.subject_pk is not None:
                rows = rows.where(table.subject_pk == purge.subject_pk)
            session.execute(rows)

    def _carry_out(self, purge_id: int) -> datetime | None:
        """Runs one purge up to its checkpoint (steps 1-3); returns the hold's end when a hold stops it."""
        lc = self._lc
        with lc.db.transaction() as session:
            purge = session.get_one(m.Purge, purge_id)
            if purge.state == m.PURGE_PENDING:
                if purge.case_id is not None:  # P4: legal holds apply to cases.
                    lc.case(session, purge.case_id, for_update=True)
                    held_until = lc.held_until(session, purge.case_id, lc.clock.now())
                    if held_until is not None:
                        return held_until
                self._destroy_keys(session, purge)
                purge.state = m.PURGE_KEY_DESTROYED
        faults.hit("purge.after_key_destroyed")

        if purge.state == m.PURGE_KEY_DESTROYED:
            with lc.db.transaction() as session:
                self._delete_rows(session, purge)
                session.get_one(m.Purge, purge_id).state = m.PURGE_ROWS_DELETED
            purge.state = m.PURGE_ROWS_DELETED
        faults.hit("purge.after_rows_deleted")

        if purge.state == m.PURGE_ROWS_DELETED:
            for listener in lc.listeners:
                listener.basis_ended(self._scope(purge), purge.subject_pk)
            lc.db.checkpoint()
            lc.db.recycle_connections()  # P18: no pooled connection keeps the purged rows' pages.
            with lc.db.transaction() as session:
                session.get_one(m.Purge, purge_id).state = m.PURGE_CHECKPOINTED
            purge.state = m.PURGE_CHECKPOINTED
        faults.hit("purge.after_checkpoint")
        return None

    def _rotate_keys(self) -> None:
        """Step 4, for every purge that reached it: one KEK rotation, then their state."""
        lc = self._lc
        with lc.db.transaction() as session:
            waiting = session.execute(
                select(m.Purge.id, m.Purge.case_id, m.Purge.subject_pk).where(
                    m.Purge.state == m.PURGE_CHECKPOINTED
                )
            ).all()
        if not waiting:
            return
        # P2: a released subject's key is wrapped by its case key, which survives: renew it.
        renew = {case for _, case, subject in waiting if case is not None and subject is not None}
        generation = self._rotation.rotate(sorted(renew))
        with lc.db.transaction() as session:
            for purge_id, _, _ in waiting:
                session.get_one(m.Purge, purge_id).state = m.PURGE_KEK_ROTATED
        log.info("KEK generation %d retires the keys of %d purges", generation, len(waiting))
        faults.hit("purge.after_kek_rotated")

    def _receipt(self, purge_id: int) -> None:
        """Step 5: the receipt, in the transaction that marks the purge done."""
        lc = self._lc
        with lc.db.transaction() as session:
            row = session.get_one(m.Purge, purge_id)
            if row.state != m.PURGE_KEK_ROTATED:
                return
            row.state, row.completed_at = m.PURGE_DONE, lc.clock.now()
            resource = f"orders/{row.order_id}" if row.order_id is not None else f"cases/{row.case_id}"
            if row.waiver_id is not None:
                resource = f"waivers/{row.waiver_id}"
            if row.subject_pk is not None:
                subject = session.get_one(m.Subject, row.subject_pk)
                resource += f"/subjects/{subject.subject_id}"
            lc.audit.append(
                session,
                actor=SYSTEM_ACTOR,
                action=Action.PURGE_RECEIPT,
                resource=resource,
                reason=row.reason,
                count=row.face_template_count,
                code=row.trigger,
                detail={
                    "purge": f"purges/{purge_id}",
                    "plate_entries": row.plate_entry_count,
                    "alerts": row.alert_count,
                    "requested_at": row.requested_at.isoformat(),
                    "requested_by": row.requested_by,
                    "completed_at": row.completed_at.isoformat(),
                    "kek_generation": self._rotation.generation,
                    "rule": RULE_OF_TRIGGER[row.trigger],
                },
            )
            count = row.face_template_count
            seconds = (row.completed_at - row.requested_at).total_seconds()
        log.info("purge %s done: %s face templates destroyed", purge_id, count)
        for observe in lc.on_purge_done:
            observe(seconds)
        faults.hit("purge.after_receipt")
