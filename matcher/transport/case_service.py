"""CaseService: cases, subjects, legal holds and purges (P1-P4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TypeVar

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from lifecycle import models as m
from lifecycle.access import INVESTIGATOR
from lifecycle.cases import HoldView
from lifecycle.errors import Kind, PolicyError
from matcher.app import App
from matcher.transport import calls, convert, names, paging
from matcher.transport.calls import rpc
from matcher.v1 import cases_pb2

K = TypeVar("K")


def _counts(app: App, column: InstrumentedAttribute[K], keys: Sequence[K]) -> dict[K, int]:
    if not keys:
        return {}
    with app.lifecycle.db.reading() as session:
        query = select(column, func.count()).where(column.in_(keys)).group_by(column)
        return dict(session.execute(query).all())


def _enum_value(enum: EnumTypeWrapper, value: int, what: str) -> str:
    if value == 0:
        raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"{what} is required")
    return str(enum.Name(value)).lower()


class CaseService:
    def __init__(self, app: App) -> None:
        self.app = app

    def _case_messages(self, rows: list[m.Case]) -> list[cases_pb2.Case]:
        ids = [row.id for row in rows]
        faces = _counts(self.app, m.FaceTemplate.case_id, ids)
        plates = _counts(self.app, m.PlateEntry.case_id, ids)
        return [convert.case(row, faces.get(row.id, 0), plates.get(row.id, 0)) for row in rows]

    def _subject_messages(self, rows: list[m.Subject]) -> list[cases_pb2.Subject]:
        pks = [row.pk for row in rows]
        faces = _counts(self.app, m.FaceTemplate.subject_pk, pks)
        plates = _counts(self.app, m.PlateEntry.subject_pk, pks)
        return [convert.subject(row, faces.get(row.pk, 0), plates.get(row.pk, 0)) for row in rows]

    @rpc("case.create", lambda r: f"cases/{r.case_id}", audits_itself=True)
    def CreateCase(self, request: cases_pb2.CreateCaseRequest, actor: str) -> cases_pb2.Case:
        investigates = INVESTIGATOR in calls.decision().roles
        row = self.app.lifecycle.create_case(
            actor, request.case_id, request.case.title, request.reason, assign_creator=investigates
        )
        return convert.case(row, 0)

    @rpc("case.get", lambda r: r.name, cases=lambda r: [names.case_id(r.name)])
    def GetCase(self, request: cases_pb2.GetCaseRequest, actor: str) -> cases_pb2.Case:
        case_id = names.case_id(request.name)
        with self.app.lifecycle.db.reading() as session:
            row = self.app.lifecycle.case(session, case_id)
        return self._case_messages([row])[0]

    @rpc("case.list", lambda r: "cases", count=lambda resp: len(resp.cases))
    def ListCases(self, request: cases_pb2.ListCasesRequest, actor: str) -> cases_pb2.ListCasesResponse:
        size = paging.page_size(request.page_size)
        state = cases_pb2.Case.State.Name(request.state).lower() if request.state else None
        rows = self.app.lifecycle.list_cases(
            state, paging.decode(request.page_token), size + 1, only=calls.decision().case_filter
        )
        return cases_pb2.ListCasesResponse(
            cases=self._case_messages(rows[:size]),
            next_page_token=paging.encode(rows[size - 1].id) if len(rows) > size else "",
        )

    @rpc("case.close", lambda r: r.name, cases=lambda r: [names.case_id(r.name)], audits_itself=True)
    def CloseCase(self, request: cases_pb2.CloseCaseRequest, actor: str) -> cases_pb2.Case:
        row = self.app.lifecycle.close_case(actor, names.case_id(request.name), request.reason)
        return self._case_messages([row])[0]

    @rpc(
        "subject.create",
        lambda r: f"{r.parent}/subjects/{r.subject_id}",
        cases=lambda r: [names.case_id(r.parent)],
        audits_itself=True,
    )
    def CreateSubject(self, request: cases_pb2.CreateSubjectRequest, actor: str) -> cases_pb2.Subject:
        role = _enum_value(cases_pb2.Subject.Role, request.subject.role, "the subject's role")
        row = self.app.lifecycle.create_subject(
            actor,
            names.case_id(request.parent),
            request.subject_id,
            request.subject.label,
            role,
            request.reason,
        )
        return convert.subject(row, 0)

    @rpc("subject.get", lambda r: r.name, cases=lambda r: [names.subject_ids(r.name)[0]])
    def GetSubject(self, request: cases_pb2.GetSubjectRequest, actor: str) -> cases_pb2.Subject:
        case_id, subject_id = names.subject_ids(request.name)
        with self.app.lifecycle.db.reading() as session:
            row = self.app.lifecycle.subject(session, case_id, subject_id)
        return self._subject_messages([row])[0]

    @rpc(
        "subject.list",
        lambda r: r.parent,
        cases=lambda r: [names.case_id(r.parent)],
        count=lambda resp: len(resp.subjects),
    )
    def ListSubjects(
        self, request: cases_pb2.ListSubjectsRequest, actor: str
    ) -> cases_pb2.ListSubjectsResponse:
        size = paging.page_size(request.page_size)
        rows = self.app.lifecycle.list_subjects(
            names.case_id(request.parent), paging.decode(request.page_token), size + 1
        )
        return cases_pb2.ListSubjectsResponse(
            subjects=self._subject_messages(rows[:size]),
            next_page_token=paging.encode(rows[size - 1].subject_id) if len(rows) > size else "",
        )

    @rpc(
        "subject.release",
        lambda r: r.name,
        cases=lambda r: [names.subject_ids(r.name)[0]],
        audits_itself=True,
    )
    def ReleaseSubject(self, request: cases_pb2.ReleaseSubjectRequest, actor: str) -> cases_pb2.Subject:
        case_id, subject_id = names.subject_ids(request.name)
        row = self.app.lifecycle.release_subject(actor, case_id, subject_id, request.reason)
        return self._subject_messages([row])[0]

    @rpc(
        "hold.place",
        lambda r: f"{r.parent}/legalHolds",
        cases=lambda r: [names.case_id(r.parent)],
        audits_itself=True,
    )
    def PlaceLegalHold(self, request: cases_pb2.PlaceLegalHoldRequest, actor: str) -> cases_pb2.LegalHold:
        hold = request.legal_hold
        kind = cases_pb2.LegalHold.AuthorityKind.Name(hold.authority_kind).lower()
        row = self.app.lifecycle.place_hold(
            actor,
            names.case_id(request.parent),
            authority_kind=kind,
            authority=hold.authority,
            placed_by=hold.placed_by,
            end_at=hold.end_time.ToDatetime(tzinfo=UTC) if hold.HasField("end_time") else None,
            reason=request.reason,
        )
        return convert.hold(HoldView(row, "active"))

    @rpc("hold.lift", lambda r: r.name, cases=lambda r: [names.hold_ids(r.name)[0]], audits_itself=True)
    def LiftLegalHold(self, request: cases_pb2.LiftLegalHoldRequest, actor: str) -> cases_pb2.LegalHold:
        case_id, hold_id = names.hold_ids(request.name)
        self.app.lifecycle.lift_hold(actor, case_id, hold_id, request.reason)
        views = self.app.lifecycle.list_holds(case_id)
        return next(convert.hold(v) for v in views if v.hold.id == hold_id)

    @rpc(
        "hold.list",
        lambda r: r.parent,
        cases=lambda r: [names.case_id(r.parent)],
        count=lambda resp: len(resp.legal_holds),
    )
    def ListLegalHolds(
        self, request: cases_pb2.ListLegalHoldsRequest, actor: str
    ) -> cases_pb2.ListLegalHoldsResponse:
        views = self.app.lifecycle.list_holds(names.case_id(request.parent))
        return cases_pb2.ListLegalHoldsResponse(legal_holds=[convert.hold(v) for v in views])

    @rpc(
        "purge.list",
        lambda r: r.parent or "purges",
        cases=lambda r: [names.case_id(r.parent)] if r.parent and not r.parent.startswith("orders/") else [],
        count=lambda resp: len(resp.purges),
    )
    def ListPurges(self, request: cases_pb2.ListPurgesRequest, actor: str) -> cases_pb2.ListPurgesResponse:
        """A case's purges, an order's (``orders/{order}``), or every one the caller may see."""
        decision = calls.decision()
        order_id = names.order_id(request.parent) if request.parent.startswith("orders/") else None
        case_id = names.case_id(request.parent) if request.parent and order_id is None else None
        if order_id is not None and not decision.orders:
            return cases_pb2.ListPurgesResponse()  # not the caller's to see: as if there were none
        views = self.app.lifecycle.list_purges(
            case_id, only=decision.case_filter, order_id=order_id, orders=decision.orders
        )
        return cases_pb2.ListPurgesResponse(purges=[convert.purge(v) for v in views])
