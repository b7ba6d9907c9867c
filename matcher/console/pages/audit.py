"""Auditors' pages: the audit log with filters, chain verification, the transparency report.

Resource and action filter in the service (``ListAuditRecords``); outcome and actor filter here,
over at most ``SCAN`` records per page, and the page says where the scan stopped so the next
page goes on from there. The report page asks the service for the report of the period and of
each month (or week, or day) in it, and draws the counts over time, refusals by reason and purges
by trigger as inline SVG.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from json import loads
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from matcher.client import MatcherClient
from matcher.console import charts, transparency
from matcher.console.refusals import explain
from matcher.console.sessions import AUDITOR, Session
from matcher.console.web import call, posted, problem, render, signed_in
from matcher.v1 import audit_pb2

PAGE = 100
SCAN = 2000
OUTCOMES = {name: value for name, value in audit_pb2.AuditRecord.Outcome.items() if value}


def _records(
    session: Session, resource: str, action: str, outcome: str, actor: str, after: int
) -> tuple[list[audit_pb2.AuditRecord], int]:
    """Up to PAGE matching records after ``after``, and where to go on from (0 at the end)."""
    shown: list[audit_pb2.AuditRecord] = []
    scanned = 0
    while len(shown) < PAGE and scanned < SCAN:
        page = session.client.audit_page(resource=resource, action=action, after=after, page_size=PAGE)
        for record in page.records:
            after = record.sequence
            scanned += 1
            if outcome and record.outcome != OUTCOMES.get(outcome):
                continue
            if actor and record.actor != actor:
                continue
            shown.append(record)
            if len(shown) == PAGE:
                return shown, after
        if not page.next_after_sequence:
            return shown, 0
        after = page.next_after_sequence
    return shown, after


async def audit_log(request: Request) -> Response:
    session = signed_in(request, AUDITOR)
    query = request.query_params
    filters = {
        "resource": query.get("resource", "").strip()[:300],
        "action": query.get("action", "").strip()[:100],
        "outcome": query.get("outcome", "") if query.get("outcome", "") in OUTCOMES else "",
        "actor": query.get("actor", "").strip()[:128],
    }
    after_text = query.get("after", "0")
    after = int(after_text) if after_text.isdigit() else 0
    records, next_after = await call(_records, session, after=after, **filters)
    return render(
        request,
        "audit.html",
        records=records,
        next_after=next_after,
        after=after,
        filters=filters,
        outcomes=sorted(OUTCOMES),
        Outcome=audit_pb2.AuditRecord.Outcome,
        explain_code=lambda code: explain("", code) if code else None,
    )


async def audit_verify(request: Request) -> Response:
    session, _ = await posted(request, AUDITOR)
    result = await call(session.client.verify_audit)
    return render(request, "verified.html", result=result, checked_at=datetime.now(UTC))


def _period(request: Request) -> tuple[datetime, datetime] | None:
    now = datetime.now(UTC)
    try:
        start = datetime.fromisoformat(
            request.query_params.get("from") or (now - timedelta(days=365)).date().isoformat()
        )
        end = datetime.fromisoformat(
            request.query_params.get("to") or (now + timedelta(days=1)).date().isoformat()
        )
    except ValueError:
        return None
    start, end = (d if d.tzinfo else d.replace(tzinfo=UTC) for d in (start, end))
    return (start, end) if end > start else None


def report_of(client: MatcherClient, start: datetime, end: datetime) -> dict[str, Any]:
    answer: dict[str, Any] = loads(client.transparency_report(start, end).json)
    return answer


def reports(
    client: MatcherClient, start: datetime, end: datetime
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The period's report, and one per sub-period for the counts over time."""
    whole = report_of(client, start, end)
    return whole, [(label, report_of(client, a, b)) for a, b, label in transparency.periods(start, end)]


async def report(request: Request) -> Response:
    session = signed_in(request, AUDITOR)
    period = _period(request)
    if period is None:
        return problem(request, 400, "Dates", "Give a start and a later end (YYYY-MM-DD).")
    start, end = period
    whole, timeline = await call(reports, session.client, start, end)
    refusals = sorted(whole.get("refusals_by_reason", {}).items(), key=lambda item: (-item[1], item[0]))
    purges = [(t, int(v.get("purges", 0))) for t, v in sorted(whole.get("purges_by_trigger", {}).items())]
    return render(
        request,
        "report.html",
        report=whole,
        start=start.date().isoformat(),
        end=end.date().isoformat(),
        timeline=transparency.over_time(timeline),
        refusals=refusals,
        refusals_chart=charts.bars("Refusals by reason", refusals),
        purges=purges,
        purges_chart=charts.bars("Purges by trigger", purges),
        explain_code=lambda code: explain("", code),
    )


ROUTES = [
    Route("/audit", audit_log, methods=["GET"]),
    Route("/audit/verify", audit_verify, methods=["POST"]),
    Route("/report", report, methods=["GET"]),
]
