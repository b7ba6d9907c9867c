"""Rows of the system of record to messages of the matcher.v1 contract."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from lifecycle import models as m
from lifecycle.cases import HoldView, PurgeView
from matcher.transport.names import case_name, subject_name
from matcher.v1 import audit_pb2, cases_pb2, faces_pb2


def timestamp(instant: datetime | None) -> Timestamp | None:
    if instant is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(instant)
    return stamp


def case(row: m.Case, template_count: int, plate_count: int = 0) -> cases_pb2.Case:
    return cases_pb2.Case(
        name=case_name(row.id),
        title=row.title,
        state=row.state.upper(),
        create_time=timestamp(row.created_at),
        close_time=timestamp(row.closed_at),
        close_reason=row.close_reason or "",
        face_template_count=template_count,
        plate_entry_count=plate_count,
    )


def subject(row: m.Subject, template_count: int, plate_count: int = 0) -> cases_pb2.Subject:
    return cases_pb2.Subject(
        name=subject_name(row.case_id, row.subject_id),
        label=row.label,
        role=row.role.upper(),
        state=row.state.upper(),
        create_time=timestamp(row.created_at),
        release_time=timestamp(row.released_at),
        release_reason=row.release_reason or "",
        face_template_count=template_count,
        plate_entry_count=plate_count,
    )


def hold(view: HoldView) -> cases_pb2.LegalHold:
    row = view.hold
    return cases_pb2.LegalHold(
        name=f"cases/{row.case_id}/legalHolds/{row.id}",
        authority_kind=row.authority_kind.upper(),
        authority=row.authority,
        placed_by=row.placed_by,
        create_time=timestamp(row.created_at),
        end_time=timestamp(row.end_at),
        state=view.state.upper(),
        lift_time=timestamp(row.lifted_at),
        lift_reason=row.lift_reason or "",
    )


def purge(view: PurgeView) -> cases_pb2.Purge:
    row = view.purge
    return cases_pb2.Purge(
        name=f"purges/{row.id}",
        case=case_name(row.case_id) if row.case_id is not None else "",
        subject=subject_name(row.case_id, view.subject_id) if view.subject_id and row.case_id else "",
        order=f"orders/{row.order_id}" if row.order_id is not None else "",
        waiver=f"waivers/{row.waiver_id}" if row.waiver_id is not None else "",
        alert_count=row.alert_count,
        trigger=row.trigger.upper(),
        state=row.state.upper(),
        request_time=timestamp(row.requested_at),
        complete_time=timestamp(row.completed_at),
        face_template_count=row.face_template_count,
        plate_entry_count=row.plate_entry_count,
        held_until=timestamp(view.held_until),
    )


def face_template(row: m.FaceTemplate, subject_id: str) -> faces_pb2.FaceTemplate:
    return faces_pb2.FaceTemplate(
        name=f"{subject_name(row.case_id, subject_id)}/faceTemplates/{row.id}",
        model=row.model,
        create_time=timestamp(row.created_at),
    )


def audit_record(row: m.AuditRecord) -> audit_pb2.AuditRecord:
    return audit_pb2.AuditRecord(
        sequence=row.seq,
        time=timestamp(row.at),
        actor=row.actor,
        action=row.action,
        outcome=row.outcome.upper(),
        resource=row.resource,
        reason=row.reason,
        count=row.count,
        code=row.code,
        detail_json=row.detail_json,
        previous_hash=row.prev_hash,
        hash=row.hash,
    )
