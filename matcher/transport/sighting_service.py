"""SightingService and AlertService: faces seen in restricted zones, alerts to their operators."""

from __future__ import annotations

import queue
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Any

import numpy as np

from lifecycle.errors import Kind, PolicyError
from matcher.broadcast import AlertView
from matcher.embeddings import Vector, parse_embedding
from matcher.faces import FaceError, Reason
from matcher.model_loading import Unavailable
from matcher.transport import convert, names
from matcher.transport.calls import refusal_of, rpc, streaming
from matcher.transport.errors import Refusal, image_refusal
from matcher.v1 import sightings_pb2, sightings_pb2_grpc

POLL_SECONDS = 0.5


def _faces(app: Any, sighting: sightings_pb2.Sighting) -> tuple[list[Vector], str]:
    """The sighting's face vectors: sent embeddings, or every usable face of its image."""
    if sighting.image:
        pipeline = app.pipeline
        if isinstance(pipeline, Unavailable):
            raise PolicyError(Kind.FAILED_PRECONDITION, "FACE_PIPELINE_UNAVAILABLE", pipeline.why)
        try:
            found = pipeline.embed_image(sighting.image, purpose="search")
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


def _report(app: Any, actor: str, sighting: sightings_pb2.Sighting) -> sightings_pb2.SightingResult:
    camera = names.parts(sighting.camera, ("cameras",), "camera")[0]
    if not sighting.HasField("capture_time"):
        raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "a sighting needs its capture time")
    vectors, model = _faces(app, sighting)
    outcome = app.individuals.report(
        actor, camera, sighting.capture_time.ToDatetime(tzinfo=UTC), vectors, model, sighting.reason
    )
    return sightings_pb2.SightingResult(faces=outcome.faces, alerts=len(outcome.alerts))


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


class SightingService(sightings_pb2_grpc.SightingServiceServicer):
    def __init__(self, app: Any) -> None:
        self.app = app

    @rpc("sightings.report", lambda r: "sightings", audits_itself=True)
    def ReportSighting(self, request: sightings_pb2.Sighting, actor: str) -> sightings_pb2.SightingResult:
        return _report(self.app, actor, request)

    @streaming("sightings.report", lambda r: "sightings", request_type=sightings_pb2.Sighting)
    def StreamSightings(
        self, requests: Iterable[sightings_pb2.Sighting], actor: str, context: Any
    ) -> sightings_pb2.StreamSightingsSummary:
        """A camera's feed: each sighting is checked and audited as it comes; one refused
        sighting (say, a clock far ahead) is counted and reported, and the feed goes on."""
        summary = sightings_pb2.StreamSightingsSummary()
        limit = self.app.settings.max_message_bytes
        for sighting in requests:
            summary.sightings += 1
            try:
                if sighting.ByteSize() > limit:
                    raise PolicyError(
                        Kind.INVALID_ARGUMENT, "MESSAGE_TOO_LARGE", f"a sighting is at most {limit} bytes"
                    )
                result = _report(self.app, actor, sighting)
            except PolicyError as error:
                refusal: Refusal = refusal_of(
                    self.app, actor, "sightings.report", "sightings", sighting.reason, error
                )
                summary.refused += 1
                summary.first_refusal = summary.first_refusal or refusal.reason
                continue
            summary.faces += result.faces
            summary.alerts += result.alerts
        return summary


class AlertService(sightings_pb2_grpc.AlertServiceServicer):
    def __init__(self, app: Any) -> None:
        self.app = app

    @streaming("alerts.watch", lambda r: "alerts")
    def SubscribeAlerts(
        self, request: sightings_pb2.SubscribeAlertsRequest, actor: str, context: Any
    ) -> Iterator[sightings_pb2.Alert]:
        """Replays what the operator has not acknowledged (and what follows the resume token),
        then streams live alerts of the operator's zones until the call ends."""
        zones = self.app.individuals.registry.operator_zones(actor)
        try:
            after = int(request.resume_token) if request.resume_token else None
        except ValueError:
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "PAGE_TOKEN_INVALID", "the resume token is not one of ours"
            ) from None
        subscription_cm = self.app.individuals.hub.subscribe(lambda alert: bool(zones & set(alert.zones)))
        subscription = subscription_cm.__enter__()  # Subscribed before the replay: nothing falls between.
        backlog = self.app.individuals.pending_alerts(actor, zones, after)
        self.app.lifecycle.audit.record(
            actor=actor,
            action="alerts.watch",
            resource="alerts",
            count=len(backlog),
            detail={"zones": sorted(zones), "resume_token": request.resume_token},
        )

        def stream() -> Iterator[sightings_pb2.Alert]:
            sent: set[int] = set()
            try:
                for alert in backlog:
                    sent.add(alert.id)
                    yield alert_message(alert)
                while context.is_active():
                    if subscription.overflowed:  # Alerts were dropped from the live queue:
                        subscription.overflowed = False  # fetch what is still unacknowledged.
                        for alert in self.app.individuals.pending_alerts(actor, zones, None):
                            if alert.id not in sent:
                                sent.add(alert.id)
                                yield alert_message(alert)
                    try:
                        alert = subscription.queue.get(timeout=POLL_SECONDS)
                    except queue.Empty:
                        continue
                    if alert.id not in sent:
                        sent.add(alert.id)
                        yield alert_message(alert)
            finally:
                subscription_cm.__exit__(None, None, None)

        return stream()

    @rpc("alert.ack", lambda r: r.name, audits_itself=True)
    def AckAlert(self, request: sightings_pb2.AckAlertRequest, actor: str) -> sightings_pb2.AckAlertResponse:
        raw = names.parts(request.name, ("alerts",), "alert")[0]
        if not raw.isdigit():
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"{request.name!r} is not an alert name"
            )
        zones = self.app.individuals.registry.operator_zones(actor)
        self.app.individuals.acknowledge(actor, int(raw), zones)
        return sightings_pb2.AckAlertResponse()
