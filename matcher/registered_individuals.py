"""Registered individuals (P5, P7, P8): order templates, sightings routed to orders, alerts.

A sighting is compared only with the templates of orders that restrict a zone of its camera and
whose period covers its capture time; when no order routes, the index is not consulted at all.
Hits are re-checked against the database (routing again, in the transaction that stores the
alert), so an order revoked or ended meanwhile never raises an alert. Probes are dropped after
matching (P7). Alerts hold ids, score, camera and time, never a template, and are destroyed with
the order (P8). The audit record of a sighting says how many faces and alerts, never who was
seen where.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from lifecycle import order_models as o
from lifecycle.actions import Action
from lifecycle.cases import Lifecycle, require_reason
from lifecycle.errors import Kind, PolicyError
from lifecycle.orders import Registry, order_scope
from matcher import crypto, wiping
from matcher.broadcast import AlertView, Broadcast
from matcher.embeddings import Vector
from matcher.face_matching import FaceMatcher
from matcher.keys import ScopeKeys
from matcher.sighting_receipts import SightingReceipts

ALERT_OWNER = 0  # Order templates have no subject: one owner id for all of an order's rows.


def order_template_aad(order_id: str, template_id: str, model: str) -> bytes:
    return f"matcher/v1/order-template/{order_id}/{template_id}/{model}".encode()


@dataclass
class PreparedSighting:
    """A sighting checked, routed and matched, waiting to be confirmed and stored: ids, scores
    and counts only (the probes are gone, P7)."""

    actor: str
    camera_id: str
    captured_at: datetime
    reason: str
    sighting_id: str
    faces: int
    now: datetime
    routed: int = 0
    duplicate: bool = False
    candidates: dict[tuple[int, str], tuple[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class SightingOutcome:
    faces: int
    alerts: list[AlertView]
    routed_orders: int
    duplicate: bool = False


class RegisteredIndividuals:
    def __init__(
        self,
        lifecycle: Lifecycle,
        registry: Registry,
        keys: ScopeKeys,
        faces: FaceMatcher,
        hub: Broadcast[AlertView],
        *,
        alert_min_score: float,
        max_clock_skew: timedelta,
    ) -> None:
        self._lc = lifecycle
        self.receipts = SightingReceipts(lifecycle)
        self.registry = registry
        self._keys = keys
        self._faces = faces
        self.hub = hub
        self._min_score = alert_min_score
        self._skew = max_clock_skew
        # Alerts raised by other replicas reach this one's subscribers (matcher.replication):
        # the newest alert id seen, and the ids this process published itself since.
        with lifecycle.db.reading() as session:
            self._alert_cursor = int(session.scalar(select(func.max(o.Alert.id))) or 0)
        self._published_here: set[int] = set()

    # --- templates ------------------------------------------------------------------------

    def enroll(self, actor: str, order_id: str, vector: Vector, model: str, reason: str) -> o.OrderTemplate:
        """P5: templates only under an active order, encrypted under the order's key."""
        reason = require_reason(reason)
        dim = self._faces.model_dim(model)
        template_id = secrets.token_hex(8)
        with self._faces.staging() as staged:
            with self._lc.db.transaction() as session:
                self.registry.active_order(session, order_id)
                key = self._keys.order_key(session, order_id, create=True)
                nonce, ciphertext = crypto.encrypt(
                    key, vector.astype("<f4").tobytes(), order_template_aad(order_id, template_id, model)
                )
                row = o.OrderTemplate(
                    id=template_id,
                    order_id=order_id,
                    model=model,
                    dim=dim,
                    nonce=nonce,
                    ciphertext=ciphertext,
                    created_at=self._lc.clock.now(),
                    created_by=actor,
                )
                session.add(row)
                self._lc.audit.append(
                    session,
                    actor=actor,
                    action=Action.ORDER_ENROLL,
                    resource=f"orders/{order_id}",
                    reason=reason,
                    count=1,
                    detail={"template": template_id, "model": model, "rule": "P5"},
                )
            staged.add(order_scope(order_id), ALERT_OWNER, [template_id], vector[np.newaxis, :], model)
        return row

    def rebuild(self) -> int:
        """Loads templates of orders whose period has not ended, and nothing else."""
        loaded = 0
        now = self._lc.clock.now()
        with self._faces.changing(), self._lc.db.transaction() as session:
            rows = session.execute(
                select(o.OrderTemplate)
                .join(o.Order, o.Order.id == o.OrderTemplate.order_id)
                .where(o.Order.state == o.ORDER_ACTIVE, o.Order.end_at > now)
            ).scalars()
            for row in rows:
                if row.model not in self._faces.models:
                    continue
                key = self._keys.order_key(session, row.order_id, create=False)
                plain = crypto.decrypt(
                    key, row.nonce, row.ciphertext, order_template_aad(row.order_id, row.id, row.model)
                )
                vector = np.frombuffer(plain, dtype="<f4").astype(np.float32)
                self._faces.add_to_scope(
                    order_scope(row.order_id), ALERT_OWNER, [row.id], vector[np.newaxis, :], row.model
                )
                loaded += 1
        return loaded

    # --- replicas: what other processes committed -------------------------------------------

    def reconcile(self) -> tuple[int, int]:
        """Makes the order scopes hold exactly the templates of orders in force (another
        replica's enrolment, amendment, revocation or end); returns (dropped, added)."""

        def wanted() -> dict[str, tuple[str, int, str]]:
            now = self._lc.clock.now()
            with self._lc.db.reading() as session:
                rows = session.execute(
                    select(o.OrderTemplate.id, o.OrderTemplate.order_id, o.OrderTemplate.model)
                    .join(o.Order, o.Order.id == o.OrderTemplate.order_id)
                    .where(o.Order.state == o.ORDER_ACTIVE, o.Order.end_at > now)
                ).all()
            return {row.id: (order_scope(row.order_id), ALERT_OWNER, row.model) for row in rows}

        return self._faces.sync(wanted, self._load_order_templates, lambda scope: scope.startswith("orders/"))

    def _load_order_templates(self, template_ids: list[str]) -> dict[str, Vector]:
        loaded: dict[str, Vector] = {}
        with self._lc.db.reading() as session:
            for row in session.scalars(select(o.OrderTemplate).where(o.OrderTemplate.id.in_(template_ids))):
                key = self._keys.order_key(session, row.order_id, create=False)
                loaded[row.id] = wiping.decrypt_vector(
                    key, row.nonce, row.ciphertext, order_template_aad(row.order_id, row.id, row.model)
                )
        return loaded

    def catch_up_alerts(self) -> int:
        """Publishes to this process's subscribers the alerts other replicas raised since the
        last look (at least once: each subscriber's stream skips what it already sent)."""
        with self._lc.db.reading() as session:
            rows = session.execute(
                select(o.Alert, o.Order.label)
                .join(o.Order, o.Order.id == o.Alert.order_id)
                .where(o.Alert.id > self._alert_cursor)
                .order_by(o.Alert.id)
            ).all()
        views = [
            AlertView(
                alert.id,
                alert.order_id,
                label,
                alert.camera_id,
                tuple(alert.zones.split(",")),
                alert.score,
                alert.captured_at,
                alert.created_at,
            )
            for alert, label in rows
            if alert.id not in self._published_here
        ]
        if rows:
            self._alert_cursor = max(self._alert_cursor, max(alert.id for alert, _ in rows))
            self._published_here = {i for i in self._published_here if i > self._alert_cursor}
        self.hub.publish(views)
        return len(views)

    # --- sightings ------------------------------------------------------------------------

    def report(
        self,
        actor: str,
        camera_id: str,
        captured_at: datetime,
        probes: list[Vector],
        model: str,
        reason: str,
        sighting_id: str = "",
    ) -> SightingOutcome:
        """Routes, matches and alerts one sighting. A ``sighting_id`` this actor already reported
        is a gateway's resend after a lost stream: acknowledged, audited, not matched again."""
        prepared = self.prepare(actor, camera_id, captured_at, probes, model, reason, sighting_id)
        [outcome] = self.store_many([prepared])
        if isinstance(outcome, PolicyError):
            raise outcome
        return outcome

    def prepare(
        self,
        actor: str,
        camera_id: str,
        captured_at: datetime,
        probes: list[Vector],
        model: str,
        reason: str,
        sighting_id: str = "",
    ) -> PreparedSighting:
        """Checks, routes and matches one sighting on a reader (no write lock, no commit); the
        probes are dropped here (P7). ``store_many`` then confirms and stores what it found."""
        reason = require_reason(reason)
        now = self._lc.clock.now()
        face_count = len(probes)
        if captured_at > now + self._skew:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "CAPTURE_TIME_IN_FUTURE",
                f"capture time {captured_at.isoformat()} is more than {self._skew.total_seconds():.0f} s "
                "ahead of the service's clock; check the camera's clock",
            )
        prepared = PreparedSighting(actor, camera_id, captured_at, reason, sighting_id, face_count, now)
        if sighting_id and self.receipts.seen(actor, sighting_id):
            prepared.duplicate = True
            return prepared
        with self._lc.db.reading() as session:
            if session.get(o.Camera, camera_id) is None:
                raise PolicyError(
                    Kind.NOT_FOUND, "CAMERA_NOT_FOUND", f"camera {camera_id!r} is not registered"
                )
            routes = self.registry.route(session, camera_id, captured_at)
        prepared.routed = len(routes)
        if routes and probes:  # P5: no route, no comparison: the index is not consulted at all.
            scopes = [order_scope(route.order_id) for route in routes]
            found = self._faces.search_scopes(
                scopes, probes, model, top_k=len(scopes) * 4, min_score=self._min_score
            )
            for face, hits in enumerate(found):
                for hit in hits:  # Best first: keep each order's best template per face.
                    order_id = hit.case_id.removeprefix("orders/")
                    prepared.candidates.setdefault((face, order_id), (hit.template_id, hit.score))
        del probes  # P7
        return prepared

    def store_many(self, sightings: list[PreparedSighting]) -> list[SightingOutcome | PolicyError]:
        """Stores consecutive sightings of a stream in one unit of work (one commit, not one per
        frame), each in its own savepoint with its own audit record: a sighting refused here
        (its camera deleted meanwhile, say) rolls back alone and is answered with its error.
        Hits are confirmed against the routes and templates in force in this transaction, so an
        order revoked or ended meanwhile raises no alert; a ``sighting_id`` taken earlier (or
        earlier in this batch) is a duplicate."""
        outcomes: list[SightingOutcome | PolicyError] = []
        with self._lc.db.transaction() as session:
            for sighting in sightings:
                try:
                    with session.begin_nested():
                        outcomes.append(self._store(session, sighting))
                except PolicyError as error:
                    outcomes.append(error)
        alerts = [
            alert for outcome in outcomes if isinstance(outcome, SightingOutcome) for alert in outcome.alerts
        ]
        self._published_here.update(alert.id for alert in alerts)
        self.hub.publish(alerts)
        return outcomes

    def _store(self, session: Session, sighting: PreparedSighting) -> SightingOutcome:
        actor, camera_id, captured_at, now = (
            sighting.actor,
            sighting.camera_id,
            sighting.captured_at,
            sighting.now,
        )
        if sighting.duplicate or (
            sighting.sighting_id and self.receipts.take(session, actor, sighting.sighting_id)
        ):  # seen before, or the same id concurrently / earlier in this batch
            self.receipts.duplicate(session, actor, sighting.reason, sighting.faces)
            return SightingOutcome(sighting.faces, [], 0, duplicate=True)
        alerts: list[AlertView] = []
        if sighting.candidates:
            confirmed = {r.order_id: r for r in self.registry.route(session, camera_id, captured_at)}
            for (_, order_id), (template_id, score) in sorted(sighting.candidates.items()):
                route = confirmed.get(order_id)
                present = session.scalar(select(exists().where(o.OrderTemplate.id == template_id)))
                if route is None or not present:
                    continue  # revoked, ended or amended meanwhile
                order = self.registry.order(session, order_id)
                row = o.Alert(
                    order_id=order_id,
                    camera_id=camera_id,
                    zones=",".join(route.zones),
                    template_id=template_id,
                    score=score,
                    captured_at=captured_at,
                    created_at=now,
                )
                session.add(row)
                session.flush()
                alerts.append(
                    AlertView(row.id, order_id, order.label, camera_id, route.zones, score, captured_at, now)
                )
        self._lc.audit.append(
            session,
            actor=actor,
            action=Action.SIGHTINGS_REPORT,
            resource="sightings",
            reason=sighting.reason,
            count=len(alerts),
            detail={
                "faces": sighting.faces,
                "orders_routed": sighting.routed,
                "rule": "P5",
            },
        )
        return SightingOutcome(sighting.faces, alerts, sighting.routed)

    # --- alerts ---------------------------------------------------------------------------

    def pending_alerts(self, principal_id: str, zones: frozenset[str], after: int | None) -> list[AlertView]:
        """Alerts of these zones the operator has not acknowledged, plus, when resuming, every
        alert after the resume token (at-least-once: nothing unacknowledged is ever skipped)."""
        with self._lc.db.transaction() as session:
            acked = select(o.AlertAck.alert_id).where(o.AlertAck.principal_id == principal_id)
            wanted: ColumnElement[bool] = ~o.Alert.id.in_(acked)
            if after is not None:
                wanted = wanted | (o.Alert.id > after)
            rows = session.execute(
                select(o.Alert, o.Order.label)
                .join(o.Order, o.Order.id == o.Alert.order_id)
                .where(wanted)
                .order_by(o.Alert.id)
            ).all()
            views = []
            for alert, label in rows:
                alert_zones = tuple(alert.zones.split(","))
                if zones & set(alert_zones):
                    views.append(
                        AlertView(
                            alert.id,
                            alert.order_id,
                            label,
                            alert.camera_id,
                            alert_zones,
                            alert.score,
                            alert.captured_at,
                            alert.created_at,
                        )
                    )
            return views

    def acknowledge(self, actor: str, alert_id: int, zones: frozenset[str]) -> None:
        with self._lc.db.transaction() as session:
            alert = session.get(o.Alert, alert_id)
            if alert is None or not zones & set(alert.zones.split(",")):
                # Same answer for an alert of another zone as for one that does not exist.
                raise PolicyError(Kind.NOT_FOUND, "ALERT_NOT_FOUND", f"alert {alert_id} does not exist")
            done = session.scalar(
                select(exists().where(o.AlertAck.alert_id == alert_id, o.AlertAck.principal_id == actor))
            )
            if not done:
                session.add(o.AlertAck(alert_id=alert_id, principal_id=actor, at=self._lc.clock.now()))
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.ALERT_ACK,
                resource=f"alerts/{alert_id}",
                count=0 if done else 1,
            )
