"""Cases, subjects and legal holds: who may be targeted, and when targeting ends (P1-P4, P12).

Every state change and its audit record commit in one transaction. A change that ends a legal
basis (closing a case, releasing a subject) also records the pending purge in that transaction,
so a crash can never leave the basis ended and the destruction forgotten.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lifecycle import faults
from lifecycle import models as m
from lifecycle.access_models import CaseAssignment
from lifecycle.actions import Action
from lifecycle.audit import REFUSED, AuditLog
from lifecycle.clock import Clock
from lifecycle.db import Database
from lifecycle.errors import Kind, PolicyError
from lifecycle.purge_listener import PurgeListener

_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
HOLD_KINDS = frozenset({"court_order", "statute"})


def new_id() -> str:
    """A random id for resources the caller did not name."""
    return secrets.token_hex(8)


def check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise PolicyError(
            Kind.INVALID_ARGUMENT,
            "FIELD_INVALID",
            f"{what} {value!r} is not valid: use 1-63 characters of a-z, 0-9 and '-', "
            "starting and ending with a letter or digit",
        )
    return value


def require_reason(reason: str) -> str:
    """P12: every use of biometric data and every change of its legal basis states why."""
    reason = reason.strip()
    if not reason:
        raise PolicyError(
            Kind.INVALID_ARGUMENT,
            "REASON_REQUIRED",
            "a reason is required: say why (P12), for example the lead being followed",
            rule="P12",
        )
    if len(reason) > 1000:
        raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "the reason is longer than 1000 characters")
    return reason


def request_purge(
    session: Session,
    trigger: str,
    actor: str,
    reason: str,
    now: datetime,
    *,
    case_id: str | None = None,
    subject_pk: int | None = None,
    order_id: str | None = None,
    waiver_id: str | None = None,
) -> None:
    """Records a pending purge in the caller's transaction: the one that ends the legal basis."""
    session.add(
        m.Purge(
            case_id=case_id,
            subject_pk=subject_pk,
            order_id=order_id,
            waiver_id=waiver_id,
            trigger=trigger,
            reason=reason,
            requested_by=actor,
            requested_at=now,
            state=m.PURGE_PENDING,
        )
    )


class DueSource(Protocol):
    """Something whose legal basis ends at an instant (an order's period): the worker asks it."""

    def expire_due(self) -> None:
        """Ends what is due now and records its purges."""
        ...

    def next_due(self) -> datetime | None:
        """The next instant at which something ends, if any."""
        ...


@dataclass(frozen=True)
class HoldView:
    hold: m.LegalHold
    state: str  # "active", "lifted" or "expired"


@dataclass(frozen=True)
class PurgeView:
    purge: m.Purge
    subject_id: str | None
    held_until: datetime | None


class Lifecycle:
    """The policy's operations on the system of record, each one audited."""

    def __init__(self, db: Database, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self._listeners: list[PurgeListener] = []
        self._purge_requested: list[Callable[[], None]] = []
        self._due_sources: list[DueSource] = []
        # Told each finished purge's duration, request to receipt, in seconds (operator metrics).
        self.on_purge_done: list[Callable[[float], None]] = []

    def subscribe(self, listener: PurgeListener) -> None:
        self._listeners.append(listener)

    @property
    def listeners(self) -> Sequence[PurgeListener]:
        return tuple(self._listeners)

    def add_due_source(self, source: DueSource) -> None:
        """Registers a source of time-based ends (orders) that the purge worker must watch."""
        self._due_sources.append(source)

    @property
    def due_sources(self) -> Sequence[DueSource]:
        return tuple(self._due_sources)

    def wake_purges(self) -> None:
        """Tells the purge worker that something to do, or a due instant, has changed."""
        for callback in self._purge_requested:
            callback()

    def on_purge_requested(self, callback: Callable[[], None]) -> None:
        """Registers a zero-argument callable run after a purge is recorded (wakes the worker)."""
        self._purge_requested.append(callback)

    # --- refusals -------------------------------------------------------------------------

    def refuse(self, actor: str, action: str, resource: str, error: PolicyError, reason: str) -> None:
        """Audits a refusal (P16) in a transaction of its own; the refused change rolled back.

        The record holds the reason code and the rule, never the message: a message may quote
        what the caller sent (a plate read, a label), and the audit log, which is never purged,
        holds that something happened, not what was seen (P7, P8).
        """
        detail = {"rule": error.rule} if error.rule else {}
        self.audit.record(
            actor=actor,
            action=action,
            resource=resource,
            reason=reason,
            outcome=REFUSED,
            code=error.reason,
            detail=detail,
        )

    # --- lookups used inside callers' transactions ---------------------------------------

    def case(self, session: Session, case_id: str, *, for_update: bool = False) -> m.Case:
        query = select(m.Case).where(m.Case.id == case_id)
        if for_update:
            query = query.with_for_update()
        case = session.scalars(query).first()
        if case is None:
            raise PolicyError(Kind.NOT_FOUND, "CASE_NOT_FOUND", f"case {case_id!r} does not exist")
        return case

    def open_case(self, session: Session, case_id: str, *, for_update: bool = False) -> m.Case:
        case = self.case(session, case_id, for_update=for_update)
        if case.state != m.CASE_OPEN:
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                "CASE_CLOSED",
                f"case {case_id!r} is closed: its data may no longer be enrolled or searched (P3)",
                rule="P3",
            )
        return case

    def require_open(self, session: Session, case_ids: Sequence[str]) -> None:
        """Every named case exists and is open (one query; the first offender is reported)."""
        states = dict(session.execute(select(m.Case.id, m.Case.state).where(m.Case.id.in_(case_ids))).all())
        for case_id in case_ids:
            if case_id not in states:
                raise PolicyError(Kind.NOT_FOUND, "CASE_NOT_FOUND", f"case {case_id!r} does not exist")
            if states[case_id] != m.CASE_OPEN:
                self.open_case(session, case_id)  # raises CASE_CLOSED with its message

    def subject(self, session: Session, case_id: str, subject_id: str) -> m.Subject:
        subject = session.scalars(
            select(m.Subject).where(m.Subject.case_id == case_id, m.Subject.subject_id == subject_id)
        ).first()
        if subject is None:
            raise PolicyError(
                Kind.NOT_FOUND,
                "SUBJECT_NOT_FOUND",
                f"subject {subject_id!r} does not exist in case {case_id!r}",
            )
        return subject

    def targetable_subject(self, session: Session, case_id: str, subject_id: str) -> m.Subject:
        """P1: only an active person of interest or suspect of an open case may be enrolled."""
        self.open_case(session, case_id, for_update=True)
        subject = self.subject(session, case_id, subject_id)
        if subject.state != m.SUBJECT_ACTIVE:
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                "SUBJECT_RELEASED",
                f"subject {subject_id!r} was released: it may no longer be targeted (P1, P2)",
                rule="P1",
            )
        if subject.role not in m.TARGETABLE_ROLES:
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                "SUBJECT_ROLE_NOT_TARGETABLE",
                f"subject {subject_id!r} is a {subject.role.replace('_', ' ')}: only persons of "
                "interest and suspects may be enrolled (P1)",
                rule="P1",
            )
        return subject

    def template_count(self, session: Session, case_id: str, subject_pk: int | None = None) -> int:
        return self._count(session, m.FaceTemplate, case_id, subject_pk)

    def plate_count(self, session: Session, case_id: str, subject_pk: int | None = None) -> int:
        return self._count(session, m.PlateEntry, case_id, subject_pk)

    @staticmethod
    def _count(
        session: Session,
        table: type[m.FaceTemplate] | type[m.PlateEntry],
        case_id: str,
        subject_pk: int | None,
    ) -> int:
        query = select(func.count()).select_from(table).where(table.case_id == case_id)
        if subject_pk is not None:
            query = query.where(table.subject_pk == subject_pk)
        return session.scalar(query) or 0

    # --- cases ----------------------------------------------------------------------------

    def create_case(
        self, actor: str, case_id: str, title: str, reason: str, *, assign_creator: bool = False
    ) -> m.Case:
        """Opens a case. ``assign_creator``: the supervisor who opens it also investigates it, so
        it is assigned to them in the same transaction (and said so in the audit record)."""
        reason = require_reason(reason)
        case_id = check_id(case_id or new_id(), "case id")
        title = title.strip()
        if not title or len(title) > 200:
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "FIELD_INVALID", "a case needs a title of 1-200 characters"
            )
        with self.db.transaction() as session:
            if session.get(m.Case, case_id) is not None:
                raise PolicyError(
                    Kind.ALREADY_EXISTS, "CASE_ALREADY_EXISTS", f"case {case_id!r} already exists"
                )
            now = self.clock.now()
            case = m.Case(
                id=case_id,
                title=title,
                state=m.CASE_OPEN,
                created_at=now,
                created_by=actor,
            )
            session.add(case)
            if assign_creator:
                session.flush()
                session.add(
                    CaseAssignment(principal_id=actor, case_id=case_id, assigned_by=actor, assigned_at=now)
                )
            self.audit.append(
                session,
                actor=actor,
                action=Action.CASE_CREATE,
                resource=f"cases/{case_id}",
                reason=reason,
                detail={"assigned_to_creator": assign_creator},
            )
        return case

    def list_cases(
        self, state: str | None, after_id: str, limit: int, *, only: frozenset[str] | None = None
    ) -> list[m.Case]:
        """Cases in id order; ``only`` narrows them to the cases a caller may see (in SQL, so
        that paging stays correct)."""
        with self.db.reading() as session:
            query = select(m.Case).where(m.Case.id > after_id)
            if only is not None:
                query = query.where(m.Case.id.in_(only))
            if state:
                query = query.where(m.Case.state == state)
            return list(session.scalars(query.order_by(m.Case.id).limit(limit)))

    @contextmanager
    def revoking(self) -> Iterator[None]:
        """Held around a commit that ends a legal basis: listeners block their matching meanwhile."""
        with ExitStack() as stack:
            for listener in self._listeners:
                stack.enter_context(listener.revoking())
            yield

    def ended(self, scope: str, subject_pk: int | None = None, *, notify_worker: bool = True) -> None:
        """After the commit: in-memory copies go at once; the worker destroys the rest."""
        for listener in self._listeners:
            listener.basis_ended(scope, subject_pk)
        if notify_worker:
            self.wake_purges()

    def close_case(self, actor: str, case_id: str, reason: str) -> m.Case:
        """P3: ends every subject's targeting; the case's data is unmatchable from the commit on."""
        reason = require_reason(reason)
        with self.revoking():
            with self.db.transaction() as session:
                case = self.open_case(session, case_id)
                now = self.clock.now()
                case.state, case.closed_at, case.close_reason = m.CASE_CLOSED, now, reason
                request_purge(session, m.TRIGGER_CASE_CLOSED, actor, reason, now, case_id=case_id)
                self.audit.append(
                    session,
                    actor=actor,
                    action=Action.CASE_CLOSE,
                    resource=f"cases/{case_id}",
                    reason=reason,
                    detail={"rule": "P3"},
                )
            faults.hit("case.after_close_commit")
            self.ended(case_id)
        return case

    # --- subjects -------------------------------------------------------------------------

    def create_subject(
        self, actor: str, case_id: str, subject_id: str, label: str, role: str, reason: str
    ) -> m.Subject:
        reason = require_reason(reason)
        subject_id = check_id(subject_id or new_id(), "subject id")
        if role not in m.ROLES:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "FIELD_INVALID",
                "a subject needs a role: person of interest, suspect, witness or victim",
            )
        label = label.strip() or subject_id
        if len(label) > 200:
            raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "the label is too long")
        with self.db.transaction() as session:
            self.open_case(session, case_id)
            exists = session.scalars(
                select(m.Subject.pk).where(m.Subject.case_id == case_id, m.Subject.subject_id == subject_id)
            ).first()
            if exists is not None:
                raise PolicyError(
                    Kind.ALREADY_EXISTS,
                    "SUBJECT_ALREADY_EXISTS",
                    f"subject {subject_id!r} already exists in case {case_id!r}",
                )
            subject = m.Subject(
                case_id=case_id,
                subject_id=subject_id,
                label=label,
                role=role,
                state=m.SUBJECT_ACTIVE,
                created_at=self.clock.now(),
            )
            session.add(subject)
            self.audit.append(
                session,
                actor=actor,
                action=Action.SUBJECT_CREATE,
                resource=f"cases/{case_id}/subjects/{subject_id}",
                reason=reason,
                detail={"role": role},
            )
        return subject

    def list_subjects(self, case_id: str, after_id: str, limit: int) -> list[m.Subject]:
        with self.db.reading() as session:
            self.case(session, case_id)
            return list(
                session.scalars(
                    select(m.Subject)
                    .where(m.Subject.case_id == case_id, m.Subject.subject_id > after_id)
                    .order_by(m.Subject.subject_id)
                    .limit(limit)
                )
            )

    def release_subject(self, actor: str, case_id: str, subject_id: str, reason: str) -> m.Subject:
        """P2: no longer a person of interest; the subject's data is unmatchable from the commit."""
        reason = require_reason(reason)
        with self.revoking():
            with self.db.transaction() as session:
                self.case(session, case_id, for_update=True)
                subject = self.subject(session, case_id, subject_id)
                if subject.state != m.SUBJECT_ACTIVE:
                    raise PolicyError(
                        Kind.FAILED_PRECONDITION,
                        "SUBJECT_RELEASED",
                        f"subject {subject_id!r} was already released",
                        rule="P2",
                    )
                now = self.clock.now()
                subject.state, subject.released_at, subject.release_reason = (
                    m.SUBJECT_RELEASED,
                    now,
                    reason,
                )
                case = self.case(session, case_id)
                if case.state == m.CASE_OPEN:  # A closed case's purge covers the subject already.
                    request_purge(
                        session,
                        m.TRIGGER_SUBJECT_RELEASED,
                        actor,
                        reason,
                        now,
                        case_id=case_id,
                        subject_pk=subject.pk,
                    )
                self.audit.append(
                    session,
                    actor=actor,
                    action=Action.SUBJECT_RELEASE,
                    resource=f"cases/{case_id}/subjects/{subject_id}",
                    reason=reason,
                    detail={"rule": "P2"},
                )
            self.ended(case_id, subject.pk)
        return subject

    # --- legal holds (P4) -----------------------------------------------------------------

    def hold_state(self, hold: m.LegalHold, now: datetime) -> str:
        if hold.lifted_at is not None:
            return "lifted"
        return "active" if hold.end_at > now else "expired"

    def place_hold(
        self,
        actor: str,
        case_id: str,
        *,
        authority_kind: str,
        authority: str,
        placed_by: str,
        end_at: datetime | None,
        reason: str,
    ) -> m.LegalHold:
        """P4: a hold must cite its authority, name who placed it, and end."""
        reason = require_reason(reason)
        now = self.clock.now()
        problems = []
        if authority_kind not in HOLD_KINDS:
            problems.append("its authority kind (court order or statute)")
        if not authority.strip():
            problems.append("the citation of its authority")
        if not placed_by.strip():
            problems.append("who placed it")
        if end_at is None or end_at <= now:
            problems.append("an end time in the future")
        if problems:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "HOLD_INVALID",
                "a legal hold needs " + ", ".join(problems) + " (P4)",
                rule="P4",
            )
        assert end_at is not None
        with self.db.transaction() as session:
            case = self.case(session, case_id, for_update=True)
            if case.state == m.CASE_CLOSED:
                started = session.scalars(
                    select(m.Purge.id).where(
                        m.Purge.case_id == case_id,
                        m.Purge.subject_pk.is_(None),
                        m.Purge.state != m.PURGE_PENDING,
                    )
                ).first()
                if started is not None:
                    raise PolicyError(
                        Kind.FAILED_PRECONDITION,
                        "NOTHING_TO_HOLD",
                        f"case {case_id!r} is closed and its data is already destroyed (P3)",
                        rule="P4",
                    )
            hold = m.LegalHold(
                id=new_id(),
                case_id=case_id,
                authority_kind=authority_kind,
                authority=authority.strip(),
                placed_by=placed_by.strip(),
                reason=reason,
                created_at=now,
                end_at=end_at,
            )
            session.add(hold)
            self.audit.append(
                session,
                actor=actor,
                action=Action.HOLD_PLACE,
                resource=f"cases/{case_id}/legalHolds/{hold.id}",
                reason=reason,
                detail={
                    "authority_kind": authority_kind,
                    "authority": hold.authority,
                    "placed_by": hold.placed_by,
                    "end": end_at.isoformat(),
                    "rule": "P4",
                },
            )
        return hold

    def lift_hold(self, actor: str, case_id: str, hold_id: str, reason: str) -> m.LegalHold:
        reason = require_reason(reason)
        with self.db.transaction() as session:
            self.case(session, case_id, for_update=True)
            hold = session.get(m.LegalHold, hold_id)
            if hold is None or hold.case_id != case_id:
                raise PolicyError(
                    Kind.NOT_FOUND,
                    "HOLD_NOT_FOUND",
                    f"legal hold {hold_id!r} does not exist in case {case_id!r}",
                )
            if self.hold_state(hold, self.clock.now()) != "active":
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    "HOLD_NOT_ACTIVE",
                    f"legal hold {hold_id!r} is no longer active",
                    rule="P4",
                )
            hold.lifted_at, hold.lifted_by, hold.lift_reason = self.clock.now(), actor, reason
            self.audit.append(
                session,
                actor=actor,
                action=Action.HOLD_LIFT,
                resource=f"cases/{case_id}/legalHolds/{hold_id}",
                reason=reason,
                detail={"rule": "P4"},
            )
        self.wake_purges()
        return hold

    def list_holds(self, case_id: str) -> list[HoldView]:
        now = self.clock.now()
        with self.db.reading() as session:
            self.case(session, case_id)
            holds = session.scalars(
                select(m.LegalHold).where(m.LegalHold.case_id == case_id).order_by(m.LegalHold.created_at)
            )
            return [HoldView(hold, self.hold_state(hold, now)) for hold in holds]

    def held_until(self, session: Session, case_id: str, now: datetime) -> datetime | None:
        """P4: the latest end of the case's active holds, or None when nothing holds it."""
        return session.scalar(
            select(func.max(m.LegalHold.end_at)).where(
                m.LegalHold.case_id == case_id,
                m.LegalHold.lifted_at.is_(None),
                m.LegalHold.end_at > now,
            )
        )

    def list_purges(
        self,
        case_id: str | None,
        *,
        only: frozenset[str] | None = None,
        order_id: str | None = None,
        orders: bool = True,
    ) -> list[PurgeView]:
        """Purges of one case, of one order, or all; ``only`` keeps those of these cases (plus,
        with ``orders``, those of registered-individual orders: a registry officer's receipts)."""
        now = self.clock.now()
        with self.db.reading() as session:
            query = select(m.Purge, m.Subject.subject_id).outerjoin(
                m.Subject, m.Subject.pk == m.Purge.subject_pk
            )
            if case_id:
                self.case(session, case_id)
                query = query.where(m.Purge.case_id == case_id)
            if order_id:
                query = query.where(m.Purge.order_id == order_id)
            if only is not None:
                visible = m.Purge.case_id.in_(only)
                query = query.where(visible | m.Purge.order_id.is_not(None) if orders else visible)
            views = []
            for purge, subject_id in session.execute(query.order_by(m.Purge.id)):
                held = (
                    self.held_until(session, purge.case_id, now)
                    if purge.state == m.PURGE_PENDING and purge.case_id is not None
                    else None
                )
                views.append(PurgeView(purge, subject_id, held))
            return views
