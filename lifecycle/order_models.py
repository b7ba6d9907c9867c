"""Tables for registered individuals (P5): cameras, zones, orders, their templates and alerts.

An order's face templates are encrypted under the order's own data key (wrapped by the
key-encryption key), so that destroying that key at the end of the period, and the KEK generation
that wrapped its copies, crypto-erases them.
Alerts are derived biometric data (P8: where and when a person was identified) and are destroyed
with the order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.db import Base, UtcDateTime

ORDER_ACTIVE, ORDER_REVOKED, ORDER_ENDED = "active", "revoked", "ended"


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class Zone(Base):
    """A named set of cameras: the areas an order may restrict."""

    __tablename__ = "zones"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class ZoneCamera(Base):
    __tablename__ = "zone_cameras"
    __table_args__ = (UniqueConstraint("zone_id", "camera_id"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.id"), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)


class Order(Base):
    """A court order or statute forbidding a person to be in certain zones during [start, end)."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    legal_reference: Mapped[str] = mapped_column(Text)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class OrderZone(Base):
    __tablename__ = "order_zones"
    __table_args__ = (UniqueConstraint("order_id", "zone_id"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.id"), index=True)


class OrderKey(Base):
    __tablename__ = "order_keys"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderTemplate(Base):
    __tablename__ = "order_templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int]
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class Alert(Base):
    """A registered individual seen by a camera of a restricted zone during the order's period."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    # The zones (of the order) the camera is in, comma-separated: who may see the alert.
    zones: Mapped[str] = mapped_column(String(1000))
    template_id: Mapped[str] = mapped_column(String(32))
    score: Mapped[float]
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertAck(Base):
    __tablename__ = "alert_acks"
    __table_args__ = (UniqueConstraint("alert_id", "principal_id"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    principal_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class OperatorZone(Base):
    """Which zones' alerts an alert operator may see."""

    __tablename__ = "operator_zones"
    __table_args__ = (UniqueConstraint("principal_id", "zone_id"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    principal_id: Mapped[str] = mapped_column(String(128), index=True)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.id"))


class SightingReceipt(Base):
    """That a gateway's sighting (by the id the gateway chose) was taken: a gateway that lost its
    stream sends its unacknowledged sightings again, and the ones already taken are not matched
    nor alerted twice. Holds no face, camera or time of capture (P7, P8); pruned after a day."""

    __tablename__ = "sighting_receipts"
    __table_args__ = (UniqueConstraint("principal_id", "sighting_id"),)

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    principal_id: Mapped[str] = mapped_column(String(128))
    sighting_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
