"""Waivers (P15; Section 5.1 of the policy): temporary, justified, recorded deviations that expire.

Section 5.1: "If in the opinion of the Director of Public Safety, or City Operations director and
based on justification a deviation from the permissible and intended use or a condition as listed
in Table 1 is required then [they] may issue a temporary exception / waiver. However,
justification must be based on the life, safety, or asset protection of the City and/or general
public. If the deviation will be required for more than 30 days, the deviation must be approved
by the Mayor". The Terms and Definitions say "Temporary -- Less than thirty (30) days", so a
waiver of 30 days or more is not temporary and needs the Mayor's approval (this agrees with
POLICY.md's "for less than 30 days; longer needs the Mayor's approval").

How it is encoded:

- *Authority*: the office under which the waiver is granted is recorded as a title
  (``director_of_public_safety`` or ``city_operations_director``) next to the principal who
  recorded it; any other title is refused. Which principals may call :meth:`WaiverRegistry.grant`
  is the permission table's business (action ``waiver.grant``).
- *Justification*: a non-empty justification and one of the three reason kinds ``life``,
  ``safety``, ``asset_protection``.
- *Duration*: ``[start, end)`` with ``end > start``; not backdated (a waiver cannot legitimise
  what already happened); less than 30 days unless a Mayor's approval reference is recorded. It
  expires by the clock: :meth:`WaiverRegistry.active` never returns it at or after ``end``.
- *Scope*: one named resource of a kind registered with :meth:`WaiverRegistry.register_scope`,
  never a wildcard, never the whole system. A kind says which waivable rules something in the
  service actually applies to it; a waiver that nothing would apply is refused
  (``WAIVER_HAS_NO_EFFECT``), never recorded as if it did something.

What a waiver does (the enforcement that looks it up): a waiver of P1 for ``searches/<id>``
(``lifecycle.waiver_searches``) lets a missing-person or life-safety search run without an open
criminal case, in a scope of its own (its own key, templates and gallery scope), only while the
waiver is active, and destroys that scope by the durable purge the moment the waiver ends or is
revoked. Waivers of the other Table 1 conditions (P5, P6, P12), and of P1 inside a case, have no
effect in this service yet and are refused as such.

Which rules a waiver may relax (reading of "a deviation from the permissible and intended use or a
condition as listed in Table 1"): only Table 1's conditions, that is P1 (who may be targeted: for
example enrolling an abducted victim, for life), P5 (a registered individual's zones), P6
(presence, never identity: for example finding a missing vulnerable person) and P12's "the
purpose must be one of Table 1's permissible uses" (never its "name the case and a reason").

A waiver never relaxes anything else, and never brings back what is gone:

- P2, P3 (destruction when the basis ends) and P4: "Legal hold is the only exception"; a waiver
  never suspends destruction, never resurrects destroyed data, and never applies to a closed
  case, a released subject or an ended order (a purged scope): :meth:`WaiverRegistry.grant`
  refuses such a scope and :meth:`WaiverRegistry.active` stops answering for it the moment its
  basis ends, whatever the waiver's end;
- P7, P8 (Section 2.2 "under no circumstances ... unless ... Table 1"; the definition of biometric
  data), P9 (retention has its own 90-day mechanism in Section 3.11), P10, P11, P14, P18
  (Section 3), P13 (Table 2 is not Table 1), P15, P16, P17 (accountability: a waiver is itself
  audited and reported).

Every grant, refused grant and revocation is audited (P16). Looking a waiver up is not: the
decision that relies on it records the waiver's id in its own audit record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.actions import Action
from lifecycle.audit import REFUSED, AuditLog
from lifecycle.cases import new_id, require_reason
from lifecycle.clock import Clock
from lifecycle.db import Database
from lifecycle.errors import AuditedRefusal, Kind, PolicyError
from lifecycle.governance_models import Waiver

ACTION_GRANT: Final = Action.WAIVER_GRANT
ACTION_REVOKE: Final = Action.WAIVER_REVOKE

DIRECTOR_OF_PUBLIC_SAFETY: Final = "director_of_public_safety"
CITY_OPERATIONS_DIRECTOR: Final = "city_operations_director"
GRANTING_TITLES: Final = frozenset({DIRECTOR_OF_PUBLIC_SAFETY, CITY_OPERATIONS_DIRECTOR})

REASON_KINDS: Final = frozenset({"life", "safety", "asset_protection"})
# Terms and Definitions: "Temporary -- Less than thirty (30) days."
TEMPORARY: Final = timedelta(days=30)
# Clock skew tolerated between the caller naming "now" as the start and the grant's own clock.
BACKDATE_TOLERANCE: Final = timedelta(minutes=1)

# Table 1's conditions, the only ones Section 5.1 lets a waiver relax.
WAIVABLE_RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "P1": "who may be targeted (the subject's role); the case must still be open, the subject active",
        "P5": "a registered individual's zones; never beyond the order's period",
        "P6": "presence, never identity, in a declared emergency",
        "P12": "the purpose being one of Table 1's permissible uses; a reason is still required",
    }
)
# Why each other rule may never be waived; refusals quote it.
NEVER_WAIVABLE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "P2": "destruction when a subject is no longer of interest; only a legal hold suspends it (P4)",
        "P3": "destruction when the case ends; only a legal hold suspends it (P4)",
        "P4": "the legal hold is the law's exception, not a waiver's",
        "P7": "Section 2.2: nobody else is targeted under any circumstances",
        "P8": "derived data is biometric data by definition",
        "P9": "retention has its own mechanism (Section 3.11), not a waiver",
        "P10": "separation of duties (Section 3) is not a Table 1 condition",
        "P11": "access and yearly revalidation (Section 3) are not Table 1 conditions",
        "P13": "sharing follows Table 2, which Section 5.1 does not let a waiver relax",
        "P14": "secure external access (Section 3) is not a Table 1 condition",
        "P15": "waivers themselves are not waivable",
        "P16": "everything is audited, waivers included",
        "P17": "reporting is not waivable",
        "P18": "encryption (Section 3.10) is not a Table 1 condition",
    }
)

# Refusal reasons (names of matcher.v1.ErrorReason values).
WAIVER_AUTHORITY_REQUIRED: Final = "WAIVER_AUTHORITY_REQUIRED"
WAIVER_JUSTIFICATION_REQUIRED: Final = "WAIVER_JUSTIFICATION_REQUIRED"
WAIVER_RULE_NOT_WAIVABLE: Final = "WAIVER_RULE_NOT_WAIVABLE"
WAIVER_PERIOD_INVALID: Final = "WAIVER_PERIOD_INVALID"
WAIVER_MAYOR_APPROVAL_REQUIRED: Final = "WAIVER_MAYOR_APPROVAL_REQUIRED"
WAIVER_SCOPE_INVALID: Final = "WAIVER_SCOPE_INVALID"
WAIVER_SCOPE_PURGED: Final = "WAIVER_SCOPE_PURGED"
WAIVER_NOT_FOUND: Final = "WAIVER_NOT_FOUND"
WAIVER_NOT_ACTIVE: Final = "WAIVER_NOT_ACTIVE"
WAIVER_HAS_NO_EFFECT: Final = "WAIVER_HAS_NO_EFFECT"

_SEGMENT = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SCOPE = re.compile(rf"^[a-z][a-zA-Z]{{0,31}}/{_SEGMENT}(?:/[a-z][a-zA-Z]{{0,31}}/{_SEGMENT})*$")

# A scope kind's liveness check: True when the scope's legal basis still holds, False when it has
# ended (closed, released, ended), None when the resource does not exist.
ScopeCheck = Callable[[Session, str], bool | None]


@dataclass(frozen=True)
class ScopeKind:
    """A collection of resources waivers may name, and what the service does with them.

    ``rules``: the waivable rules that some enforcement in the service applies to such a scope
    (anything else is refused as having no effect). ``created_by_grant``: the scope is the
    waiver's own (a search), so it must not exist yet; ``alive`` then says False for a scope an
    ended waiver used (never reused) and True for one already taken. ``ending`` runs in the
    revocation's transaction (to record the scope's purge), inside ``revoking()``; ``ended``
    after the commit (to drop in-memory copies).
    """

    collection: str
    alive: ScopeCheck
    rules: frozenset[str]
    created_by_grant: bool = False
    ending: Callable[[Session, Waiver, str, str], None] | None = None
    revoking: Callable[[], AbstractContextManager[None]] = field(default=nullcontext)
    ended: Callable[[str], None] | None = None
    # The justifications that may open such a scope (all three when None).
    reason_kinds: frozenset[str] | None = None


PENDING, ACTIVE, EXPIRED, REVOKED = "pending", "active", "expired", "revoked"


@dataclass(frozen=True)
class WaiverView:
    waiver: Waiver
    state: str  # pending, active, expired or revoked


def _case_scope_alive(session: Session, scope: str) -> bool | None:
    """``cases/<id>`` or ``cases/<id>/subjects/<id>[/...]``: open case, active subject."""
    parts = scope.split("/")
    case = session.get(m.Case, parts[1])
    if case is None:
        return None
    if len(parts) >= 4 and parts[2] == "subjects":
        subject = session.scalars(
            select(m.Subject).where(m.Subject.case_id == parts[1], m.Subject.subject_id == parts[3])
        ).first()
        if subject is None:
            return None
        if subject.state != m.SUBJECT_ACTIVE:
            return False
    elif len(parts) > 2:
        return None  # Only subjects are scopes inside a case.
    return case.state == m.CASE_OPEN


def state_of(waiver: Waiver, at: datetime) -> str:
    if waiver.revoked_at is not None and waiver.revoked_at <= at:
        return REVOKED
    if at < waiver.start_at:
        return PENDING
    return ACTIVE if at < waiver.end_at else EXPIRED


class WaiverRegistry:
    """Grants, revokes and answers for waivers (P15)."""

    def __init__(self, db: Database, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        # Cases may be named (so that a waiver for a closed case is refused as such), but no
        # rule is applied to them: a waiver of a case is refused as having no effect.
        self._scopes: dict[str, ScopeKind] = {"cases": ScopeKind("cases", _case_scope_alive, frozenset())}

    def register_scope(self, kind: ScopeKind) -> None:
        """Lets waivers name resources of a collection, given what the service does with them.
        Unregistered collections are refused."""
        self._scopes[kind.collection] = kind

    # --- granting -----------------------------------------------------------------------------

    def grant(
        self,
        actor: str,
        *,
        granted_by_title: str,
        rule: str,
        scope: str,
        justification: str,
        reason_kind: str,
        start: datetime | None,
        end: datetime,
        mayor_approval: str | None = None,
    ) -> Waiver:
        """Records a waiver after checking authority, justification, rule, period and scope.

        A refusal is audited in a transaction of its own and raised as ``PolicyError``.
        """
        now = self.clock.now()
        start_at = start if start is not None else now
        approval = (mayor_approval or "").strip() or None
        resource = f"waivers/{scope.strip()[:200]}" if scope.strip() else "waivers"
        try:
            with self.db.transaction() as session:
                self._check(session, actor, granted_by_title, rule, scope, justification, reason_kind)
                self._check_period(now, start_at, end, approval)
                waiver = Waiver(
                    id=new_id(),
                    rule=rule,
                    scope=scope,
                    justification=justification.strip(),
                    reason_kind=reason_kind,
                    granted_by=actor.strip(),
                    granted_by_title=granted_by_title,
                    mayor_approval=approval,
                    created_at=now,
                    start_at=start_at,
                    end_at=end,
                )
                session.add(waiver)
                self.audit.append(
                    session,
                    actor=actor.strip(),
                    action=ACTION_GRANT,
                    resource=f"waivers/{waiver.id}",
                    reason=waiver.justification,
                    detail={
                        "waiver": waiver.id,
                        "rule": "P15",
                        "waived_rule": rule,
                        "scope": scope,
                        "reason_kind": reason_kind,
                        "granted_by_title": granted_by_title,
                        "start": start_at.isoformat(),
                        "end": end.isoformat(),
                        "days": round((end - start_at) / timedelta(days=1), 3),
                        "mayor_approval": approval or "",
                    },
                )
                return waiver
        except PolicyError as error:
            self.audit.record(
                actor=actor.strip()[:200] or "anonymous",
                action=ACTION_GRANT,
                resource=resource,
                reason=justification.strip()[:1000],
                outcome=REFUSED,
                code=error.reason,
                detail={
                    "message": error.message,
                    "rule": error.rule or "P15",
                    "waived_rule": rule[:16],
                    "granted_by_title": granted_by_title[:64],
                },
            )
            raise AuditedRefusal.of(error) from error

    def _check(
        self,
        session: Session,
        actor: str,
        title: str,
        rule: str,
        scope: str,
        justification: str,
        reason_kind: str,
    ) -> None:
        if title not in GRANTING_TITLES or not actor.strip():
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                WAIVER_AUTHORITY_REQUIRED,
                "only the Director of Public Safety or the City Operations Director may grant a "
                f"waiver (title {', '.join(sorted(GRANTING_TITLES))}), recorded by a named principal (P15)",
                rule="P15",
            )
        if not justification.strip() or reason_kind not in REASON_KINDS:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                WAIVER_JUSTIFICATION_REQUIRED,
                "a waiver needs a justification based on life, safety or asset protection (reason "
                "kind life, safety or asset_protection) (P15)",
                rule="P15",
            )
        if len(justification.strip()) > 1000:
            raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "the justification is too long")
        if rule not in WAIVABLE_RULES:
            why = NEVER_WAIVABLE.get(rule, "not a rule of the policy")
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                WAIVER_RULE_NOT_WAIVABLE,
                f"{rule!r} may not be waived: {why}; only Table 1's conditions "
                f"({', '.join(WAIVABLE_RULES)}) may be (P15)",
                rule="P15",
            )
        if len(scope) > 300 or not _SCOPE.match(scope) or scope.split("/")[0] not in self._scopes:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                WAIVER_SCOPE_INVALID,
                f"a waiver names one resource (for example cases/<id> or cases/<id>/subjects/<id>; "
                f"collections: {', '.join(sorted(self._scopes))}), never a wildcard (P15)",
                rule="P15",
            )
        kind = self._scopes[scope.split("/")[0]]
        if rule not in kind.rules:
            applied = [f"{r} for {k.collection}/<id>" for k in self._scopes.values() for r in sorted(k.rules)]
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                WAIVER_HAS_NO_EFFECT,
                f"nothing in this service applies a waiver of {rule} to {kind.collection}, so it is "
                "refused rather than recorded as if it did something; waivers that take effect: "
                f"{', '.join(applied) or 'none'} (P15)",
                rule="P15",
            )
        if kind.reason_kinds is not None and reason_kind not in kind.reason_kinds:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                WAIVER_JUSTIFICATION_REQUIRED,
                f"a waiver for {kind.collection}/<id> is justified only by "
                f"{' or '.join(sorted(kind.reason_kinds))}, not {reason_kind} (P15)",
                rule="P15",
            )
        alive = kind.alive(session, scope)
        if kind.created_by_grant:
            if len(scope.split("/")) != 2:
                raise PolicyError(
                    Kind.INVALID_ARGUMENT,
                    WAIVER_SCOPE_INVALID,
                    f"a waiver's own scope is named {kind.collection}/<id>, nothing below it (P15)",
                    rule="P15",
                )
            if alive is None:
                return  # a new scope, the waiver's own
            raise PolicyError(
                Kind.FAILED_PRECONDITION if alive is False else Kind.ALREADY_EXISTS,
                WAIVER_SCOPE_PURGED if alive is False else WAIVER_SCOPE_INVALID,
                f"{scope!r} "
                + (
                    "was the scope of a waiver that has ended, and its data is destroyed: name a new one"
                    if alive is False
                    else "already has its waiver: revoke it, or name a new scope"
                )
                + " (P15)",
                rule="P15",
            )
        if alive is None:
            raise PolicyError(
                Kind.NOT_FOUND, WAIVER_SCOPE_INVALID, f"{scope!r} does not exist (P15)", rule="P15"
            )
        if not alive:
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                WAIVER_SCOPE_PURGED,
                f"the legal basis of {scope!r} has ended and its data is destroyed or being destroyed: "
                "a waiver never brings it back (P15, P2, P3)",
                rule="P15",
            )

    @staticmethod
    def _check_period(now: datetime, start: datetime, end: datetime, approval: str | None) -> None:
        if start.tzinfo is None or end.tzinfo is None:
            raise PolicyError(
                Kind.INVALID_ARGUMENT, WAIVER_PERIOD_INVALID, "give the period in UTC-aware instants"
            )
        if end <= start or start < now - BACKDATE_TOLERANCE:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                WAIVER_PERIOD_INVALID,
                "a waiver needs a period [start, end) with end after start, starting now or later "
                "(a waiver cannot be backdated) (P15)",
                rule="P15",
            )
        if end - start >= TEMPORARY and approval is None:
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                WAIVER_MAYOR_APPROVAL_REQUIRED,
                f"a waiver of {(end - start) / timedelta(days=1):g} days is not temporary (less than "
                "30 days): record the Mayor's approval (P15, Section 5.1)",
                rule="P15",
            )

    # --- revoking -----------------------------------------------------------------------------

    def revoke(self, actor: str, waiver_id: str, reason: str) -> Waiver:
        """Ends a waiver early; only ever narrows what is allowed, so any authorised caller may.

        When the waiver's scope is its own (a search), the scope's purge is recorded in the same
        transaction and its in-memory copies go before this returns.
        """
        kind = self._kind_of_waiver(waiver_id)
        try:
            reason = require_reason(reason)
            with kind.revoking() if kind else nullcontext():
                waiver = self._revoke(actor, waiver_id, reason, kind)
                if kind is not None and kind.ended is not None:
                    kind.ended(waiver.scope)
                return waiver
        except PolicyError as error:
            self.audit.record(
                actor=actor.strip()[:200] or "anonymous",
                action=ACTION_REVOKE,
                resource=f"waivers/{waiver_id[:32]}",
                reason=reason.strip()[:1000],
                outcome=REFUSED,
                code=error.reason,
                detail={"message": error.message, "rule": error.rule or "P15"},
            )
            raise AuditedRefusal.of(error) from error

    def _kind_of_waiver(self, waiver_id: str) -> ScopeKind | None:
        with self.db.reading() as session:
            waiver = session.get(Waiver, waiver_id)
        return self._scopes.get(waiver.scope.split("/")[0]) if waiver is not None else None

    def _revoke(self, actor: str, waiver_id: str, reason: str, kind: ScopeKind | None) -> Waiver:
        with self.db.transaction() as session:
            waiver = session.get(Waiver, waiver_id, with_for_update=True)
            if waiver is None:
                raise PolicyError(
                    Kind.NOT_FOUND, WAIVER_NOT_FOUND, f"waiver {waiver_id!r} does not exist", rule="P15"
                )
            now = self.clock.now()
            if state_of(waiver, now) in (EXPIRED, REVOKED):
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    WAIVER_NOT_ACTIVE,
                    f"waiver {waiver_id!r} has already ended",
                    rule="P15",
                )
            waiver.revoked_at, waiver.revoked_by, waiver.revoke_reason = now, actor.strip(), reason
            if kind is not None and kind.ending is not None:
                kind.ending(session, waiver, actor.strip(), reason)
            self.audit.append(
                session,
                actor=actor.strip(),
                action=ACTION_REVOKE,
                resource=f"waivers/{waiver_id}",
                reason=reason,
                detail={"waiver": waiver_id, "waived_rule": waiver.rule, "rule": "P15"},
            )
            return waiver

    # --- answering ----------------------------------------------------------------------------

    def active(self, rule: str, scope: str, at: datetime | None = None) -> Waiver | None:
        """The waiver of ``rule`` in force for ``scope`` at ``at`` (default: now), or None.

        A waiver on ``cases/c`` covers ``cases/c/subjects/s``. Nothing is answered for a rule that
        may not be waived, or for a scope whose basis has ended (checked now, not at ``at``:
        destroyed data stays destroyed). Of several waivers in force, the one ending last.
        """
        at = at if at is not None else self.clock.now()
        if rule not in WAIVABLE_RULES or not _SCOPE.match(scope):
            return None
        collection = scope.split("/")[0]
        if collection not in self._scopes:
            return None
        parts = scope.split("/")
        covering = ["/".join(parts[:i]) for i in range(2, len(parts) + 1, 2)]
        with self.db.transaction() as session:
            if not self._scopes[collection].alive(session, scope):
                return None
            found = session.scalars(
                select(Waiver)
                .where(
                    Waiver.rule == rule,
                    Waiver.scope.in_(covering),
                    Waiver.start_at <= at,
                    Waiver.end_at > at,
                    or_(Waiver.revoked_at.is_(None), Waiver.revoked_at > at),
                )
                .order_by(Waiver.end_at.desc(), Waiver.id)
                .limit(1)
            ).first()
            return found

    def list(self, at: datetime | None = None, *, rule: str | None = None) -> list[WaiverView]:
        """Every waiver ever granted (they are records, never deleted), with its state at ``at``."""
        at = at if at is not None else self.clock.now()
        with self.db.transaction() as session:
            query = select(Waiver)
            if rule is not None:
                query = query.where(Waiver.rule == rule)
            rows = session.scalars(query.order_by(Waiver.created_at, Waiver.id))
            return [WaiverView(w, state_of(w, at)) for w in rows]
