"""P10, P11, P16 over gRPC: every RPC against every role, allowed or denied as the table says.

Each call must leave exactly one audit record saying who, what, when, where from and the outcome,
and a denial must be PERMISSION_DENIED before any validation of the request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from lifecycle import access
from lifecycle.models import AuditRecord
from matcher.client import MatcherClient, MatcherError, embedding
from matcher.v1 import (
    access_pb2,
    audit_pb2,
    cases_pb2,
    faces_pb2,
    governance_pb2,
    plates_pb2,
    registry_pb2,
    sightings_pb2,
)
from tests.conftest import Harness, running_server, unit

ROLE_PRINCIPAL = {role: f"r-{role.replace('_', '-')}" for role in sorted(access.ROLES)}
CASE = "c-1"
SUBJECT = f"cases/{CASE}/subjects/s-1"
Build = Callable[[MatcherClient, str], tuple[Any, Any]]


def _hold_name(h: Harness) -> str:
    return h.client.list_legal_holds(CASE)[0].name


# (action in the permission table, how to make the call: stub method and request)
RPCS: dict[str, tuple[str, Callable[[Harness, MatcherClient, str], tuple[Any, Any]]]] = {
    "CreateCase": (
        "case.create",
        lambda h, c, p: (
            c.cases.CreateCase,
            cases_pb2.CreateCaseRequest(case_id=f"new-{p}", case=cases_pb2.Case(title="t"), reason="r"),
        ),
    ),
    "GetCase": (
        "case.get",
        lambda h, c, p: (c.cases.GetCase, cases_pb2.GetCaseRequest(name=f"cases/{CASE}")),
    ),
    "ListCases": ("case.list", lambda h, c, p: (c.cases.ListCases, cases_pb2.ListCasesRequest())),
    "CreateSubject": (
        "subject.create",
        lambda h, c, p: (
            c.cases.CreateSubject,
            cases_pb2.CreateSubjectRequest(
                parent=f"cases/{CASE}",
                subject_id=f"s-{p}",
                subject=cases_pb2.Subject(role="SUSPECT"),
                reason="r",
            ),
        ),
    ),
    "GetSubject": (
        "subject.get",
        lambda h, c, p: (c.cases.GetSubject, cases_pb2.GetSubjectRequest(name=SUBJECT)),
    ),
    "ListSubjects": (
        "subject.list",
        lambda h, c, p: (c.cases.ListSubjects, cases_pb2.ListSubjectsRequest(parent=f"cases/{CASE}")),
    ),
    "PlaceLegalHold": (
        "hold.place",
        lambda h, c, p: (
            c.cases.PlaceLegalHold,
            cases_pb2.PlaceLegalHoldRequest(
                parent=f"cases/{CASE}",
                reason="r",
                legal_hold=cases_pb2.LegalHold(
                    authority_kind="COURT_ORDER",
                    authority="Order 1",
                    placed_by="Judge",
                    end_time={"seconds": int((h.clock.now() + timedelta(days=9)).timestamp())},
                ),
            ),
        ),
    ),
    "ListLegalHolds": (
        "hold.list",
        lambda h, c, p: (c.cases.ListLegalHolds, cases_pb2.ListLegalHoldsRequest(parent=f"cases/{CASE}")),
    ),
    "ListPurges": ("purge.list", lambda h, c, p: (c.cases.ListPurges, cases_pb2.ListPurgesRequest())),
    "EnrollFace": (
        "face.enroll",
        lambda h, c, p: (
            c.faces.EnrollFace,
            faces_pb2.EnrollFaceRequest(
                parent=SUBJECT, face=faces_pb2.FaceInput(embedding=embedding(unit(5))), reason="r"
            ),
        ),
    ),
    "ListFaceTemplates": (
        "face.list",
        lambda h, c, p: (c.faces.ListFaceTemplates, faces_pb2.ListFaceTemplatesRequest(parent=SUBJECT)),
    ),
    "SearchFaces": (
        "faces.search",
        lambda h, c, p: (
            c.faces.SearchFaces,
            faces_pb2.SearchFacesRequest(
                cases=[f"cases/{CASE}"], probe=faces_pb2.FaceInput(embedding=embedding(unit(5))), reason="r"
            ),
        ),
    ),
    "CreatePlateEntry": (
        "plate.add",
        lambda h, c, p: (
            c.plates.CreatePlateEntry,
            plates_pb2.CreatePlateEntryRequest(
                parent=f"cases/{CASE}", plate_entry=plates_pb2.PlateEntry(plate="AB123"), reason="r"
            ),
        ),
    ),
    "ListPlateEntries": (
        "plate.list",
        lambda h, c, p: (
            c.plates.ListPlateEntries,
            plates_pb2.ListPlateEntriesRequest(parent=f"cases/{CASE}"),
        ),
    ),
    "CheckPlateRead": (
        "plates.check",
        lambda h, c, p: (
            c.plates.CheckPlateRead,
            plates_pb2.CheckPlateReadRequest(
                cases=[f"cases/{CASE}"] if p != ROLE_PRINCIPAL["camera_gateway"] else [],
                read=plates_pb2.PlateRead(text="AB123"),
                reason="r",
            ),
        ),
    ),
    "ListAuditRecords": (
        "audit.list",
        lambda h, c, p: (c.audit.ListAuditRecords, audit_pb2.ListAuditRecordsRequest(page_size=1)),
    ),
    "VerifyAuditLog": (
        "audit.verify",
        lambda h, c, p: (c.audit.VerifyAuditLog, audit_pb2.VerifyAuditLogRequest()),
    ),
    "WhoAmI": ("user.whoami", lambda h, c, p: (c.access.WhoAmI, access_pb2.WhoAmIRequest())),
    "ListPrincipals": (
        "user.list",
        lambda h, c, p: (c.access.ListPrincipals, access_pb2.ListPrincipalsRequest()),
    ),
    "GetPrincipal": (
        "user.get",
        lambda h, c, p: (
            c.access.GetPrincipal,
            access_pb2.GetPrincipalRequest(name="principals/local-investigator"),
        ),
    ),
    "CreatePrincipal": (
        "user.create",
        lambda h, c, p: (
            c.access.CreatePrincipal,
            access_pb2.CreatePrincipalRequest(
                principal_id=f"new-{p}",
                principal=access_pb2.Principal(display_name="n", department="d"),
                reason="r",
            ),
        ),
    ),
    "GrantRole": (
        "user.grant_role",
        lambda h, c, p: (
            c.access.GrantRole,
            access_pb2.GrantRoleRequest(name="principals/local-auditor", role="auditor", reason="r"),
        ),
    ),
    "RevalidatePrincipal": (
        "user.revalidate",
        lambda h, c, p: (
            c.access.RevalidatePrincipal,
            access_pb2.RevalidatePrincipalRequest(name="principals/local-investigator", reason="r"),
        ),
    ),
    "UnlockPrincipal": (
        "user.unlock",
        lambda h, c, p: (
            c.access.UnlockPrincipal,
            access_pb2.UnlockPrincipalRequest(name="principals/local-investigator", reason="r"),
        ),
    ),
    "ApproveDepartmentHead": (
        "head.approve",
        lambda h, c, p: (
            c.access.ApproveDepartmentHead,
            access_pb2.ApproveDepartmentHeadRequest(name="principals/r-department-head", reason="r"),
        ),
    ),
    "WithdrawDepartmentHead": (
        "head.withdraw",
        lambda h, c, p: (
            c.access.WithdrawDepartmentHead,
            access_pb2.WithdrawDepartmentHeadRequest(name="principals/r-department-head", reason="r"),
        ),
    ),
    "AppointDesignee": (
        "designee.appoint",
        lambda h, c, p: (
            c.access.AppointDesignee,
            access_pb2.AppointDesigneeRequest(name="principals/r-mayors-designee", reason="r"),
        ),
    ),
    "AssignCase": (
        "case.assign",
        lambda h, c, p: (
            c.access.AssignCase,
            access_pb2.AssignCaseRequest(
                case=f"cases/{CASE}", principal=f"principals/{ROLE_PRINCIPAL['investigator']}", reason="r"
            ),
        ),
    ),
    "CreateCamera": (
        "camera.create",
        lambda h, c, p: (
            c.registry.CreateCamera,
            registry_pb2.CreateCameraRequest(camera_id=f"cam-{p}", reason="r"),
        ),
    ),
    "ListCameras": (
        "camera.list",
        lambda h, c, p: (c.registry.ListCameras, registry_pb2.ListCamerasRequest()),
    ),
    "CreateZone": (
        "zone.create",
        lambda h, c, p: (
            c.registry.CreateZone,
            registry_pb2.CreateZoneRequest(
                zone_id=f"zone-{p}", zone=registry_pb2.Zone(cameras=["cameras/cam-1"]), reason="r"
            ),
        ),
    ),
    "UpdateZoneCameras": (
        "zone.update",
        lambda h, c, p: (
            c.registry.UpdateZoneCameras,
            registry_pb2.UpdateZoneCamerasRequest(name="zones/park", cameras=["cameras/cam-1"], reason="r"),
        ),
    ),
    "ListZones": ("zone.list", lambda h, c, p: (c.registry.ListZones, registry_pb2.ListZonesRequest())),
    "SetOperatorZones": (
        "operator.zones",
        lambda h, c, p: (
            c.registry.SetOperatorZones,
            registry_pb2.SetOperatorZonesRequest(
                principal="principals/local-operator", zones=["zones/park"], reason="r"
            ),
        ),
    ),
    "CreateOrder": (
        "order.create",
        lambda h, c, p: (
            c.registry.CreateOrder,
            registry_pb2.CreateOrderRequest(
                order_id=f"o-{p}",
                reason="r",
                order=registry_pb2.RegistrationOrder(
                    legal_reference="Order 2",
                    zones=["zones/park"],
                    start_time={"seconds": int(h.clock.now().timestamp())},
                    end_time={"seconds": int((h.clock.now() + timedelta(days=9)).timestamp())},
                ),
            ),
        ),
    ),
    "GetOrder": (
        "order.get",
        lambda h, c, p: (c.registry.GetOrder, registry_pb2.GetOrderRequest(name="orders/o-1")),
    ),
    "ListOrders": ("order.list", lambda h, c, p: (c.registry.ListOrders, registry_pb2.ListOrdersRequest())),
    "EnrollOrderFace": (
        "order.enroll",
        lambda h, c, p: (
            c.registry.EnrollOrderFace,
            registry_pb2.EnrollOrderFaceRequest(
                parent="orders/o-1", reason="r", face=faces_pb2.FaceInput(embedding=embedding(unit(6)))
            ),
        ),
    ),
    "AmendOrder": (
        "order.amend",
        lambda h, c, p: (
            c.registry.AmendOrder,
            registry_pb2.AmendOrderRequest(name="orders/o-1", legal_reference="Amended", reason="r"),
        ),
    ),
    "ReportSighting": (
        "sightings.report",
        lambda h, c, p: (
            c.sightings.ReportSighting,
            sightings_pb2.Sighting(
                camera="cameras/cam-1",
                capture_time={"seconds": int(h.clock.now().timestamp())},
                faces=[embedding(unit(6))],
                reason="r",
            ),
        ),
    ),
    "AckAlert": (
        "alert.ack",
        lambda h, c, p: (c.alerts.AckAlert, sightings_pb2.AckAlertRequest(name="alerts/1")),
    ),
    "RevokeRole": (
        "user.revoke_role",
        lambda h, c, p: (
            c.access.RevokeRole,
            access_pb2.RevokeRoleRequest(name="principals/local-auditor", role="auditor", reason="r"),
        ),
    ),
    "UnassignCase": (
        "case.unassign",
        lambda h, c, p: (
            c.access.UnassignCase,
            access_pb2.UnassignCaseRequest(
                case=f"cases/{CASE}", principal=f"principals/{ROLE_PRINCIPAL['external_partner']}", reason="r"
            ),
        ),
    ),
    "DeletePlateEntry": (
        "plate.remove",
        lambda h, c, p: (
            c.plates.DeletePlateEntry,
            plates_pb2.DeletePlateEntryRequest(name=f"cases/{CASE}/plateEntries/nope", reason="r"),
        ),
    ),
    "DecideDisclosure": (
        "disclosure.decide",
        lambda h, c, p: (
            c.governance.DecideDisclosure,
            governance_pb2.DecideDisclosureRequest(
                case=f"cases/{CASE}",
                recipient_kind="prosecution",
                recipient_name="DA",
                legal_basis="active_investigation",
                reason="r",
            ),
        ),
    ),
    "PackageDisclosure": (
        "disclosure.package",
        lambda h, c, p: (
            c.governance.PackageDisclosure,
            governance_pb2.PackageDisclosureRequest(name=f"cases/{CASE}/disclosures/nope", reason="r"),
        ),
    ),
    "ListDisclosures": (
        "disclosure.list",
        lambda h, c, p: (c.governance.ListDisclosures, governance_pb2.ListDisclosuresRequest()),
    ),
    "GrantWaiver": (
        "waiver.grant",
        lambda h, c, p: (
            c.governance.GrantWaiver,
            governance_pb2.GrantWaiverRequest(
                reason="r",
                waiver=governance_pb2.Waiver(
                    rule="P5",
                    scope=f"cases/{CASE}",
                    justification="j",
                    reason_kind="safety",
                    end_time={"seconds": int((h.clock.now() + timedelta(days=3)).timestamp())},
                ),
            ),
        ),
    ),
    "RevokeWaiver": (
        "waiver.revoke",
        lambda h, c, p: (
            c.governance.RevokeWaiver,
            governance_pb2.RevokeWaiverRequest(name="waivers/nope", reason="r"),
        ),
    ),
    "ListWaivers": (
        "waiver.list",
        lambda h, c, p: (c.governance.ListWaivers, governance_pb2.ListWaiversRequest()),
    ),
    "GetTransparencyReport": (
        "report.read",
        lambda h, c, p: (
            c.governance.GetTransparencyReport,
            governance_pb2.GetTransparencyReportRequest(
                start_time={"seconds": 0}, end_time={"seconds": int(h.clock.now().timestamp())}
            ),
        ),
    ),
    "EnrollWaiverFace": (
        "waiver.enroll",
        lambda h, c, p: (
            c.governance.EnrollWaiverFace,
            governance_pb2.EnrollWaiverFaceRequest(
                waiver="waivers/none",
                face=faces_pb2.FaceInput(embedding=embedding(unit(6))),
                label="MISSING-1",
                reason="r",
            ),
        ),
    ),
    "SearchWaiverFaces": (
        "waiver.search",
        lambda h, c, p: (
            c.governance.SearchWaiverFaces,
            governance_pb2.SearchWaiverFacesRequest(
                waiver="waivers/none", probe=faces_pb2.FaceInput(embedding=embedding(unit(6))), reason="r"
            ),
        ),
    ),
    "RecordComplaint": (
        "complaint.record",
        lambda h, c, p: (
            c.governance.RecordComplaint,
            governance_pb2.RecordComplaintRequest(
                complaint=governance_pb2.Complaint(
                    receive_time={"seconds": int(h.clock.now().timestamp())},
                    channel="csb",
                    category="misuse",
                    summary="a camera was used outside its permitted use",
                )
            ),
        ),
    ),
    "ListComplaints": (
        "complaint.list",
        lambda h, c, p: (c.governance.ListComplaints, governance_pb2.ListComplaintsRequest()),
    ),
    # Last, because they end things: revoking, releasing, lifting, closing.
    "RevokeOrder": (
        "order.revoke",
        lambda h, c, p: (
            c.registry.RevokeOrder,
            registry_pb2.RevokeOrderRequest(name="orders/o-1", reason="r"),
        ),
    ),
    "LiftLegalHold": (
        "hold.lift",
        lambda h, c, p: (
            c.cases.LiftLegalHold,
            cases_pb2.LiftLegalHoldRequest(name=_hold_name(h), reason="r"),
        ),
    ),
    "ReleaseSubject": (
        "subject.release",
        lambda h, c, p: (c.cases.ReleaseSubject, cases_pb2.ReleaseSubjectRequest(name=SUBJECT, reason="r")),
    ),
    "CloseCase": (
        "case.close",
        lambda h, c, p: (c.cases.CloseCase, cases_pb2.CloseCaseRequest(name=f"cases/{CASE}", reason="r")),
    ),
}


def _audit_rows(h: Harness) -> list[AuditRecord]:
    """Every record written so far, in the order written (sealed or not yet)."""
    with h.app.db.reading() as session:
        return list(session.scalars(select(AuditRecord).order_by(AuditRecord.id)))


def _audit_count(h: Harness) -> int:
    with h.app.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(AuditRecord)) or 0)


@pytest.fixture
def world(tmp_path: Any, backend: str) -> Iterator[Harness]:
    """A case with a subject, a template, a plate and a hold; one principal per role."""
    with running_server(tmp_path / "data", backend) as h:
        h.client.create_case(CASE, "Case", reason="r")
        h.client.create_subject(CASE, "s-1", "poi", reason="r")
        h.client.enroll_face(CASE, "s-1", unit(5), reason="r")
        h.client.add_plate(CASE, "AB123", reason="r")
        admin, head = h.as_("local-admin"), h.as_("local-head")
        designee = h.as_("local-designee")
        for role, principal in ROLE_PRINCIPAL.items():
            admin.create_principal(principal, display_name=role, department="local", reason="test world")
            if role == access.MAYORS_DESIGNEE:  # appointed by a designee, never granted by an admin
                designee.appoint_designee(principal, reason="test world")
            else:
                admin.grant_role(principal, role, reason="test world")
            h.app.auth.issue(principal, h.data_dir / "tokens" / f"{principal}.token")
            if role in access.END_USER_ROLES:
                head.revalidate(principal, reason="test world")
            if role in access.CASE_SCOPED_ROLES:
                h.client.assign_case(CASE, principal, reason="test world")
        h.as_("local-admin").create_camera("cam-1", reason="r")
        h.as_("local-admin").create_zone("park", ["cam-1"], reason="r")
        h.as_("local-registry").create_order(
            "o-1",
            label="RI",
            legal_reference="Order 1",
            zones=["park"],
            start=h.clock.now(),
            end=h.clock.now() + timedelta(days=30),
            reason="r",
        )
        h.as_("local-investigator").place_legal_hold(
            CASE,
            authority_kind="court-order",
            authority="Order 1",
            placed_by="Judge",
            until=h.clock.now() + timedelta(days=30),
            reason="r",
        )
        yield h


def test_P10_P11_P16_every_rpc_for_every_role(world: Harness) -> None:
    h = world
    clients = {role: h.as_(principal) for role, principal in ROLE_PRINCIPAL.items()}
    for rpc_name, (action, build) in RPCS.items():
        allowed = set(access.PERMISSIONS[action])
        for role, client in clients.items():
            principal = ROLE_PRINCIPAL[role]
            method, request = build(h, client, principal)
            before = _audit_count(h)
            code = grpc.StatusCode.OK
            try:
                method(request, timeout=10, metadata=client._metadata)
            except grpc.RpcError as error:
                code = error.code()
            where = f"{rpc_name} as {role}"
            if role in allowed:
                assert code != grpc.StatusCode.PERMISSION_DENIED, where
            else:
                assert code == grpc.StatusCode.PERMISSION_DENIED, where
            # The purge worker's receipts (actor system:purge-worker) follow some calls: not theirs.
            rows = [r for r in _audit_rows(h)[before:] if not r.actor.startswith("system:")]
            assert len(rows) == 1, f"{where}: {[(r.action, r.code) for r in rows]}"
            [record] = rows
            assert (record.actor, record.action) == (principal, action), where
            assert record.outcome == ("refused" if code != grpc.StatusCode.OK else "ok"), where
            assert json.loads(record.detail_json)["peer"].startswith(("ipv4:127.0.0.1", "ipv6:")), where
            assert record.at == h.clock.now(), where


def test_P16_every_rpc_refuses_anonymous_callers(world: Harness) -> None:
    anonymous = MatcherClient(grpc.insecure_channel(world.target), "not-a-token", timeout=10)
    try:
        for rpc_name, (_, build) in RPCS.items():
            method, request = build(world, anonymous, "anonymous")
            with pytest.raises(grpc.RpcError) as error:
                method(request, timeout=10, metadata=anonymous._metadata)
            assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED, rpc_name
    finally:
        anonymous.close()
    world.service.failures.flush()  # recorded off the call path, by the failure ledger
    failures = world.audit("auth.failure")
    # Each failure is recorded: one by one up to the ledger's budget per peer and minute, the
    # rest in one summary record that carries their number.
    assert sum(r.count for r in failures) == len(RPCS)
    assert all(r.code == "UNAUTHENTICATED_CALLER" for r in failures)


def test_P10_administrator_cannot_also_be_an_end_user_whoever_asks(world: Harness) -> None:
    admin = world.as_("local-admin")
    with pytest.raises(MatcherError) as error:
        admin.grant_role("local-investigator", "administrator", reason="make them admin too")
    assert (error.value.code, error.value.reason, error.value.rule) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SEPARATION_OF_DUTIES",
        "P10",
    )
    with pytest.raises(MatcherError) as error:
        admin.grant_role("local-admin", "investigator", reason="let me search")
    assert error.value.reason == "SEPARATION_OF_DUTIES"
    assert "administrator" not in admin.get_principal("local-investigator").roles
    refused = [r for r in world.audit("user.grant_role") if r.code == "SEPARATION_OF_DUTIES"]
    assert len(refused) == 2
    with pytest.raises(MatcherError) as error:  # and an administrator never touches data
        admin.search_faces([CASE], unit(5), reason="curious")
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_PERMITTED")


def test_P11_end_user_not_revalidated_within_a_year_stops_working(world: Harness) -> None:
    investigator = world.as_(ROLE_PRINCIPAL["investigator"])
    assert investigator.search_faces([CASE], unit(5), reason="r").results[0].matches
    world.clock.advance(timedelta(days=366))
    with pytest.raises(MatcherError) as error:
        investigator.search_faces([CASE], unit(5), reason="r")
    assert (error.value.code, error.value.reason, error.value.rule) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "REVALIDATION_REQUIRED",
        "P11",
    )
    world.as_("local-head").revalidate(ROLE_PRINCIPAL["investigator"], reason="yearly review")
    assert investigator.search_faces([CASE], unit(5), reason="r").results[0].matches


def test_case_listing_shows_only_assigned_cases(world: Harness) -> None:
    world.client.create_case("c-2", "Other", reason="r")  # assigned to its creator only
    investigator = world.as_(ROLE_PRINCIPAL["investigator"])
    assert [c.name for c in investigator.list_cases()] == [f"cases/{CASE}"]
    assert {c.name for c in world.as_(ROLE_PRINCIPAL["case_supervisor"]).list_cases()} == {
        f"cases/{CASE}",
        "cases/c-2",
    }
    with pytest.raises(MatcherError) as unknown:
        investigator.get_case("no-such-case")
    with pytest.raises(MatcherError) as unassigned:
        investigator.get_case("c-2")
    assert (unknown.value.code, unknown.value.reason) == (unassigned.value.code, unassigned.value.reason)
    assert unknown.value.details.replace("no-such-case", "X") == unassigned.value.details.replace("c-2", "X")
