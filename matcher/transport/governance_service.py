"""GovernanceService: disclosures (P13), waivers (P15), notices (P16) and the report (P17)."""

from __future__ import annotations

import json
from datetime import UTC

from lifecycle.access import CITY_OPERATIONS_DIRECTOR_ROLE, PUBLIC_SAFETY_DIRECTOR_ROLE, Notice
from lifecycle.actions import Action
from lifecycle.complaints import ComplaintInput
from lifecycle.errors import Kind, PolicyError
from lifecycle.governance_models import Complaint, Disclosure
from lifecycle.report import build_report
from lifecycle.waivers import CITY_OPERATIONS_DIRECTOR, DIRECTOR_OF_PUBLIC_SAFETY, WaiverView
from matcher.app import App
from matcher.transport import calls, convert, names
from matcher.transport.calls import rpc, server_stream
from matcher.transport.dispatch import Feed, feed_source
from matcher.transport.face_service import DEFAULT_TOP_K, probes_of
from matcher.v1 import governance_pb2

TITLE_OF_ROLE = {
    PUBLIC_SAFETY_DIRECTOR_ROLE: DIRECTOR_OF_PUBLIC_SAFETY,
    CITY_OPERATIONS_DIRECTOR_ROLE: CITY_OPERATIONS_DIRECTOR,
}


def disclosure_ids(name: str) -> tuple[str, str]:
    case, disclosure = names.parts(name, ("cases", "disclosures"), "disclosure")
    return case, disclosure


def _disclosure(row: Disclosure) -> governance_pb2.Disclosure:
    return governance_pb2.Disclosure(
        name=f"cases/{row.case_id}/disclosures/{row.id}",
        recipient_kind=row.recipient_kind,
        recipient_name=row.recipient_name,
        legal_basis=row.legal_basis,
        legal_reference=row.legal_reference,
        includes_biometric=row.includes_biometric,
        allowed=row.allowed,
        refusal_reason=row.refusal_reason,
        rule=row.rule,
        message=row.message,
        decide_time=convert.timestamp(row.decided_at),
    )


def _waiver(view: WaiverView) -> governance_pb2.Waiver:
    row = view.waiver
    return governance_pb2.Waiver(
        name=f"waivers/{row.id}",
        rule=row.rule,
        scope=row.scope,
        justification=row.justification,
        reason_kind=row.reason_kind,
        granted_by=row.granted_by,
        granted_by_title=row.granted_by_title,
        mayor_approval=row.mayor_approval or "",
        start_time=convert.timestamp(row.start_at),
        end_time=convert.timestamp(row.end_at),
        state=view.state,
    )


def _complaint(row: Complaint) -> governance_pb2.Complaint:
    return governance_pb2.Complaint(
        name=f"complaints/{row.id}",
        receive_time=convert.timestamp(row.received_at),
        channel=row.channel,
        category=row.category,
        summary=row.summary,
        recorded_by=f"principals/{row.recorded_by}",
        record_time=convert.timestamp(row.recorded_at),
    )


def _notice(notice: Notice) -> governance_pb2.Notice:
    return governance_pb2.Notice(
        kind=notice.kind,
        principal=f"principals/{notice.principal_id}",
        action=notice.action,
        reason=notice.reason,
        message=notice.message,
        time=convert.timestamp(notice.at),
    )


class GovernanceService:
    def __init__(self, app: App) -> None:
        self.app = app

    @rpc("disclosure.decide", lambda r: f"{r.case}/disclosures", audits_itself=True)
    def DecideDisclosure(
        self, request: governance_pb2.DecideDisclosureRequest, actor: str
    ) -> governance_pb2.Disclosure:
        decision = self.app.disclosures.decide(
            actor,
            names.case_id(request.case),
            request.recipient_kind,
            request.recipient_name,
            request.legal_basis,
            request.legal_reference,
            request.reason,
            request.includes_biometric,
            basis_ends_at=request.basis_end_time.ToDatetime(tzinfo=UTC)
            if request.HasField("basis_end_time")
            else None,
        )
        row = self.app.disclosures.get(decision.decision_id)
        if row is None:  # Refused before it could be recorded (a malformed request): say why.
            decision.raise_if_refused()
            raise PolicyError(Kind.NOT_FOUND, "DISCLOSURE_NOT_FOUND", "the decision was not recorded")
        return _disclosure(row)

    @rpc("disclosure.package", lambda r: r.name, audits_itself=True)
    def PackageDisclosure(
        self, request: governance_pb2.PackageDisclosureRequest, actor: str
    ) -> governance_pb2.DisclosurePackage:
        case_id, decision_id = disclosure_ids(request.name)
        package = self.app.disclosures.package(actor, case_id, decision_id)
        return governance_pb2.DisclosurePackage(
            disclosure=request.name, manifest_json=json.dumps(package.manifest(), sort_keys=True, default=str)
        )

    @rpc("disclosure.list", lambda r: r.case or "disclosures", count=lambda resp: len(resp.disclosures))
    def ListDisclosures(
        self, request: governance_pb2.ListDisclosuresRequest, actor: str
    ) -> governance_pb2.ListDisclosuresResponse:
        case_id = names.case_id(request.case) if request.case else None
        rows = self.app.disclosures.list(case_id)
        return governance_pb2.ListDisclosuresResponse(disclosures=[_disclosure(row) for row in rows])

    @rpc("waiver.grant", lambda r: r.waiver.scope or "waivers", audits_itself=True)
    def GrantWaiver(self, request: governance_pb2.GrantWaiverRequest, actor: str) -> governance_pb2.Waiver:
        titles = [TITLE_OF_ROLE[role] for role in sorted(calls.decision().roles) if role in TITLE_OF_ROLE]
        body = request.waiver
        row = self.app.waivers.grant(
            actor,
            granted_by_title=titles[0] if titles else "",
            rule=body.rule,
            scope=body.scope,
            justification=body.justification,
            reason_kind=body.reason_kind,
            start=body.start_time.ToDatetime(tzinfo=UTC) if body.HasField("start_time") else None,
            end=body.end_time.ToDatetime(tzinfo=UTC),
            mayor_approval=body.mayor_approval or None,
        )
        return next(_waiver(v) for v in self.app.waivers.list() if v.waiver.id == row.id)

    @rpc("waiver.revoke", lambda r: r.name, audits_itself=True)
    def RevokeWaiver(self, request: governance_pb2.RevokeWaiverRequest, actor: str) -> governance_pb2.Waiver:
        waiver_id = names.parts(request.name, ("waivers",), "waiver")[0]
        self.app.waivers.revoke(actor, waiver_id, request.reason)
        return next(_waiver(v) for v in self.app.waivers.list() if v.waiver.id == waiver_id)

    @rpc("waiver.enroll", lambda r: r.waiver, audits_itself=True)
    def EnrollWaiverFace(
        self, request: governance_pb2.EnrollWaiverFaceRequest, actor: str
    ) -> governance_pb2.WaiverFace:
        """P1, P15: the sought person's face, into an active waiver's own search scope."""
        waiver_id = names.parts(request.waiver, ("waivers",), "waiver")[0]
        [probe] = probes_of(self.app, request.face, "enrol", "the face")
        row = self.app.waiver_searches.enroll(
            actor, waiver_id, request.label, probe.vector, probe.model, request.reason
        )
        return governance_pb2.WaiverFace(
            name=f"waivers/{waiver_id}/faces/{row.id}",
            label=row.label,
            model=row.model,
            create_time=convert.timestamp(row.created_at),
            face_box=probe.box,
        )

    @rpc("waiver.search", lambda r: r.waiver, audits_itself=True)
    def SearchWaiverFaces(
        self, request: governance_pb2.SearchWaiverFacesRequest, actor: str
    ) -> governance_pb2.SearchWaiverFacesResponse:
        """P1, P15: a still against an active waiver's search scope only."""
        waiver_id = names.parts(request.waiver, ("waivers",), "waiver")[0]
        probes = probes_of(self.app, request.probe, "search", "the probe")
        min_score = (
            request.min_score if request.HasField("min_score") else self.app.settings.default_min_score
        )
        results = self.app.waiver_searches.search(
            actor,
            waiver_id,
            [p.vector for p in probes],
            probes[0].model,
            request.reason,
            request.top_k or DEFAULT_TOP_K,
            min_score,
        )
        return governance_pb2.SearchWaiverFacesResponse(
            min_score=min_score,
            results=[
                governance_pb2.WaiverProbeResult(
                    face_box=probe.box,
                    matches=[
                        governance_pb2.WaiverFaceMatch(
                            face=f"waivers/{waiver_id}/faces/{m.template_id}", label=m.label, score=m.score
                        )
                        for m in matches
                    ],
                )
                for probe, matches in zip(probes, results, strict=True)
            ],
        )

    @rpc("waiver.list", lambda r: "waivers", count=lambda resp: len(resp.waivers))
    def ListWaivers(
        self, request: governance_pb2.ListWaiversRequest, actor: str
    ) -> governance_pb2.ListWaiversResponse:
        return governance_pb2.ListWaiversResponse(waivers=[_waiver(v) for v in self.app.waivers.list()])

    @rpc("report.read", lambda r: "report")
    def GetTransparencyReport(
        self, request: governance_pb2.GetTransparencyReportRequest, actor: str
    ) -> governance_pb2.TransparencyReport:
        if not request.HasField("start_time") or not request.HasField("end_time"):
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "FIELD_INVALID", "a report needs its period: start and end"
            )
        start, end = request.start_time.ToDatetime(tzinfo=UTC), request.end_time.ToDatetime(tzinfo=UTC)
        if end <= start:
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "FIELD_INVALID", "the report's end must follow its start"
            )
        report = build_report(self.app.lifecycle.audit, start, end)
        return governance_pb2.TransparencyReport(
            json=report.to_json(), csv=report.to_csv(), text=report.to_text()
        )

    @rpc("complaint.record", lambda r: "complaints", audits_itself=True)
    def RecordComplaint(
        self, request: governance_pb2.RecordComplaintRequest, actor: str
    ) -> governance_pb2.Complaint:
        """P17: a complaint received from the public, without personal data, audited."""
        body = request.complaint
        received = body.receive_time.ToDatetime(tzinfo=UTC) if body.HasField("receive_time") else None
        if received is None:
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "FIELD_INVALID", "a complaint needs the time it was received (P17)"
            )
        row = self.app.complaints.record(
            actor, ComplaintInput(received, body.channel, body.category, body.summary)
        )
        return _complaint(row)

    @rpc("complaint.list", lambda r: "complaints", count=lambda resp: len(resp.complaints))
    def ListComplaints(
        self, request: governance_pb2.ListComplaintsRequest, actor: str
    ) -> governance_pb2.ListComplaintsResponse:
        rows = self.app.complaints.list(
            request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
            request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
            request.category,
        )
        return governance_pb2.ListComplaintsResponse(complaints=[_complaint(row) for row in rows])

    @feed_source(lambda app: app.notices)
    @server_stream("notices.watch", lambda r: "notices")
    def WatchNotices(self, request: governance_pb2.WatchNoticesRequest, actor: str) -> Feed[Notice]:
        """P16: unauthorised attempts and lockouts, as they happen (they are in the audit log too)."""
        self.app.audit.record(actor=actor, action=Action.NOTICES_WATCH, resource="notices")
        return Feed(backlog=[], render=_notice)
