"""AuditService: reading and verifying the audit log (P16)."""

from __future__ import annotations

from matcher.app import App
from matcher.transport import convert, paging
from matcher.transport.calls import rpc
from matcher.v1 import audit_pb2


class AuditService:
    def __init__(self, app: App) -> None:
        self.app = app

    @rpc("audit.list", lambda r: r.resource or "audit", count=lambda resp: len(resp.records))
    def ListAuditRecords(
        self, request: audit_pb2.ListAuditRecordsRequest, actor: str
    ) -> audit_pb2.ListAuditRecordsResponse:
        size = paging.page_size(request.page_size)
        rows = self.app.lifecycle.audit.records(
            after_seq=request.after_sequence,
            limit=size + 1,
            resource=request.resource,
            action=request.action,
        )
        return audit_pb2.ListAuditRecordsResponse(
            records=[convert.audit_record(row) for row in rows[:size]],
            next_after_sequence=rows[size - 1].seq if len(rows) > size else 0,
        )

    @rpc("audit.verify", lambda r: "audit")
    def VerifyAuditLog(
        self, request: audit_pb2.VerifyAuditLogRequest, actor: str
    ) -> audit_pb2.VerifyAuditLogResponse:
        result = self.app.lifecycle.audit.verify()
        return audit_pb2.VerifyAuditLogResponse(
            ok=result.ok,
            records_checked=result.records_checked,
            first_bad_sequence=result.first_bad_sequence,
            problem=result.problem,
            head_hash=result.head_hash,
        )
