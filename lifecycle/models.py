"""Tables of the system of record.

Biometric data (face templates) and watchlist plates are stored only as AES-256-GCM ciphertext
under a per-subject (or per-case) data key, the subject key wrapped by the case key, the case key
by a key-encryption key that lives outside the database (decision 5). A purge deletes the
``DataKey`` row and then retires the KEK generation that wrapped every other copy of it (dead
tuples, the WAL, backups): see ``PURGE_KEK_ROTATED`` and :mod:`matcher.kek_rotation`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.db import Base, UtcDateTime

# Value sets of the state columns; mirrored by the proto enums of matcher.v1.
CASE_OPEN, CASE_CLOSED = "open", "closed"
SUBJECT_ACTIVE, SUBJECT_RELEASED = "active", "released"
TARGETABLE_ROLES = frozenset({"person_of_interest", "suspect"})
ROLES = TARGETABLE_ROLES | {"witness", "victim"}


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    close_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Subject(Base):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("case_id", "subject_id"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    subject_id: Mapped[str] = mapped_column(String(63))
    label: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class DataKey(Base):
    """A wrapped AES-256 data key: the case's (subject_pk NULL) or one subject's."""

    __tablename__ = "data_keys"
    __table_args__ = (UniqueConstraint("case_id", "subject_pk"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    subject_pk: Mapped[int | None] = mapped_column(ForeignKey("subjects.pk"), nullable=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FaceTemplate(Base):
    """One enrolled face embedding, encrypted; the AAD binds it to its case, subject and id."""

    __tablename__ = "face_templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    subject_pk: Mapped[int] = mapped_column(ForeignKey("subjects.pk"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int]
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class PlateEntry(Base):
    """A vehicle of interest on a case's watchlist, optionally tied to a subject.

    The plate as written (with its normalised pattern) is encrypted like a template: under the
    subject's key when tied to a subject, else under the case key, so that P2 and P3 crypto-erase
    it too. ``index_id`` is the integer id of the entry in the in-memory plate index.
    """

    __tablename__ = "plate_entries"

    index_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    subject_pk: Mapped[int | None] = mapped_column(ForeignKey("subjects.pk"), nullable=True, index=True)
    region: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class PlateHitRecord(Base):
    """A watchlist hit of a read the caller may not see in detail: a camera gateway's (issue 17).

    The gateway learns only that its read hit and the opaque ``reference`` (one per read); the
    entry, case and subject are for the case's assigned investigators (P8, P10, P14). What was
    read, by which camera and how it matched is encrypted under the entry's own key (the
    subject's, else the case's), so releasing the subject (P2) or closing the case (P3)
    crypto-erases it with the entry, and the purge deletes the rows. A hit is also a plate read:
    it is deleted after the retention period (P9, 30 days) unless a legal hold holds the case.
    The capture and creation times stay in clear for ordering and expiry; alone they name no
    vehicle and no place.
    """

    __tablename__ = "plate_hits"

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    reference: Mapped[str] = mapped_column(String(32), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    subject_pk: Mapped[int | None] = mapped_column(ForeignKey("subjects.pk"), nullable=True, index=True)
    entry_id: Mapped[str] = mapped_column(String(32), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    captured_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class LegalHold(Base):
    __tablename__ = "legal_holds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    authority_kind: Mapped[str] = mapped_column(String(32))
    authority: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lifted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lift_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


# Purge states, in the order the worker moves through them (decision 4).
PURGE_PENDING = "pending"
PURGE_KEY_DESTROYED = "key_destroyed"
PURGE_ROWS_DELETED = "rows_deleted"
PURGE_CHECKPOINTED = "checkpointed"
PURGE_KEK_ROTATED = "kek_rotated"  # every copy of the purged key retired with its KEK (P18)
PURGE_DONE = "done"
TRIGGER_CASE_CLOSED = "case_closed"
TRIGGER_SUBJECT_RELEASED = "subject_released"
TRIGGER_ORDER_ENDED = "order_ended"
TRIGGER_ORDER_REVOKED = "order_revoked"
# P15: a waiver's own search scope ended with its waiver (by the clock, or revoked).
TRIGGER_WAIVER_ENDED = "waiver_ended"
TRIGGER_WAIVER_REVOKED = "waiver_revoked"


class Purge(Base):
    """A durable destruction job, created in the transaction that ended the legal basis."""

    __tablename__ = "purges"
    __table_args__ = (Index("ix_purges_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # The scope purged: a case (or one of its subjects), a registered-individual order, or a
    # waiver's search scope.
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    subject_pk: Mapped[int | None] = mapped_column(ForeignKey("subjects.pk"), nullable=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), nullable=True, index=True)
    # Or a waiver's own search scope (P15). No foreign key: the column is added to existing
    # databases by a migration (``ALTER TABLE ... ADD COLUMN``), which cannot add one on SQLite.
    waiver_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    trigger: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))
    face_template_count: Mapped[int] = mapped_column(default=0)
    plate_entry_count: Mapped[int] = mapped_column(default=0)
    alert_count: Mapped[int] = mapped_column(default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditRecord(Base):
    """One entry of the append-only, hash-chained audit log (P16). Never biometric content (P8).

    ``id`` is the order in which records were written (a database sequence, so that concurrent
    writers, replicas included, never contend for a chain head); ``seq``, ``prev_hash`` and
    ``hash`` are set when the sealer puts the record into the chain, a bounded moment later
    (:mod:`lifecycle.audit`). Until then the record is durable but not yet chained.
    """

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    resource: Mapped[str] = mapped_column(String(300), index=True)
    reason: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(64))
    detail_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
