"""Searches a Director's waiver allows outside any case (P1, P15; Section 5.1): the policy side.

P1 lets a face be targeted only in an open criminal case, for a person of interest or a suspect.
Section 5.1 lets the Director of Public Safety or the City Operations Director waive "a condition
as listed in Table 1" for the life, safety or asset protection of the public, temporarily. The
case the policy has in mind: a missing child, a person in danger, whom no criminal case targets.

What such a waiver does here, and nothing more:

- It is a waiver of ``P1`` whose scope is ``searches/<id>``, a scope of its own that the grant
  creates: not a case, never shared with one. It is justified by life or safety, never by asset
  protection alone (a person's face is searched for, not property). A scope id is used once:
  after its waiver ends it cannot be named again (``WAIVER_SCOPE_PURGED``).
- While the waiver is active (``[start, end)``, not revoked), investigators may enrol the sought
  person's face into that scope and search stills against it
  (``matcher.waiver_searches``), each enrolment and search audited with the waiver's id. The
  templates are encrypted under the scope's own key and kept in a gallery scope of their own, so
  no case search ever sees them and no waiver search sees a case's.
- The moment the waiver ends (its end, by the clock) or is revoked, the scope is unmatchable and
  its purge is recorded (in the revocation's transaction, or by the worker at the end instant):
  the durable purge destroys the key, deletes the templates, checkpoints and writes the receipt
  (trigger ``waiver_ended`` or ``waiver_revoked``), exactly as for cases and orders. No legal hold
  applies: a hold (P4) suspends the destruction of evidence, and a waiver's search holds none.
- Without an active waiver, every enrolment and search is refused (``WAIVER_REQUIRED``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.actions import Action
from lifecycle.cases import Lifecycle, request_purge
from lifecycle.errors import Kind, PolicyError
from lifecycle.governance_models import Waiver
from lifecycle.waivers import ACTIVE, ScopeKind, WaiverRegistry, state_of

COLLECTION: Final = "searches"
RULE: Final = "P1"
WAIVER_REQUIRED: Final = "WAIVER_REQUIRED"
SYSTEM_ACTOR: Final = "system:purge-worker"


def search_scope(waiver_id: str) -> str:
    """The gallery scope of a waiver's search (never a case id: those have no slash)."""
    return f"waivers/{waiver_id}"


def _purged(session: Session, waiver_id: str) -> bool:
    return bool(session.scalar(select(exists().where(m.Purge.waiver_id == waiver_id))))


class WaiverSearches:
    """The scopes P1 waivers create: who may use them, and their end (a purge source)."""

    def __init__(self, lifecycle: Lifecycle, waivers: WaiverRegistry) -> None:
        self._lc = lifecycle
        self.waivers = waivers
        waivers.register_scope(
            ScopeKind(
                COLLECTION,
                self._alive,
                frozenset({RULE}),
                created_by_grant=True,
                ending=self._revoked,
                revoking=lifecycle.revoking,
                ended=self._ended_scope,
                reason_kinds=frozenset({"life", "safety"}),  # a person's face, never for assets
            )
        )
        lifecycle.add_due_source(self)

    def _alive(self, session: Session, scope: str) -> bool | None:
        """None: no waiver ever named this scope; True: one is in force or pending; False: ended."""
        rows = list(session.scalars(select(Waiver).where(Waiver.scope == scope)))
        if not rows:
            return None
        now = self._lc.clock.now()
        return any(state_of(w, now) in (ACTIVE, "pending") and not _purged(session, w.id) for w in rows)

    def active(self, session: Session, waiver_id: str) -> Waiver:
        """The waiver, when it lets a search run now; ``WAIVER_REQUIRED`` otherwise (P1, P15)."""
        waiver = session.get(Waiver, waiver_id)
        now = self._lc.clock.now()
        if (
            waiver is None
            or waiver.rule != RULE
            or waiver.scope.split("/")[0] != COLLECTION
            or state_of(waiver, now) != ACTIVE
            or _purged(session, waiver.id)
        ):
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                WAIVER_REQUIRED,
                f"no active waiver of P1 for a search is named {f'waivers/{waiver_id}'[:80]!r}: a face may "
                "be targeted outside an open criminal case only under a Director's waiver, and only "
                "while it lasts (P1, P15)",
                rule="P1",
            )
        return waiver

    # --- the end of a search ---------------------------------------------------------------

    def _revoked(self, session: Session, waiver: Waiver, actor: str, reason: str) -> None:
        if not _purged(session, waiver.id):
            request_purge(
                session, m.TRIGGER_WAIVER_REVOKED, actor, reason, self._lc.clock.now(), waiver_id=waiver.id
            )

    def _ended_scope(self, scope: str) -> None:
        """After the revocation's commit: the in-memory copies go at once."""
        with self._lc.db.reading() as session:
            ids = list(session.scalars(select(Waiver.id).where(Waiver.scope == scope)))
        for waiver_id in ids:
            self._lc.ended(search_scope(waiver_id))

    def _due(self, session: Session, now: datetime) -> list[Waiver]:
        rows = session.scalars(
            select(Waiver).where(
                Waiver.rule == RULE,
                Waiver.scope.like(f"{COLLECTION}/%"),
                Waiver.revoked_at.is_(None),
                Waiver.end_at <= now,
            )
        )
        return [w for w in rows if not _purged(session, w.id)]

    def expire_due(self) -> None:
        """Records the purge of every search whose waiver has reached its end (the worker asks)."""
        now = self._lc.clock.now()
        with self._lc.revoking():
            with self._lc.db.transaction() as session:
                due = self._due(session, now)
                for waiver in due:
                    reason = f"the waiver's period ended at {waiver.end_at.isoformat()}"
                    request_purge(
                        session, m.TRIGGER_WAIVER_ENDED, SYSTEM_ACTOR, reason, now, waiver_id=waiver.id
                    )
                    self._lc.audit.append(
                        session,
                        actor=SYSTEM_ACTOR,
                        action=Action.WAIVER_END,
                        resource=f"waivers/{waiver.id}",
                        reason=reason,
                        detail={"waiver": waiver.id, "waived_rule": waiver.rule, "rule": "P15"},
                    )
            for waiver in due:
                self._lc.ended(search_scope(waiver.id), notify_worker=False)

    def next_due(self) -> datetime | None:
        with self._lc.db.reading() as session:
            ends = [
                w.end_at
                for w in session.scalars(
                    select(Waiver).where(
                        Waiver.rule == RULE, Waiver.scope.like(f"{COLLECTION}/%"), Waiver.revoked_at.is_(None)
                    )
                )
                if not _purged(session, w.id)
            ]
        return min(ends, default=None)

    def live_waivers(self, session: Session) -> list[Waiver]:
        """The searches whose templates belong in memory (for the rebuild at start)."""
        now = self._lc.clock.now()
        rows = session.scalars(
            select(Waiver).where(Waiver.rule == RULE, Waiver.scope.like(f"{COLLECTION}/%"))
        )
        return [w for w in rows if state_of(w, now) == ACTIVE and not _purged(session, w.id)]
