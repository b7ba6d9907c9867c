"""Tables of who may do what (P10, P11): principals, their roles, their cases, failed log-ins.

Kept apart from ``lifecycle.models`` so that the schema of the policy's data (cases, templates)
and the schema of its users can evolve separately; both register on the same ``Base``. Rows here
describe staff and partner systems, never the people being searched for, so nothing here is
biometric data (P8). History (who granted what, when) lives in the audit log, which survives the
deletion of a revoked grant or an ended assignment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.db import Base, UtcDateTime

# Kinds of principal: a person, or a system calling over mutual TLS (P14).
KIND_HUMAN, KIND_SYSTEM = "human", "system"
PRINCIPAL_KINDS = frozenset({KIND_HUMAN, KIND_SYSTEM})


class Principal(Base):
    """A caller the service knows: a person or a system, identified by its certificate CN or token.

    ``last_revalidated_at`` is the last approval by a head of the principal's department (P11);
    ``None`` means never approved, which stops an end user's account like an expired approval.
    ``unlocked_at`` marks where the lockout counter restarts, so that failures from before an
    administrator's release do not lock the account again at the next typo.
    """

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    last_revalidated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revalidated_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lock_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    unlocked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RoleGrant(Base):
    """One role held by one principal. A revoked grant is deleted; the audit log keeps its history."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("principal_id", "role"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    granted_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CaseAssignment(Base):
    """A case a case-scoped principal (investigator, external partner) may work on or view.

    The foreign key to ``cases`` means an assignment exists only for a real case; the access check
    therefore never has to look the case itself up, and cannot reveal whether it exists.
    """

    __tablename__ = "case_assignments"
    __table_args__ = (UniqueConstraint("principal_id", "case_id"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(128))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuthFailure(Base):
    """One failed authentication (P11 lockout). ``principal_id`` is set when the identity is known."""

    __tablename__ = "auth_failures"
    __table_args__ = (
        Index("ix_auth_failures_principal_at", "principal_id", "at"),
        Index("ix_auth_failures_at", "at"),
    )

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    principal_id: Mapped[str | None] = mapped_column(ForeignKey("principals.id"), nullable=True)
    presented_identity: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    peer: Mapped[str] = mapped_column(String(200))


class HeadApproval(Base):
    """The Mayor's designee's approval of a department head (P11, Section 3.4).

    Department-level access is granted by the Mayor or her/his designee; the head then approves
    the department's end users. A head's revalidation counts only while this row exists, so an
    administrator who creates a head and an investigator cannot make the investigator work alone.
    """

    __tablename__ = "head_approvals"

    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str] = mapped_column(String(128))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime)
