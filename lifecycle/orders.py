"""Registered individuals (P5): cameras, zones, orders and the routing of sightings to orders.

An order names a person (pseudonymously), the restricted zones and a period ``[start, end)``.
A sighting may be compared with an order's templates only if the camera is in one of the
order's zones **and** the capture instant lies inside the period **and** the period has not
ended by the time the sighting is processed; anything else is never routed to the order at all.
At ``end`` (or on revocation) the order's biometric data, alerts included (P8), is destroyed by
the same durable purge machinery as cases: the worker wakes at the next end instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle import order_models as o
from lifecycle.actions import Action
from lifecycle.cases import Lifecycle, check_id, new_id, request_purge, require_reason
from lifecycle.errors import Kind, PolicyError

# The orders a sighting may be compared with (``Registry.route``).
_ROUTE = (
    select(o.Order.id, o.OrderZone.zone_id)
    .join(o.OrderZone, o.OrderZone.order_id == o.Order.id)
    .join(o.ZoneCamera, o.ZoneCamera.zone_id == o.OrderZone.zone_id)
    .where(
        o.ZoneCamera.camera_id == bindparam("camera"),
        # Not by the state's index: SQLite (no statistics) would scan every active order that
        # way; from the camera's few zones it reads only their orders (plan checked in a test).
        func.coalesce(o.Order.state, "") == bindparam("active"),
        o.Order.start_at <= bindparam("captured", type_=o.Order.start_at.type),
        o.Order.end_at > bindparam("captured", type_=o.Order.end_at.type),
        o.Order.end_at > bindparam("now", type_=o.Order.end_at.type),  # ended, not yet purged: never (P5)
    )
)


@dataclass(frozen=True)
class Route:
    """An order a sighting may be compared with, and the zones through which it applies."""

    order_id: str
    zones: tuple[str, ...]


def order_scope(order_id: str) -> str:
    """The scope name of an order's templates in the in-memory galleries."""
    return f"orders/{order_id}"


def _not_found(what: str, value: str, reason: str) -> PolicyError:
    return PolicyError(Kind.NOT_FOUND, reason, f"{what} {value!r} does not exist")


class Registry:
    """Cameras, zones and orders over the system of record, every change audited."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lc = lifecycle
        lifecycle.add_due_source(self)

    # --- cameras and zones (administrators) ------------------------------------------------

    def create_camera(self, actor: str, camera_id: str, description: str, reason: str) -> o.Camera:
        reason = require_reason(reason)
        check_id(camera_id, "camera id")
        with self._lc.db.transaction() as session:
            if session.get(o.Camera, camera_id) is not None:
                raise PolicyError(
                    Kind.ALREADY_EXISTS, "CAMERA_ALREADY_EXISTS", f"camera {camera_id!r} exists"
                )
            camera = o.Camera(
                id=camera_id,
                description=description.strip()[:200],
                created_at=self._lc.clock.now(),
                created_by=actor,
            )
            session.add(camera)
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.CAMERA_CREATE,
                resource=f"cameras/{camera_id}",
                reason=reason,
            )
        return camera

    def cameras(self) -> list[o.Camera]:
        with self._lc.db.reading() as session:
            return list(session.scalars(select(o.Camera).order_by(o.Camera.id)))

    def _check_cameras(self, session: Session, camera_ids: Sequence[str]) -> list[str]:
        cameras = list(dict.fromkeys(camera_ids))
        for camera_id in cameras:
            if session.get(o.Camera, camera_id) is None:
                raise _not_found("camera", camera_id, "CAMERA_NOT_FOUND")
        return cameras

    def create_zone(
        self, actor: str, zone_id: str, description: str, camera_ids: Sequence[str], reason: str
    ) -> o.Zone:
        reason = require_reason(reason)
        check_id(zone_id, "zone id")
        with self._lc.db.transaction() as session:
            if session.get(o.Zone, zone_id) is not None:
                raise PolicyError(Kind.ALREADY_EXISTS, "ZONE_ALREADY_EXISTS", f"zone {zone_id!r} exists")
            cameras = self._check_cameras(session, camera_ids)
            zone = o.Zone(
                id=zone_id,
                description=description.strip()[:200],
                created_at=self._lc.clock.now(),
                created_by=actor,
            )
            session.add(zone)
            session.flush()
            session.add_all(o.ZoneCamera(zone_id=zone_id, camera_id=c) for c in cameras)
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.ZONE_CREATE,
                resource=f"zones/{zone_id}",
                reason=reason,
                count=len(cameras),
                detail={"cameras": cameras},
            )
        return zone

    def set_zone_cameras(self, actor: str, zone_id: str, camera_ids: Sequence[str], reason: str) -> None:
        """Replaces a zone's cameras; routing follows at once (P5: only the zone's cameras count)."""
        reason = require_reason(reason)
        with self._lc.db.transaction() as session:
            if session.get(o.Zone, zone_id) is None:
                raise _not_found("zone", zone_id, "ZONE_NOT_FOUND")
            cameras = self._check_cameras(session, camera_ids)
            session.execute(delete(o.ZoneCamera).where(o.ZoneCamera.zone_id == zone_id))
            session.add_all(o.ZoneCamera(zone_id=zone_id, camera_id=c) for c in cameras)
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.ZONE_UPDATE,
                resource=f"zones/{zone_id}",
                reason=reason,
                count=len(cameras),
                detail={"cameras": cameras},
            )

    def zones(self) -> list[tuple[o.Zone, list[str]]]:
        with self._lc.db.reading() as session:
            zones = list(session.scalars(select(o.Zone).order_by(o.Zone.id)))
            links = session.execute(select(o.ZoneCamera.zone_id, o.ZoneCamera.camera_id)).all()
            cameras: dict[str, list[str]] = {}
            for zone_id, camera_id in links:
                cameras.setdefault(zone_id, []).append(camera_id)
            return [(zone, sorted(cameras.get(zone.id, []))) for zone in zones]

    def set_operator_zones(self, actor: str, principal_id: str, zone_ids: Sequence[str], reason: str) -> None:
        """Which zones' alerts an alert operator sees (configuration, by an administrator)."""
        reason = require_reason(reason)
        with self._lc.db.transaction() as session:
            zones = list(dict.fromkeys(zone_ids))
            for zone_id in zones:
                if session.get(o.Zone, zone_id) is None:
                    raise _not_found("zone", zone_id, "ZONE_NOT_FOUND")
            session.execute(delete(o.OperatorZone).where(o.OperatorZone.principal_id == principal_id))
            session.add_all(o.OperatorZone(principal_id=principal_id, zone_id=z) for z in zones)
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.OPERATOR_ZONES,
                resource=f"principals/{principal_id}",
                reason=reason,
                count=len(zones),
                detail={"zones": zones},
            )

    def operator_zones(self, principal_id: str) -> frozenset[str]:
        with self._lc.db.reading() as session:
            return frozenset(
                session.scalars(
                    select(o.OperatorZone.zone_id).where(o.OperatorZone.principal_id == principal_id)
                )
            )

    # --- orders (registry officers) --------------------------------------------------------

    def order(self, session: Session, order_id: str, *, for_update: bool = False) -> o.Order:
        query = select(o.Order).where(o.Order.id == order_id)
        if for_update:
            query = query.with_for_update()
        order = session.scalars(query).first()
        if order is None:
            raise _not_found("order", order_id, "ORDER_NOT_FOUND")
        return order

    def order_zones(self, session: Session, order_id: str) -> list[str]:
        return sorted(session.scalars(select(o.OrderZone.zone_id).where(o.OrderZone.order_id == order_id)))

    def _check_order_terms(
        self, session: Session, legal_reference: str, zone_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[str]:
        problems = []
        if not legal_reference.strip():
            problems.append("its legal reference (court order or statute)")
        if not zone_ids:
            problems.append("at least one restricted zone")
        if end <= start:
            problems.append("an end after its start")
        if end <= self._lc.clock.now():
            problems.append("an end in the future")
        if problems:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "ORDER_INVALID",
                "an order needs " + ", ".join(problems) + " (P5)",
                rule="P5",
            )
        zones = list(dict.fromkeys(zone_ids))
        for zone_id in zones:
            if session.get(o.Zone, zone_id) is None:
                raise _not_found("zone", zone_id, "ZONE_NOT_FOUND")
        return zones

    def create_order(
        self,
        actor: str,
        order_id: str,
        label: str,
        legal_reference: str,
        zone_ids: Sequence[str],
        start: datetime,
        end: datetime,
        reason: str,
    ) -> o.Order:
        """P5: biometrics of a registered individual may be collected only under such an order."""
        reason = require_reason(reason)
        order_id = check_id(order_id or new_id(), "order id")
        with self._lc.db.transaction() as session:
            if session.get(o.Order, order_id) is not None:
                raise PolicyError(Kind.ALREADY_EXISTS, "ORDER_ALREADY_EXISTS", f"order {order_id!r} exists")
            zones = self._check_order_terms(session, legal_reference, zone_ids, start, end)
            order = o.Order(
                id=order_id,
                label=(label.strip() or order_id)[:200],
                legal_reference=legal_reference.strip(),
                start_at=start,
                end_at=end,
                state=o.ORDER_ACTIVE,
                created_at=self._lc.clock.now(),
                created_by=actor,
            )
            session.add(order)
            session.flush()
            session.add_all(o.OrderZone(order_id=order_id, zone_id=z) for z in zones)
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.ORDER_CREATE,
                resource=f"orders/{order_id}",
                reason=reason,
                detail={
                    "legal_reference": order.legal_reference,
                    "zones": zones,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "rule": "P5",
                },
            )
        self._lc.wake_purges()  # the worker must wake at this order's end
        return order

    def amend_order(
        self,
        actor: str,
        order_id: str,
        legal_reference: str,
        zone_ids: Sequence[str] | None,
        end: datetime | None,
        reason: str,
    ) -> o.Order:
        """New zones or a new end, under a new legal reference; shrinking takes effect at once."""
        reason = require_reason(reason)
        with self._lc.revoking(), self._lc.db.transaction() as session:
            order = self._active(session, order_id)
            zones = self._check_order_terms(
                session,
                legal_reference,
                zone_ids if zone_ids is not None else self.order_zones(session, order_id),
                order.start_at,
                end or order.end_at,
            )
            order.legal_reference = legal_reference.strip()
            if end is not None:
                order.end_at = end
            session.execute(delete(o.OrderZone).where(o.OrderZone.order_id == order_id))
            session.add_all(o.OrderZone(order_id=order_id, zone_id=z) for z in zones)
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.ORDER_AMEND,
                resource=f"orders/{order_id}",
                reason=reason,
                detail={
                    "legal_reference": order.legal_reference,
                    "zones": zones,
                    "end": order.end_at.isoformat(),
                    "rule": "P5",
                },
            )
        self._lc.wake_purges()
        return order

    def _active(self, session: Session, order_id: str) -> o.Order:
        order = self.order(session, order_id, for_update=True)
        if order.state != o.ORDER_ACTIVE or order.end_at <= self._lc.clock.now():
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                "ORDER_NOT_ACTIVE",
                f"order {order_id!r} has ended or was revoked; its data is destroyed (P5)",
                rule="P5",
            )
        return order

    def active_order(self, session: Session, order_id: str) -> o.Order:
        """An order that may still receive templates: not revoked, not past its end."""
        return self._active(session, order_id)

    def revoke_order(self, actor: str, order_id: str, reason: str) -> o.Order:
        """Ends an order early: unmatchable at the commit, destroyed by the purge worker."""
        reason = require_reason(reason)
        with self._lc.revoking():
            with self._lc.db.transaction() as session:
                order = self._active(session, order_id)
                self._end(session, order, o.ORDER_REVOKED, m.TRIGGER_ORDER_REVOKED, actor, reason)
            self._lc.ended(order_scope(order_id))
        return order

    def _end(
        self, session: Session, order: o.Order, state: str, trigger: str, actor: str, reason: str
    ) -> None:
        now = self._lc.clock.now()
        order.state, order.ended_at, order.end_reason = state, now, reason
        request_purge(session, trigger, actor, reason, now, order_id=order.id)
        self._lc.audit.append(
            session,
            actor=actor,
            action=Action.ORDER_REVOKE if state == o.ORDER_REVOKED else "order.end",
            resource=f"orders/{order.id}",
            reason=reason,
            detail={"rule": "P5"},
        )

    def orders(self) -> list[o.Order]:
        with self._lc.db.reading() as session:
            return list(session.scalars(select(o.Order).order_by(o.Order.id)))

    def template_count(self, session: Session, order_id: str) -> int:
        return int(
            session.scalar(
                select(func.count()).select_from(o.OrderTemplate).where(o.OrderTemplate.order_id == order_id)
            )
            or 0
        )

    # --- routing (P5) ----------------------------------------------------------------------

    def route(self, session: Session, camera_id: str, captured_at: datetime) -> list[Route]:
        """The orders a sighting from this camera at this instant may be compared with, and why."""
        now = self._lc.clock.now()
        # Core, compiled once: one statement per sighting of a feed, so no ORM machinery.
        rows = session.connection().execute(
            _ROUTE, {"camera": camera_id, "active": o.ORDER_ACTIVE, "captured": captured_at, "now": now}
        )
        zones: dict[str, list[str]] = {}
        for order_id, zone_id in rows:
            zones.setdefault(order_id, []).append(zone_id)
        return [Route(order_id, tuple(sorted(z))) for order_id, z in sorted(zones.items())]

    # --- expiry (the purge worker asks) ----------------------------------------------------

    def expire_due(self) -> None:
        """Ends every order whose period is over and records its purge (P5), in one transaction."""
        now = self._lc.clock.now()
        with self._lc.revoking():
            with self._lc.db.transaction() as session:
                due = list(
                    session.scalars(
                        select(o.Order)
                        .where(o.Order.state == o.ORDER_ACTIVE, o.Order.end_at <= now)
                        .with_for_update()
                    )
                )
                for order in due:
                    self._end(
                        session,
                        order,
                        o.ORDER_ENDED,
                        m.TRIGGER_ORDER_ENDED,
                        "system:purge-worker",
                        f"the order's period ended at {order.end_at.isoformat()}",
                    )
            for order in due:
                self._lc.ended(order_scope(order.id), notify_worker=False)

    def next_due(self) -> datetime | None:
        with self._lc.db.reading() as session:
            value: datetime | None = session.scalar(
                select(func.min(o.Order.end_at)).where(o.Order.state == o.ORDER_ACTIVE)
            )
            return value
