"""Declared emergencies (P6; Table 1, Public Health): when health officials may count people.

P6: "Health or human-services use may only detect that people are present during a declared
emergency; it never enrols, identifies or tracks anyone." How it is encoded:

- *Who declares*: the Director of Health or Human Services (role ``health_director``; the
  permission table gives ``emergency.declare`` to that role alone). A declarer never also counts:
  the role does not mix with ``health_official`` (P10, see ``lifecycle.access``), so nobody
  opens the window they then use.
- *Where*: one or more named zones (the cameras of those zones), never the whole city: a flood
  covers a district, a heat wave the cooling centres.
- *When*: ``[start, end)``, with an end, not backdated, and at most 30 days (the policy's
  "temporary"; a longer emergency is declared again, and audited again). It ends by the clock, or
  earlier when the director revokes it.
- *What it allows*: :meth:`EmergencyRegistry.covering` answers whether a camera is inside an
  active emergency; the count itself (detector only, nothing stored) is the presence service's.

Every declaration, refused declaration and revocation is audited (P16), with the reason (P12).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lifecycle import order_models as o
from lifecycle.audit import REFUSED, AuditLog
from lifecycle.cases import check_id, new_id, require_reason
from lifecycle.clock import Clock
from lifecycle.db import Database
from lifecycle.errors import AuditedRefusal, Kind, PolicyError
from lifecycle.governance_models import Emergency, EmergencyZone

ACTION_DECLARE: Final = "emergency.declare"
ACTION_END: Final = "emergency.end"

LONGEST: Final = timedelta(days=30)
"""The policy's "temporary" (Terms and Definitions: less than thirty days)."""
BACKDATE_TOLERANCE: Final = timedelta(minutes=1)
MAX_ZONES: Final = 50
MAX_TITLE: Final = 200

# Refusal reasons (names of matcher.v1.ErrorReason values).
EMERGENCY_NOT_DECLARED: Final = "EMERGENCY_NOT_DECLARED"
EMERGENCY_PERIOD_INVALID: Final = "EMERGENCY_PERIOD_INVALID"
EMERGENCY_SCOPE_INVALID: Final = "EMERGENCY_SCOPE_INVALID"
EMERGENCY_NOT_FOUND: Final = "EMERGENCY_NOT_FOUND"
EMERGENCY_ENDED: Final = "EMERGENCY_ENDED"

PENDING, ACTIVE, ENDED, REVOKED = "pending", "active", "ended", "revoked"


@dataclass(frozen=True)
class EmergencyView:
    emergency: Emergency
    zones: tuple[str, ...]
    state: str


def state_of(emergency: Emergency, at: datetime) -> str:
    if emergency.revoked_at is not None and emergency.revoked_at <= at:
        return REVOKED
    if at < emergency.start_at:
        return PENDING
    return ACTIVE if at < emergency.end_at else ENDED


class EmergencyRegistry:
    """Declares, ends and answers for emergencies (P6)."""

    def __init__(self, db: Database, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit

    def declare(
        self,
        actor: str,
        *,
        title: str,
        zones: list[str],
        start: datetime | None,
        end: datetime | None,
        reason: str,
    ) -> EmergencyView:
        """Records an emergency after checking its zones and period; a refusal is audited."""
        now = self.clock.now()
        try:
            reason = require_reason(reason)
            with self.db.transaction() as session:
                zone_ids = self._check_scope(session, title, zones)
                start_at = start if start is not None else now
                self._check_period(now, start_at, end)
                assert end is not None
                emergency = Emergency(
                    id=new_id(),
                    title=title.strip(),
                    declared_by=actor,
                    reason=reason,
                    created_at=now,
                    start_at=start_at,
                    end_at=end,
                )
                session.add(emergency)
                session.add_all(EmergencyZone(emergency_id=emergency.id, zone_id=z) for z in zone_ids)
                self.audit.append(
                    session,
                    actor=actor,
                    action=ACTION_DECLARE,
                    resource=f"emergencies/{emergency.id}",
                    reason=reason,
                    count=len(zone_ids),
                    detail={
                        "rule": "P6",
                        "zones": zone_ids,
                        "start": start_at.isoformat(),
                        "end": end.isoformat(),
                    },
                )
                return EmergencyView(emergency, tuple(zone_ids), state_of(emergency, now))
        except PolicyError as error:
            self.audit.record(
                actor=actor,
                action=ACTION_DECLARE,
                resource="emergencies",
                reason=reason.strip()[:1000],
                outcome=REFUSED,
                code=error.reason,
                detail={"rule": error.rule or "P6"},
            )
            raise AuditedRefusal.of(error) from error

    @staticmethod
    def _check_scope(session: Session, title: str, zones: list[str]) -> list[str]:
        zone_ids = list(dict.fromkeys(z.removeprefix("zones/") for z in zones))
        if not title.strip() or len(title.strip()) > MAX_TITLE or not zone_ids or len(zone_ids) > MAX_ZONES:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                EMERGENCY_SCOPE_INVALID,
                f"an emergency needs a title (at most {MAX_TITLE} characters) and the zones it covers "
                f"(1 to {MAX_ZONES}, as zones/<id>), never the whole city (P6)",
                rule="P6",
            )
        for zone_id in zone_ids:
            check_id(zone_id, "zone")
            if session.get(o.Zone, zone_id) is None:
                raise PolicyError(Kind.NOT_FOUND, "ZONE_NOT_FOUND", f"zone {zone_id!r} does not exist")
        return zone_ids

    @staticmethod
    def _check_period(now: datetime, start: datetime, end: datetime | None) -> None:
        if end is None or start.tzinfo is None or end.tzinfo is None:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                EMERGENCY_PERIOD_INVALID,
                "an emergency needs an end (P6): give end_time",
                rule="P6",
            )
        if end <= start or start < now - BACKDATE_TOLERANCE or end - start > LONGEST:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                EMERGENCY_PERIOD_INVALID,
                "an emergency's period [start, end) must start now or later (never backdated), end "
                f"after it starts, and last at most {LONGEST.days} days; declare it again to extend it (P6)",
                rule="P6",
            )

    def end(self, actor: str, emergency_id: str, reason: str) -> EmergencyView:
        """Ends an emergency early: counting stops at once. Audited, refusals too."""
        try:
            reason = require_reason(reason)
            with self.db.transaction() as session:
                emergency = session.get(Emergency, emergency_id, with_for_update=True)
                if emergency is None:
                    raise PolicyError(
                        Kind.NOT_FOUND,
                        EMERGENCY_NOT_FOUND,
                        f"emergency {emergency_id[:32]!r} does not exist",
                        rule="P6",
                    )
                now = self.clock.now()
                if state_of(emergency, now) in (ENDED, REVOKED):
                    raise PolicyError(
                        Kind.FAILED_PRECONDITION,
                        EMERGENCY_ENDED,
                        f"emergency {emergency_id!r} has already ended",
                        rule="P6",
                    )
                emergency.revoked_at, emergency.revoked_by, emergency.end_reason = now, actor, reason
                self.audit.append(
                    session,
                    actor=actor,
                    action=ACTION_END,
                    resource=f"emergencies/{emergency_id}",
                    reason=reason,
                    detail={"rule": "P6"},
                )
                return EmergencyView(emergency, self._zones(session, emergency_id), REVOKED)
        except PolicyError as error:
            self.audit.record(
                actor=actor,
                action=ACTION_END,
                resource=f"emergencies/{emergency_id[:32]}",
                reason=reason.strip()[:1000],
                outcome=REFUSED,
                code=error.reason,
                detail={"rule": error.rule or "P6"},
            )
            raise AuditedRefusal.of(error) from error

    @staticmethod
    def _zones(session: Session, emergency_id: str) -> tuple[str, ...]:
        return tuple(
            session.scalars(
                select(EmergencyZone.zone_id)
                .where(EmergencyZone.emergency_id == emergency_id)
                .order_by(EmergencyZone.pk)
            )
        )

    def list(self, at: datetime | None = None) -> list[EmergencyView]:
        """Every emergency ever declared (records, never deleted), with its state at ``at``."""
        at = at if at is not None else self.clock.now()
        with self.db.reading() as session:
            rows = session.scalars(select(Emergency).order_by(Emergency.created_at, Emergency.id)).all()
            return [EmergencyView(e, self._zones(session, e.id), state_of(e, at)) for e in rows]

    def covering(self, camera_id: str, at: datetime | None = None) -> Emergency:
        """The active emergency whose zones hold ``camera_id`` (the one ending last), or the refusal
        EMERGENCY_NOT_DECLARED. An unknown camera gets the same answer: a health official learns
        nothing of the camera network beyond the emergency's zones (least privilege)."""
        at = at if at is not None else self.clock.now()
        with self.db.reading() as session:
            found = session.scalars(
                select(Emergency)
                .join(EmergencyZone, EmergencyZone.emergency_id == Emergency.id)
                .join(o.ZoneCamera, o.ZoneCamera.zone_id == EmergencyZone.zone_id)
                .where(
                    o.ZoneCamera.camera_id == camera_id,
                    Emergency.start_at <= at,
                    Emergency.end_at > at,
                    or_(Emergency.revoked_at.is_(None), Emergency.revoked_at > at),
                )
                .order_by(Emergency.end_at.desc(), Emergency.id)
                .limit(1)
            ).first()
            if found is None:
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    EMERGENCY_NOT_DECLARED,
                    f"no emergency declared by the Director of Health or Human Services covers camera "
                    f"{camera_id!r} now: presence may be counted only during one, in its zones (P6)",
                    rule="P6",
                )
            session.expunge(found)
            return found
