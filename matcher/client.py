"""The investigator's Python client: one method per RPC, with deadlines and credentials set.

    client = MatcherClient.connect()            # 127.0.0.1:50051, token from MATCHER_TOKEN or file
    case = client.create_case("2026-0042", "Burglary series, 4th district", reason="...")
    client.close()

Errors arrive as :class:`MatcherError` with the gRPC code, the machine-readable reason
(``matcher.v1.ErrorReason`` name) and the policy rule, when one decided.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import grpc
import numpy as np
import numpy.typing as npt
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matcher import tls
from matcher.balancing import channel_options, channel_target
from matcher.config import DEFAULT_DATA_DIR, DEFAULT_LISTEN
from matcher.status_details import ImageDetails, error_info, image_details
from matcher.v1 import (
    access_pb2,
    access_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    cases_pb2,
    cases_pb2_grpc,
    faces_pb2,
    faces_pb2_grpc,
    governance_pb2,
    governance_pb2_grpc,
    plates_pb2,
    plates_pb2_grpc,
    presence_pb2,
    presence_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    sightings_pb2,
    sightings_pb2_grpc,
)

DEFAULT_TIMEOUT = 30.0
Req = TypeVar("Req")
Resp = TypeVar("Resp")
ROLES = {
    "poi": cases_pb2.Subject.PERSON_OF_INTEREST,
    "person-of-interest": cases_pb2.Subject.PERSON_OF_INTEREST,
    "suspect": cases_pb2.Subject.SUSPECT,
    "witness": cases_pb2.Subject.WITNESS,
    "victim": cases_pb2.Subject.VICTIM,
}
AUTHORITY_KINDS = {
    "court-order": cases_pb2.LegalHold.COURT_ORDER,
    "statute": cases_pb2.LegalHold.STATUTE,
}


class MatcherError(Exception):
    """A call the service refused or could not complete.

    ``metadata`` holds the ErrorInfo's other facts as sent; ``image`` the typed reading of a
    refused photo's (the boxes and scores the detector saw, for ``MULTIPLE_FACES``, ``NO_FACE``,
    ``FACE_BOX_NOT_FOUND``, ``NO_PLATE``...), so that a client can show which ``face_box`` to pass.
    """

    def __init__(self, error: grpc.RpcError) -> None:
        self.code: grpc.StatusCode = error.code()
        self.details: str = error.details() or ""
        info = error_info(error)
        self.reason = info.reason if info else ""
        self.rule = info.metadata.get("rule", "") if info else ""
        self.metadata: dict[str, str] = (
            {k: v for k, v in info.metadata.items() if k != "rule"} if info else {}
        )
        self.image: ImageDetails | None = image_details(self.metadata)
        super().__init__(f"{self.code.name}{f' ({self.reason})' if self.reason else ''}: {self.details}")

    def as_dict(self) -> dict[str, Any]:
        """The refusal as JSON-ready values (the CLI's ``--json``)."""
        return {
            "code": self.code.name,
            "reason": self.reason,
            "rule": self.rule,
            "message": self.details,
            "image": self.image.as_dict() if self.image else None,
        }


T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class ServerStream(Protocol[T_co]):
    """What a stub's server-streaming call returns: replies to iterate, and a way to end it."""

    def __iter__(self) -> Iterator[T_co]: ...

    def cancel(self) -> bool: ...


class Stream(Generic[T]):
    """A server stream that another thread may end with ``cancel()`` (a web page that closed).

    Iterating ends quietly when the stream was cancelled or reached its deadline; any other
    failure raises ``MatcherError``.
    """

    def __init__(self, call: ServerStream[T]) -> None:
        self._call = call

    def __iter__(self) -> Iterator[T]:
        try:
            yield from self._call
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise MatcherError(error) from None

    def cancel(self) -> None:
        self._call.cancel()


def _token(token: str | None, token_file: Path | None) -> str:
    if token:
        return token
    if os.environ.get("MATCHER_TOKEN"):
        return os.environ["MATCHER_TOKEN"]
    path = token_file or Path(os.environ.get("MATCHER_DATA_DIR", str(DEFAULT_DATA_DIR))) / "client.token"
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def embedding(vector: npt.ArrayLike, model: str = "") -> faces_pb2.Embedding:
    """A wire embedding from any float array (sent as little-endian float32 bytes)."""
    values = np.asarray(vector, dtype="<f4").reshape(-1)
    return faces_pb2.Embedding(values=values.tobytes(), model=model)


def _image(
    photo: bytes, face_box: tuple[float, float, float, float] | None, aligned_crop: bool = False
) -> faces_pb2.Image:
    image = faces_pb2.Image(data=photo, aligned_crop=aligned_crop)
    if face_box is not None:
        left, top, right, bottom = face_box
        image.face_box.CopyFrom(faces_pb2.FaceBox(left=left, top=top, right=right, bottom=bottom))
    return image


def _timestamp(instant: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(instant)
    return stamp


class MatcherClient:
    def __init__(
        self, channel: grpc.Channel, token: str, timeout: float = DEFAULT_TIMEOUT, *, principal: str = ""
    ) -> None:
        self._channel = channel
        # Under mutual TLS the certificate is the credential: no token is sent. Saying which
        # principal the token is for lets the service count a wrong token against that account.
        metadata = [("authorization", f"Bearer {token}")] if token else []
        if principal:
            metadata.append(("x-matcher-principal", principal))
        self._metadata: tuple[tuple[str, str], ...] = tuple(metadata)
        self._timeout = timeout
        self.cases = cases_pb2_grpc.CaseServiceStub(channel)
        self.faces = faces_pb2_grpc.FaceServiceStub(channel)
        self.plates = plates_pb2_grpc.PlateServiceStub(channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(channel)
        self.access = access_pb2_grpc.AccessServiceStub(channel)
        self.registry = registry_pb2_grpc.RegistryServiceStub(channel)
        self.governance = governance_pb2_grpc.GovernanceServiceStub(channel)
        self.sightings = sightings_pb2_grpc.SightingServiceStub(channel)
        self.alerts = sightings_pb2_grpc.AlertServiceStub(channel)
        self.presence = presence_pb2_grpc.PresenceServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)

    @classmethod
    def connect(
        cls,
        target: str | None = None,
        *,
        token: str | None = None,
        token_file: Path | None = None,
        principal: str = "",
        tls_ca: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> MatcherClient:
        """A client over mutual TLS when a CA is given (MATCHER_TLS_CA, with the client's
        MATCHER_TLS_CLIENT_CERT and MATCHER_TLS_CLIENT_KEY), else over loopback with a token.

        ``target`` may name several replicas (a DNS name with one address each, or a
        comma-separated list of IP addresses): calls go round robin, reads are retried on
        another replica when one is unavailable (:mod:`matcher.balancing`)."""
        target = channel_target(target or os.environ.get("MATCHER_TARGET", DEFAULT_LISTEN))
        options = channel_options()
        env = os.environ
        ca = tls_ca or (Path(env["MATCHER_TLS_CA"]) if env.get("MATCHER_TLS_CA") else None)
        if ca is not None:
            cert = tls_cert or Path(env.get("MATCHER_TLS_CLIENT_CERT", ""))
            key = tls_key or Path(env.get("MATCHER_TLS_CLIENT_KEY", ""))
            channel = grpc.secure_channel(target, tls.channel_credentials(ca, cert, key), options=options)
            return cls(channel, "", timeout)
        channel = grpc.insecure_channel(target, options=options)
        return cls(channel, _token(token, token_file), timeout, principal=principal)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> MatcherClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: grpc.UnaryUnaryMultiCallable[Req, Resp], request: Req) -> Resp:
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise MatcherError(error) from None

    # --- health ---------------------------------------------------------------------------

    def serving(self, service: str = "") -> bool:
        """Whether health checking says SERVING: for the service as a whole (readiness: pending
        purges are done), ``liveness``, or one service or capability by name."""
        try:
            reply = self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=self._timeout)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    # --- cases ----------------------------------------------------------------------------

    def create_case(self, case_id: str, title: str, *, reason: str) -> cases_pb2.Case:
        request = cases_pb2.CreateCaseRequest(
            case_id=case_id, case=cases_pb2.Case(title=title), reason=reason
        )
        return self._call(self.cases.CreateCase, request)

    def get_case(self, case_id: str) -> cases_pb2.Case:
        return self._call(self.cases.GetCase, cases_pb2.GetCaseRequest(name=f"cases/{case_id}"))

    def list_cases(self, state: str = "") -> Iterator[cases_pb2.Case]:
        token = ""
        value = state.upper() if state else None
        while True:
            page = self._call(self.cases.ListCases, cases_pb2.ListCasesRequest(page_token=token, state=value))
            yield from page.cases
            token = page.next_page_token
            if not token:
                return

    def close_case(self, case_id: str, *, reason: str) -> cases_pb2.Case:
        request = cases_pb2.CloseCaseRequest(name=f"cases/{case_id}", reason=reason)
        return self._call(self.cases.CloseCase, request)

    def create_subject(
        self, case_id: str, subject_id: str, role: str, *, label: str = "", reason: str
    ) -> cases_pb2.Subject:
        request = cases_pb2.CreateSubjectRequest(
            parent=f"cases/{case_id}",
            subject_id=subject_id,
            subject=cases_pb2.Subject(label=label, role=ROLES[role]),
            reason=reason,
        )
        return self._call(self.cases.CreateSubject, request)

    def get_subject(self, case_id: str, subject_id: str) -> cases_pb2.Subject:
        request = cases_pb2.GetSubjectRequest(name=f"cases/{case_id}/subjects/{subject_id}")
        return self._call(self.cases.GetSubject, request)

    def list_subjects(self, case_id: str) -> Iterator[cases_pb2.Subject]:
        token = ""
        while True:
            page = self._call(
                self.cases.ListSubjects,
                cases_pb2.ListSubjectsRequest(parent=f"cases/{case_id}", page_token=token),
            )
            yield from page.subjects
            token = page.next_page_token
            if not token:
                return

    def release_subject(self, case_id: str, subject_id: str, *, reason: str) -> cases_pb2.Subject:
        request = cases_pb2.ReleaseSubjectRequest(
            name=f"cases/{case_id}/subjects/{subject_id}", reason=reason
        )
        return self._call(self.cases.ReleaseSubject, request)

    def place_legal_hold(
        self,
        case_id: str,
        *,
        authority_kind: str,
        authority: str,
        placed_by: str,
        until: datetime,
        reason: str,
    ) -> cases_pb2.LegalHold:
        hold = cases_pb2.LegalHold(
            authority_kind=AUTHORITY_KINDS[authority_kind],
            authority=authority,
            placed_by=placed_by,
            end_time=_timestamp(until),
        )
        request = cases_pb2.PlaceLegalHoldRequest(parent=f"cases/{case_id}", legal_hold=hold, reason=reason)
        return self._call(self.cases.PlaceLegalHold, request)

    def lift_legal_hold(self, case_id: str, hold_id: str, *, reason: str) -> cases_pb2.LegalHold:
        request = cases_pb2.LiftLegalHoldRequest(name=f"cases/{case_id}/legalHolds/{hold_id}", reason=reason)
        return self._call(self.cases.LiftLegalHold, request)

    def list_legal_holds(self, case_id: str) -> list[cases_pb2.LegalHold]:
        request = cases_pb2.ListLegalHoldsRequest(parent=f"cases/{case_id}")
        return list(self._call(self.cases.ListLegalHolds, request).legal_holds)

    def list_purges(self, case_id: str = "", *, order_id: str = "") -> list[cases_pb2.Purge]:
        """A case's purges, an order's, or every one the caller may see."""
        parent = f"cases/{case_id}" if case_id else f"orders/{order_id}" if order_id else ""
        request = cases_pb2.ListPurgesRequest(parent=parent)
        return list(self._call(self.cases.ListPurges, request).purges)

    # --- faces ----------------------------------------------------------------------------

    def enroll_face(
        self, case_id: str, subject_id: str, vector: npt.ArrayLike, *, reason: str, model: str = ""
    ) -> faces_pb2.FaceTemplate:
        request = faces_pb2.EnrollFaceRequest(
            parent=f"cases/{case_id}/subjects/{subject_id}",
            face=faces_pb2.FaceInput(embedding=embedding(vector, model)),
            reason=reason,
        )
        return self._call(self.faces.EnrollFace, request)

    def enroll_face_photo(
        self,
        case_id: str,
        subject_id: str,
        photo: bytes,
        *,
        reason: str,
        face_box: tuple[float, float, float, float] | None = None,
        aligned_crop: bool = False,
    ) -> faces_pb2.FaceTemplate:
        """Enrols the one face of a JPEG or PNG photo (or the face inside ``face_box``);
        ``aligned_crop``: the photo is a 112x112 crop already aligned for the recogniser."""
        request = faces_pb2.EnrollFaceRequest(
            parent=f"cases/{case_id}/subjects/{subject_id}",
            face=faces_pb2.FaceInput(image=_image(photo, face_box, aligned_crop)),
            reason=reason,
        )
        return self._call(self.faces.EnrollFace, request)

    def list_face_templates(self, case_id: str, subject_id: str) -> list[faces_pb2.FaceTemplate]:
        request = faces_pb2.ListFaceTemplatesRequest(parent=f"cases/{case_id}/subjects/{subject_id}")
        return list(self._call(self.faces.ListFaceTemplates, request).face_templates)

    def search_faces(
        self,
        case_ids: list[str],
        vector: npt.ArrayLike,
        *,
        reason: str,
        top_k: int = 10,
        min_score: float | None = None,
        model: str = "",
    ) -> faces_pb2.SearchFacesResponse:
        request = faces_pb2.SearchFacesRequest(
            cases=[f"cases/{case_id}" for case_id in case_ids],
            probe=faces_pb2.FaceInput(embedding=embedding(vector, model)),
            reason=reason,
            top_k=top_k,
            min_score=min_score,
        )
        return self._call(self.faces.SearchFaces, request)

    def search_faces_photo(
        self,
        case_ids: list[str],
        photo: bytes,
        *,
        reason: str,
        top_k: int = 10,
        min_score: float | None = None,
        aligned_crop: bool = False,
    ) -> faces_pb2.SearchFacesResponse:
        """Searches every usable face of a photo (or its one face, for an ``aligned_crop``);
        one result per face, with its box."""
        request = faces_pb2.SearchFacesRequest(
            cases=[f"cases/{case_id}" for case_id in case_ids],
            probe=faces_pb2.FaceInput(image=_image(photo, None, aligned_crop)),
            reason=reason,
            top_k=top_k,
            min_score=min_score,
        )
        return self._call(self.faces.SearchFaces, request)

    # --- plates ---------------------------------------------------------------------------

    def add_plate(
        self, case_id: str, plate: str, *, reason: str, subject_id: str = "", region: str = "", note: str = ""
    ) -> plates_pb2.PlateEntry:
        entry = plates_pb2.PlateEntry(
            plate=plate,
            region=region,
            note=note,
            subject=f"cases/{case_id}/subjects/{subject_id}" if subject_id else "",
        )
        request = plates_pb2.CreatePlateEntryRequest(
            parent=f"cases/{case_id}", plate_entry=entry, reason=reason
        )
        return self._call(self.plates.CreatePlateEntry, request)

    def list_plates(self, case_id: str) -> list[plates_pb2.PlateEntry]:
        request = plates_pb2.ListPlateEntriesRequest(parent=f"cases/{case_id}")
        return list(self._call(self.plates.ListPlateEntries, request).plate_entries)

    def list_plate_hits(self, case_id: str, *, page_size: int = 0) -> list[plates_pb2.StoredPlateHit]:
        """The hits stored for a case (camera gateways' reads), every page, oldest first."""
        hits: list[plates_pb2.StoredPlateHit] = []
        token = ""
        while True:
            request = plates_pb2.ListPlateHitsRequest(
                parent=f"cases/{case_id}", page_size=page_size, page_token=token
            )
            page = self._call(self.plates.ListPlateHits, request)
            hits.extend(page.plate_hits)
            token = page.next_page_token
            if not token:
                return hits

    def watch_plate_hits(
        self, case_id: str, resume_token: str = "", *, timeout: float = 24 * 3600.0
    ) -> Stream[plates_pb2.StoredPlateHit]:
        """The case's stored hits as they happen (after ``resume_token``'s), as a stream."""
        request = plates_pb2.WatchPlateHitsRequest(parent=f"cases/{case_id}", resume_token=resume_token)
        return Stream(self.plates.WatchPlateHits(request, timeout=timeout, metadata=self._metadata))

    def remove_plate(self, case_id: str, entry_id: str, *, reason: str) -> None:
        request = plates_pb2.DeletePlateEntryRequest(
            name=f"cases/{case_id}/plateEntries/{entry_id}", reason=reason
        )
        self._call(self.plates.DeletePlateEntry, request)

    def check_plate(
        self,
        text: str = "",
        *,
        reason: str,
        case_ids: list[str] | None = None,
        confidences: list[float] | None = None,
        image: bytes | None = None,
        plate_crop: bytes | None = None,
        camera: str = "",
        capture_time: datetime | None = None,
        max_edits: int | None = None,
        min_confidence: float | None = None,
        lookalikes: bool | None = None,
    ) -> plates_pb2.CheckPlateReadResponse:
        """Checks a read (its text, a scene photo, or a plate crop) against the cases' watchlists."""
        request = plates_pb2.CheckPlateReadRequest(
            cases=[f"cases/{case_id}" for case_id in case_ids or []],
            camera=camera,
            reason=reason,
            options=plates_pb2.MatchOptions(
                max_edits=max_edits, min_confidence=min_confidence, lookalikes=lookalikes
            ),
        )
        if capture_time is not None:
            request.capture_time.FromDatetime(capture_time)
        if image is not None:
            request.image = image
        elif plate_crop is not None:
            request.plate_crop = plate_crop
        else:
            request.read.CopyFrom(plates_pb2.PlateRead(text=text, confidences=confidences or []))
        return self._call(self.plates.CheckPlateRead, request)

    # --- access -------------------------------------------------------------------------

    def whoami(self) -> access_pb2.Principal:
        return self._call(self.access.WhoAmI, access_pb2.WhoAmIRequest())

    def create_principal(
        self, principal_id: str, *, display_name: str, department: str, system: bool = False, reason: str
    ) -> access_pb2.Principal:
        body = access_pb2.Principal(
            display_name=display_name, department=department, kind="SYSTEM" if system else "HUMAN"
        )
        request = access_pb2.CreatePrincipalRequest(principal_id=principal_id, principal=body, reason=reason)
        return self._call(self.access.CreatePrincipal, request)

    def get_principal(self, principal_id: str) -> access_pb2.Principal:
        return self._call(
            self.access.GetPrincipal, access_pb2.GetPrincipalRequest(name=f"principals/{principal_id}")
        )

    def list_principals(self) -> list[access_pb2.Principal]:
        return list(self._call(self.access.ListPrincipals, access_pb2.ListPrincipalsRequest()).principals)

    def grant_role(self, principal_id: str, role: str, *, reason: str) -> access_pb2.Principal:
        request = access_pb2.GrantRoleRequest(name=f"principals/{principal_id}", role=role, reason=reason)
        return self._call(self.access.GrantRole, request)

    def revoke_role(self, principal_id: str, role: str, *, reason: str) -> access_pb2.Principal:
        request = access_pb2.RevokeRoleRequest(name=f"principals/{principal_id}", role=role, reason=reason)
        return self._call(self.access.RevokeRole, request)

    def revalidate(self, principal_id: str, *, reason: str) -> access_pb2.Principal:
        request = access_pb2.RevalidatePrincipalRequest(name=f"principals/{principal_id}", reason=reason)
        return self._call(self.access.RevalidatePrincipal, request)

    def unlock(self, principal_id: str, *, reason: str) -> access_pb2.Principal:
        request = access_pb2.UnlockPrincipalRequest(name=f"principals/{principal_id}", reason=reason)
        return self._call(self.access.UnlockPrincipal, request)

    def approve_department_head(self, principal_id: str, *, reason: str) -> access_pb2.Principal:
        """The Mayor's designee approves a department head (P11)."""
        request = access_pb2.ApproveDepartmentHeadRequest(name=f"principals/{principal_id}", reason=reason)
        return self._call(self.access.ApproveDepartmentHead, request)

    def withdraw_department_head(self, principal_id: str, *, reason: str) -> access_pb2.Principal:
        request = access_pb2.WithdrawDepartmentHeadRequest(name=f"principals/{principal_id}", reason=reason)
        return self._call(self.access.WithdrawDepartmentHead, request)

    def appoint_designee(self, principal_id: str, *, reason: str) -> access_pb2.Principal:
        request = access_pb2.AppointDesigneeRequest(name=f"principals/{principal_id}", reason=reason)
        return self._call(self.access.AppointDesignee, request)

    def assign_case(self, case_id: str, principal_id: str, *, reason: str) -> access_pb2.CaseAssignment:
        request = access_pb2.AssignCaseRequest(
            case=f"cases/{case_id}", principal=f"principals/{principal_id}", reason=reason
        )
        return self._call(self.access.AssignCase, request)

    def unassign_case(self, case_id: str, principal_id: str, *, reason: str) -> None:
        request = access_pb2.UnassignCaseRequest(
            case=f"cases/{case_id}", principal=f"principals/{principal_id}", reason=reason
        )
        self._call(self.access.UnassignCase, request)

    # --- registered individuals (P5) -----------------------------------------------------

    def create_camera(self, camera_id: str, *, description: str = "", reason: str) -> registry_pb2.Camera:
        request = registry_pb2.CreateCameraRequest(
            camera_id=camera_id, camera=registry_pb2.Camera(description=description), reason=reason
        )
        return self._call(self.registry.CreateCamera, request)

    def list_cameras(self) -> list[registry_pb2.Camera]:
        return list(self._call(self.registry.ListCameras, registry_pb2.ListCamerasRequest()).cameras)

    def create_zone(
        self, zone_id: str, cameras: list[str], *, description: str = "", reason: str
    ) -> registry_pb2.Zone:
        zone = registry_pb2.Zone(description=description, cameras=[f"cameras/{c}" for c in cameras])
        return self._call(
            self.registry.CreateZone,
            registry_pb2.CreateZoneRequest(zone_id=zone_id, zone=zone, reason=reason),
        )

    def set_zone_cameras(self, zone_id: str, cameras: list[str], *, reason: str) -> registry_pb2.Zone:
        request = registry_pb2.UpdateZoneCamerasRequest(
            name=f"zones/{zone_id}", cameras=[f"cameras/{c}" for c in cameras], reason=reason
        )
        return self._call(self.registry.UpdateZoneCameras, request)

    def list_zones(self) -> list[registry_pb2.Zone]:
        return list(self._call(self.registry.ListZones, registry_pb2.ListZonesRequest()).zones)

    def set_operator_zones(self, principal_id: str, zones: list[str], *, reason: str) -> None:
        request = registry_pb2.SetOperatorZonesRequest(
            principal=f"principals/{principal_id}", zones=[f"zones/{z}" for z in zones], reason=reason
        )
        self._call(self.registry.SetOperatorZones, request)

    def create_order(
        self,
        order_id: str,
        *,
        label: str,
        legal_reference: str,
        zones: list[str],
        start: datetime,
        end: datetime,
        reason: str,
    ) -> registry_pb2.RegistrationOrder:
        order = registry_pb2.RegistrationOrder(
            label=label,
            legal_reference=legal_reference,
            zones=[f"zones/{z}" for z in zones],
            start_time=_timestamp(start),
            end_time=_timestamp(end),
        )
        request = registry_pb2.CreateOrderRequest(order_id=order_id, order=order, reason=reason)
        return self._call(self.registry.CreateOrder, request)

    def get_order(self, order_id: str) -> registry_pb2.RegistrationOrder:
        return self._call(self.registry.GetOrder, registry_pb2.GetOrderRequest(name=f"orders/{order_id}"))

    def list_orders(self) -> list[registry_pb2.RegistrationOrder]:
        return list(self._call(self.registry.ListOrders, registry_pb2.ListOrdersRequest()).orders)

    def amend_order(
        self,
        order_id: str,
        *,
        legal_reference: str,
        zones: list[str] | None = None,
        end: datetime | None = None,
        reason: str,
    ) -> registry_pb2.RegistrationOrder:
        request = registry_pb2.AmendOrderRequest(
            name=f"orders/{order_id}",
            legal_reference=legal_reference,
            zones=[f"zones/{z}" for z in zones or []],
            end_time=_timestamp(end) if end else None,
            reason=reason,
        )
        return self._call(self.registry.AmendOrder, request)

    def revoke_order(self, order_id: str, *, reason: str) -> registry_pb2.RegistrationOrder:
        request = registry_pb2.RevokeOrderRequest(name=f"orders/{order_id}", reason=reason)
        return self._call(self.registry.RevokeOrder, request)

    def enroll_order_face(
        self,
        order_id: str,
        vector: npt.ArrayLike | None = None,
        *,
        photo: bytes | None = None,
        reason: str,
        aligned_crop: bool = False,
    ) -> faces_pb2.FaceTemplate:
        face = (
            faces_pb2.FaceInput(image=_image(photo, None, aligned_crop))
            if photo is not None
            else faces_pb2.FaceInput(embedding=embedding(vector if vector is not None else []))
        )
        request = registry_pb2.EnrollOrderFaceRequest(parent=f"orders/{order_id}", face=face, reason=reason)
        return self._call(self.registry.EnrollOrderFace, request)

    def report_sighting(
        self,
        camera_id: str,
        captured_at: datetime,
        faces: list[npt.ArrayLike] | None = None,
        *,
        image: bytes | None = None,
        reason: str = "exclusion-zone monitoring",
        aligned_crop: bool = False,
        sighting_id: str = "",
    ) -> sightings_pb2.SightingResult:
        """``aligned_crop``: the ``image`` is one face already aligned to 112x112."""
        request = sightings_pb2.Sighting(
            camera=f"cameras/{camera_id}",
            capture_time=_timestamp(captured_at),
            faces=[embedding(face) for face in faces or []],
            image=image or b"",
            reason=reason,
            image_aligned_crop=aligned_crop,
            sighting_id=sighting_id,
        )
        return self._call(self.sightings.ReportSighting, request)

    def stream_sightings(
        self, sightings: Iterator[sightings_pb2.Sighting], *, timeout: float | None = None
    ) -> sightings_pb2.StreamSightingsSummary:
        """A camera feed; ``timeout`` bounds the whole stream (default: the client's deadline)."""
        try:
            return self.sightings.StreamSightings(
                sightings, timeout=timeout or self._timeout, metadata=self._metadata
            )
        except grpc.RpcError as error:
            raise MatcherError(error) from None

    def subscribe_alerts(
        self, resume_token: str = "", *, timeout: float | None = None
    ) -> Iterator[sightings_pb2.Alert]:
        """Alerts of the caller's zones, as they come; ``timeout`` bounds the whole subscription."""
        yield from self.alert_stream(resume_token, timeout=timeout or 24 * 3600.0)

    def alert_stream(
        self, resume_token: str = "", *, timeout: float = 24 * 3600.0
    ) -> Stream[sightings_pb2.Alert]:
        """Like ``subscribe_alerts``, as a stream that another thread may cancel."""
        request = sightings_pb2.SubscribeAlertsRequest(resume_token=resume_token)
        return Stream(self.alerts.SubscribeAlerts(request, timeout=timeout, metadata=self._metadata))

    def ack_alert(self, alert_name: str) -> None:
        self._call(self.alerts.AckAlert, sightings_pb2.AckAlertRequest(name=alert_name))

    # --- governance (P13, P15, P16, P17) ---------------------------------------------------

    def decide_disclosure(
        self,
        case_id: str,
        *,
        recipient_kind: str,
        recipient_name: str,
        legal_basis: str,
        legal_reference: str = "",
        includes_biometric: bool = False,
        basis_end: datetime | None = None,
        reason: str,
    ) -> governance_pb2.Disclosure:
        request = governance_pb2.DecideDisclosureRequest(
            case=f"cases/{case_id}",
            recipient_kind=recipient_kind,
            recipient_name=recipient_name,
            legal_basis=legal_basis,
            legal_reference=legal_reference,
            includes_biometric=includes_biometric,
            basis_end_time=_timestamp(basis_end) if basis_end else None,
            reason=reason,
        )
        return self._call(self.governance.DecideDisclosure, request)

    def package_disclosure(self, disclosure_name: str, *, reason: str) -> governance_pb2.DisclosurePackage:
        request = governance_pb2.PackageDisclosureRequest(name=disclosure_name, reason=reason)
        return self._call(self.governance.PackageDisclosure, request)

    def list_disclosures(self, case_id: str = "") -> list[governance_pb2.Disclosure]:
        request = governance_pb2.ListDisclosuresRequest(case=f"cases/{case_id}" if case_id else "")
        return list(self._call(self.governance.ListDisclosures, request).disclosures)

    def grant_waiver(
        self,
        *,
        rule: str,
        scope: str,
        justification: str,
        reason_kind: str,
        end: datetime,
        start: datetime | None = None,
        mayor_approval: str = "",
        reason: str,
    ) -> governance_pb2.Waiver:
        waiver = governance_pb2.Waiver(
            rule=rule,
            scope=scope,
            justification=justification,
            reason_kind=reason_kind,
            end_time=_timestamp(end),
            start_time=_timestamp(start) if start else None,
            mayor_approval=mayor_approval,
        )
        return self._call(
            self.governance.GrantWaiver, governance_pb2.GrantWaiverRequest(waiver=waiver, reason=reason)
        )

    def enroll_waiver_face(
        self,
        waiver_name: str,
        vector: npt.ArrayLike | None = None,
        *,
        label: str,
        reason: str,
        photo: bytes | None = None,
        face_box: tuple[float, float, float, float] | None = None,
    ) -> governance_pb2.WaiverFace:
        """P1, P15: the sought person's face, into an active waiver's own search scope."""
        face = (
            faces_pb2.FaceInput(image=_image(photo, face_box))
            if photo is not None
            else faces_pb2.FaceInput(embedding=embedding(vector if vector is not None else []))
        )
        request = governance_pb2.EnrollWaiverFaceRequest(
            waiver=waiver_name, face=face, label=label, reason=reason
        )
        return self._call(self.governance.EnrollWaiverFace, request)

    def search_waiver_faces(
        self,
        waiver_name: str,
        vector: npt.ArrayLike | None = None,
        *,
        reason: str,
        photo: bytes | None = None,
        top_k: int = 0,
        min_score: float | None = None,
    ) -> governance_pb2.SearchWaiverFacesResponse:
        """P1, P15: a still against an active waiver's search scope only."""
        probe = (
            faces_pb2.FaceInput(image=_image(photo, None))
            if photo is not None
            else faces_pb2.FaceInput(embedding=embedding(vector if vector is not None else []))
        )
        request = governance_pb2.SearchWaiverFacesRequest(
            waiver=waiver_name, probe=probe, reason=reason, top_k=top_k, min_score=min_score
        )
        return self._call(self.governance.SearchWaiverFaces, request)

    def revoke_waiver(self, waiver_name: str, *, reason: str) -> governance_pb2.Waiver:
        return self._call(
            self.governance.RevokeWaiver, governance_pb2.RevokeWaiverRequest(name=waiver_name, reason=reason)
        )

    def list_waivers(self) -> list[governance_pb2.Waiver]:
        return list(self._call(self.governance.ListWaivers, governance_pb2.ListWaiversRequest()).waivers)

    # --- presence during a declared emergency (P6) -------------------------------------------

    def declare_emergency(
        self, title: str, zones: list[str], *, end: datetime, start: datetime | None = None, reason: str
    ) -> presence_pb2.Emergency:
        """The Director of Health or Human Services declares an emergency for zones and a period."""
        emergency = presence_pb2.Emergency(
            title=title,
            zones=[zone if zone.startswith("zones/") else f"zones/{zone}" for zone in zones],
            end_time=_timestamp(end),
            start_time=_timestamp(start) if start else None,
        )
        request = presence_pb2.DeclareEmergencyRequest(emergency=emergency, reason=reason)
        return self._call(self.presence.DeclareEmergency, request)

    def end_emergency(self, name: str, *, reason: str) -> presence_pb2.Emergency:
        request = presence_pb2.EndEmergencyRequest(name=name, reason=reason)
        return self._call(self.presence.EndEmergency, request)

    def list_emergencies(self) -> list[presence_pb2.Emergency]:
        request = presence_pb2.ListEmergenciesRequest()
        return list(self._call(self.presence.ListEmergencies, request).emergencies)

    def count_people(self, camera_id: str, frame: bytes, *, reason: str) -> presence_pb2.CountPeopleResponse:
        """How many faces a camera's frame shows, during an emergency covering the camera (P6)."""
        request = presence_pb2.CountPeopleRequest(camera=f"cameras/{camera_id}", image=frame, reason=reason)
        return self._call(self.presence.CountPeople, request)

    def record_complaint(
        self, received: datetime, channel: str, category: str, summary: str
    ) -> governance_pb2.Complaint:
        """P17: a complaint received from the public (auditors); no personal data in ``summary``."""
        complaint = governance_pb2.Complaint(
            receive_time=_timestamp(received), channel=channel, category=category, summary=summary
        )
        request = governance_pb2.RecordComplaintRequest(complaint=complaint)
        return self._call(self.governance.RecordComplaint, request)

    def list_complaints(
        self, start: datetime | None = None, end: datetime | None = None, category: str = ""
    ) -> list[governance_pb2.Complaint]:
        request = governance_pb2.ListComplaintsRequest(category=category)
        if start is not None:
            request.start_time.CopyFrom(_timestamp(start))
        if end is not None:
            request.end_time.CopyFrom(_timestamp(end))
        return list(self._call(self.governance.ListComplaints, request).complaints)

    def transparency_report(self, start: datetime, end: datetime) -> governance_pb2.TransparencyReport:
        request = governance_pb2.GetTransparencyReportRequest(
            start_time=_timestamp(start), end_time=_timestamp(end)
        )
        return self._call(self.governance.GetTransparencyReport, request)

    def watch_notices(self, *, timeout: float | None = None) -> Iterator[governance_pb2.Notice]:
        """P16 notices as they happen; ``timeout`` bounds the whole watch."""
        try:
            yield from self.governance.WatchNotices(
                governance_pb2.WatchNoticesRequest(), timeout=timeout or 24 * 3600.0, metadata=self._metadata
            )
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise MatcherError(error) from None

    # --- audit ----------------------------------------------------------------------------

    def audit_page(
        self, *, resource: str = "", action: str = "", after: int = 0, page_size: int = 100
    ) -> audit_pb2.ListAuditRecordsResponse:
        """One page of records after sequence ``after``, with ``next_after_sequence`` (0 at the end)."""
        request = audit_pb2.ListAuditRecordsRequest(
            after_sequence=after, resource=resource, action=action, page_size=page_size
        )
        return self._call(self.audit.ListAuditRecords, request)

    def audit_records(
        self, *, resource: str = "", action: str = "", after: int = 0, limit: int | None = None
    ) -> Iterator[audit_pb2.AuditRecord]:
        seen = 0
        while True:
            page = self._call(
                self.audit.ListAuditRecords,
                audit_pb2.ListAuditRecordsRequest(
                    after_sequence=after, resource=resource, action=action, page_size=500
                ),
            )
            for record in page.records:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield record
            after = page.next_after_sequence
            if not after:
                return

    def verify_audit(self) -> audit_pb2.VerifyAuditLogResponse:
        return self._call(self.audit.VerifyAuditLog, audit_pb2.VerifyAuditLogRequest())
