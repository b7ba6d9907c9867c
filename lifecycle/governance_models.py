"""Tables of governance records: disclosures to third parties (P13), waivers (P15), declared
emergencies (P6) and complaints received (P17).

Kept apart from ``lifecycle.models`` (the data the policy protects) and ``lifecycle.access_models``
(who may act) because these rows record *decisions about* the data, made by named people under
named authority. They reference cases by id without a foreign key on purpose: a refused request
for a case that does not exist is a decision too, and P13/P16 want it kept. Nothing here is
biometric (P8): a disclosure row says who asked, for what, under which basis and what was
decided, never a template, a face or where anybody was seen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.db import Base, UtcDateTime


class Disclosure(Base):
    """One sharing decision under Table 2 (P13), allowed or refused, and whether it was released.

    ``refusal_reason`` is empty when the decision allowed the release. ``packaged_at`` is set when
    the manifest was produced: one decision releases data at most once, so that every release
    outside the system is traceable to exactly one recorded decision.
    """

    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_decided_at", "decided_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[str] = mapped_column(String(63), index=True)
    recipient_kind: Mapped[str] = mapped_column(String(64))
    recipient_name: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(64))
    legal_reference: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    includes_biometric: Mapped[bool]
    basis_ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    allowed: Mapped[bool]
    refusal_reason: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    packaged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    packaged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Waiver(Base):
    """A temporary, justified deviation from one Table 1 rule within one scope (P15, Section 5.1).

    ``granted_by`` is the principal who recorded it; ``granted_by_title`` the office under whose
    authority it was granted (the policy names offices, not accounts). ``mayor_approval`` is the
    reference of the Mayor's approval, required for a waiver of 30 days or more.
    """

    __tablename__ = "waivers"
    __table_args__ = (Index("ix_waivers_rule_scope", "rule", "scope"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(300))
    justification: Mapped[str] = mapped_column(Text)
    reason_kind: Mapped[str] = mapped_column(String(32))
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_by_title: Mapped[str] = mapped_column(String(64))
    mayor_approval: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Emergency(Base):
    """An emergency declared by the Director of Health or Human Services (P6): for its zones and
    period, health officials may count the people a camera sees, never learn who they are.

    ``declared_by`` is the principal who declared it. ``revoked_at`` is set when it was ended
    before ``end_at``. Rows are records: never deleted, they hold no biometric data.
    """

    __tablename__ = "emergencies"
    __table_args__ = (Index("ix_emergencies_end_at", "end_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    declared_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class EmergencyZone(Base):
    """A zone an emergency covers (by id: a record of what was declared, like the rows above)."""

    __tablename__ = "emergency_zones"

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    emergency_id: Mapped[str] = mapped_column(String(32), index=True)
    zone_id: Mapped[str] = mapped_column(String(63), index=True)


class Complaint(Base):
    """A complaint about the surveillance systems received from the public (P17, Executive Order 78).

    Recorded so that the transparency report can count complaints by category. It holds no
    personal data: no complainant, no person, plate or place; ``summary`` is a short description
    of the concern that :mod:`lifecycle.complaints` refuses when it looks like it names someone.
    """

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_received_at", "received_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


GOVERNANCE_TABLES = (
    Disclosure.__table__,
    Waiver.__table__,
    Emergency.__table__,
    EmergencyZone.__table__,
    Complaint.__table__,
)
