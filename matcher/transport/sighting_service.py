"""SightingService and AlertService: faces seen in restricted zones, alerts to their operators.

Least privilege (issue 17; P8, P10, P14): a camera gateway's answer says that its sighting was
accepted (or why it was refused) and how many faces were checked, never whether one matched a
registered individual, nor an order, label or score; alerts go only to the zones' operators.
"""

from __future__ import annotations

import re
from datetime import UTC

import numpy as np

from lifecycle.actions import Action
from lifecycle.audit import REFUSED
from lifecycle.errors import Kind, PolicyError
from matcher.app import App
from matcher.broadcast import AlertView
from matcher.embeddings import Vector, parse_embedding
from matcher.faces import FaceError, Reason
from matcher.model_loading import Unavailable
from matcher.registered_individuals import PreparedSighting, SightingOutcome
from matcher.transport import convert, names
from matcher.transport.calls import client_stream, refusal_of, rpc, server_stream
from matcher.transport.dispatch import Feed, feed_source
from matcher.transport.errors import Refusal, image_refusal
from matcher.v1 import sightings_pb2

SIGHTING_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _faces(app: App, sighting: sightings_pb2.Sighting) -> tuple[list[Vector], str]:
    """The sighting's face vectors: sent embeddings, or every usable face of its image."""
    if sighting.image:
        pipeline = app.pipeline
        if isinstance(pipeline, Unavailable):
            raise PolicyError(Kind.FAILED_PRECONDITION, "FACE_PIPELINE_UNAVAILABLE", pipeline.why)
        try:
            found = pipeline.embed_image(
                sighting.image, purpose="search", aligned_crop=sighting.image_aligned_crop
            )
        except FaceError as error:
            if error.reason in (Reason.NO_FACE, Reason.FACE_TOO_SMALL, Reason.FACE_LOW_SCORE):
                return [], pipeline.model_id  # A frame without a usable face raises nothing.
            raise image_refusal(str(error.reason), error.message, error.details, "faces") from None
        return [np.asarray(f.embedding, dtype=np.float32) for f in found], pipeline.model_id
    models = {face.model or app.default_face_model for face in sighting.faces}
    if len(models) > 1:
        raise PolicyError(
            Kind.INVALID_ARGUMENT, "FIELD_INVALID", "the faces of one sighting come from one model"
        )
    model = models.pop() if models else app.default_face_model
    dim = app.faces.model_dim(model)
    return [parse_embedding(face.values, dim) for face in sighting.faces], model


def _prepare(app: App, actor: str, sighting: sightings_pb2.Sighting) -> PreparedSighting:
    """Checks a sighting, finds its faces and matches them (no write, no commit yet)."""
    camera = names.parts(sighting.camera, ("cameras",), "camera")[0]
    if not sighting.HasField("capture_time"):
        raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "a sighting needs its capture time")
    if sighting.sighting_id and not SIGHTING_ID.fullmatch(sighting.sighting_id):
        raise PolicyError(
            Kind.INVALID_ARGUMENT,
            "FIELD_INVALID",
            "a sighting_id is 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'",
        )
    vectors, model = _faces(app, sighting)
    return app.individuals.prepare(
        actor,
        camera,
        sighting.capture_time.ToDatetime(tzinfo=UTC),
        vectors,
        model,
        sighting.reason,
        sighting.sighting_id,
    )


def _result(outcome: SightingOutcome) -> sightings_pb2.SightingResult:
    # Issue 17 (P8, P10, P14): accepted, never whether anybody was recognised; the alerts went to
    # the operators of the zones.
    return sightings_pb2.SightingResult(faces=outcome.faces, accepted=True, duplicate=outcome.duplicate)


def alert_message(alert: AlertView) -> sightings_pb2.Alert:
    return sightings_pb2.Alert(
        name=f"alerts/{alert.id}",
        order=f"orders/{alert.order_id}",
        person_label=alert.person_label,
        camera=f"cameras/{alert.camera_id}",
        zones=[f"zones/{z}" for z in alert.zones],
        score=alert.score,
        capture_time=convert.timestamp(alert.captured_at),
        create_time=convert.timestamp(alert.created_at),
        resume_token=str(alert.id),
    )


MAX_LISTED_REFUSALS = 100


class SightingSession:
    """One camera feed (``StreamSightings``): each sighting is checked and audited on its own,
    the sightings of a batch stored in one commit;
    a refused sighting (say, a clock far ahead) is counted and reported, and the feed goes on.

    The summary tells the gateway what it needs to fix its feed, accepted or refused per
    sighting (the first 100 refusals with their position), never whether a face matched an
    order: that is for the zones' operators (issue 17; P8, P10, P14)."""

    def __init__(self, app: App, actor: str) -> None:
        self._app = app
        self._actor = actor
        self.summary = sightings_pb2.StreamSightingsSummary()

    def take(self, items: list[sightings_pb2.Sighting | Refusal]) -> None:
        """Checks and matches each sighting of the batch, then stores the accepted ones in one
        unit of work (one commit for the batch, each sighting still audited with its own record
        and refused on its own)."""
        pending: list[tuple[int, sightings_pb2.Sighting, PreparedSighting]] = []
        for item in items:
            index = self.summary.sightings
            self.summary.sightings += 1
            if isinstance(item, Refusal):
                self._app.audit.record(
                    actor=self._actor,
                    action=Action.SIGHTINGS_REPORT,
                    resource="sightings",
                    outcome=REFUSED,
                    code=item.reason,
                )
                self._refused(index, item)
                continue
            try:
                pending.append((index, item, _prepare(self._app, self._actor, item)))
            except PolicyError as error:
                self._refused(index, self._refusal(item, error))
        if not pending:
            return
        outcomes = self._app.individuals.store_many([prepared for _, _, prepared in pending])
        for (index, item, _), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, PolicyError):
                self._refused(index, self._refusal(item, outcome))
                continue
            self.summary.faces += outcome.faces
            self.summary.accepted += 1
            self.summary.duplicates += int(outcome.duplicate)

    def _refusal(self, item: sightings_pb2.Sighting, error: PolicyError) -> Refusal:
        return refusal_of(self._app, self._actor, "sightings.report", "sightings", item.reason, error)

    def _refused(self, index: int, refusal: Refusal) -> None:
        self.summary.refused += 1
        self.summary.first_refusal = self.summary.first_refusal or refusal.reason
        if len(self.summary.refusals) < MAX_LISTED_REFUSALS:
            self.summary.refusals.add(index=index, reason=refusal.reason)

    def finish(self) -> sightings_pb2.StreamSightingsSummary:
        return self.summary


class SightingService:
    def __init__(self, app: App) -> None:
        self.app = app

    @rpc("sightings.report", lambda r: "sightings", audits_itself=True)
    def ReportSighting(self, request: sightings_pb2.Sighting, actor: str) -> sightings_pb2.SightingResult:
        prepared = _prepare(self.app, actor, request)
        [outcome] = self.app.individuals.store_many([prepared])
        if isinstance(outcome, PolicyError):
            raise outcome
        return _result(outcome)

    @client_stream("sightings.report", lambda r: "sightings")
    def StreamSightings(self, actor: str) -> SightingSession:
        return SightingSession(self.app, actor)


class AlertService:
    def __init__(self, app: App) -> None:
        self.app = app

    @feed_source(lambda app: app.individuals.hub)
    @server_stream("alerts.watch", lambda r: "alerts")
    def SubscribeAlerts(self, request: sightings_pb2.SubscribeAlertsRequest, actor: str) -> Feed[AlertView]:
        """Replays what the operator has not acknowledged (and what follows the resume token),
        then streams live alerts of the operator's zones until the call ends."""
        individuals = self.app.individuals
        zones = individuals.registry.operator_zones(actor)
        after = names.number(request.resume_token, "resume token") if request.resume_token else None
        backlog = individuals.pending_alerts(actor, zones, after)
        self.app.audit.record(
            actor=actor,
            action=Action.ALERTS_WATCH,
            resource="alerts",
            count=len(backlog),
            detail={"zones": sorted(zones)[:20], "resumed": bool(request.resume_token)},
        )
        return Feed(
            backlog=[alert_message(alert) for alert in backlog],
            render=lambda alert: self._live(alert, zones),
            key=lambda message: str(getattr(message, "name")),  # noqa: B009
            refill=lambda: [alert_message(a) for a in individuals.pending_alerts(actor, zones, None)],
        )

    def _live(self, alert: AlertView, zones: frozenset[str]) -> sightings_pb2.Alert | None:
        """A live alert for this operator's zones, timed from its creation (the operator's
        delivery-lag metric), or None for another zone's."""
        if not zones & set(alert.zones):
            return None
        lag = (self.app.clock.now() - alert.created_at).total_seconds()
        self.app.metrics.alert_lag.observe(max(0.0, lag))
        return alert_message(alert)

    @rpc("alert.ack", lambda r: r.name, audits_itself=True)
    def AckAlert(self, request: sightings_pb2.AckAlertRequest, actor: str) -> sightings_pb2.AckAlertResponse:
        alert_id = names.number(names.parts(request.name, ("alerts",), "alert")[0], "alert id")
        zones = self.app.individuals.registry.operator_zones(actor)
        self.app.individuals.acknowledge(actor, alert_id, zones)
        return sightings_pb2.AckAlertResponse()
