"""PresenceService: declared emergencies and the presence count of P6.

P6: health and human services "may only detect that people are present during a declared
emergency; it never enrols, identifies or tracks anyone". The count runs the face detector alone
(``FacePipeline.count_faces``: no alignment, no embedding), answers a number without boxes, keeps
nothing of the frame, and is audited with the emergency and the count only: no camera, no time of
a person, nothing that could place anybody (P8).
"""

from __future__ import annotations

from datetime import UTC

from lifecycle.cases import require_reason
from lifecycle.emergencies import EmergencyView
from lifecycle.errors import Kind, PolicyError
from matcher.app import App
from matcher.faces import FaceError
from matcher.model_loading import Unavailable
from matcher.transport import convert, names
from matcher.transport.calls import rpc
from matcher.transport.errors import image_refusal
from matcher.v1 import presence_pb2


def _emergency(view: EmergencyView) -> presence_pb2.Emergency:
    row = view.emergency
    return presence_pb2.Emergency(
        name=f"emergencies/{row.id}",
        title=row.title,
        zones=[f"zones/{zone}" for zone in view.zones],
        start_time=convert.timestamp(row.start_at),
        end_time=convert.timestamp(row.end_at),
        declared_by=row.declared_by,
        state=view.state,
        end_reason=row.end_reason or "",
    )


class PresenceService:
    def __init__(self, app: App) -> None:
        self.app = app

    @rpc("emergency.declare", lambda r: "emergencies", audits_itself=True)
    def DeclareEmergency(
        self, request: presence_pb2.DeclareEmergencyRequest, actor: str
    ) -> presence_pb2.Emergency:
        body = request.emergency
        view = self.app.emergencies.declare(
            actor,
            title=body.title,
            zones=list(body.zones),
            start=body.start_time.ToDatetime(tzinfo=UTC) if body.HasField("start_time") else None,
            end=body.end_time.ToDatetime(tzinfo=UTC) if body.HasField("end_time") else None,
            reason=request.reason,
        )
        return _emergency(view)

    @rpc("emergency.end", lambda r: r.name, audits_itself=True)
    def EndEmergency(self, request: presence_pb2.EndEmergencyRequest, actor: str) -> presence_pb2.Emergency:
        emergency_id = names.parts(request.name, ("emergencies",), "emergency")[0]
        return _emergency(self.app.emergencies.end(actor, emergency_id, request.reason))

    @rpc("emergency.list", lambda r: "emergencies", count=lambda resp: len(resp.emergencies))
    def ListEmergencies(
        self, request: presence_pb2.ListEmergenciesRequest, actor: str
    ) -> presence_pb2.ListEmergenciesResponse:
        return presence_pb2.ListEmergenciesResponse(
            emergencies=[_emergency(view) for view in self.app.emergencies.list()]
        )

    @rpc("presence.count", lambda r: "presence", audits_itself=True)
    def CountPeople(
        self, request: presence_pb2.CountPeopleRequest, actor: str
    ) -> presence_pb2.CountPeopleResponse:
        reason = require_reason(request.reason)
        camera_id = names.parts(request.camera, ("cameras",), "camera")[0]
        emergency = self.app.emergencies.covering(camera_id)  # P6: only during one, in its zones
        pipeline = self.app.pipeline
        if isinstance(pipeline, Unavailable):
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                "FACE_PIPELINE_UNAVAILABLE",
                f"counting people needs the face detector: {pipeline.why}",
            )
        try:
            count = pipeline.count_faces(request.image)
        except FaceError as error:
            raise image_refusal(str(error.reason), error.message, error.details, "faces") from None
        self.app.audit.record(
            actor=actor,
            action="presence.count",
            resource=f"emergencies/{emergency.id}",
            reason=reason,
            count=count,
            detail={"rule": "P6"},
        )
        return presence_pb2.CountPeopleResponse(count=count, emergency=f"emergencies/{emergency.id}")
