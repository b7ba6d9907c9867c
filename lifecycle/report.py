"""The transparency report (P17; Section 2.5 of the policy and the city's transparency order).

Section 2.5 asks every department using surveillance technology for "clear metrics and KPIs" and
an annual report "detailing (based on the data) how their use ... is or is not having a positive
impact", and Section 2.6 publishes such data on the open data portal. P17 lists the figures:
enrolments, searches, hits, alerts, purges, refusals, exports, complaints, devices in use.

The report is computed from the audit log *alone* (``audit_records``), never from the tables of
the system of record, for three reasons: the log is tamper-evident (P16), so a figure can be
traced to the records it counts and the chain checked; destroyed data (P2, P3) leaves its receipt
in the log but nothing in the tables; and the log holds no biometric content (P8), so neither
can the report. The report names no actor, subject, recipient, camera or plate: only counts by
action, outcome, reason, trigger and recipient *kind*, so it can be published as it is. (The
number of distinct cameras is given, not their names: Section 2.6 withholds what "would
compromise the security or operation" of the system.)

What is counted is what the code writes: action names come from one enum
(:class:`lifecycle.actions.Action`) that the writers use too, and a test checks that every action
counted here is written by some operation. "Alerts" are the alerts raised (the ``count`` of each
sighting's record), not their acknowledgements, which are a figure of their own. Only
records with outcome ``ok`` count as operations; ``refused`` ones are counted by reason (an
authentication failure is also a refusal, with reason ``UNAUTHENTICATED_CALLER``); ``failed``
ones as failures. A period is the half-open interval ``[start, end)`` of the records' ``at``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise
from typing import Final

from sqlalchemy import select

from lifecycle.actions import Action
from lifecycle.audit import FAILED, OK, REFUSED, AuditLog
from lifecycle.db import Database
from lifecycle.models import AuditRecord

# The headline figures, in the order they are shown. Each is a count over the period.
FIGURES: Final[tuple[tuple[str, str], ...]] = (
    ("cases_opened", "Cases opened"),
    ("cases_closed", "Cases closed"),
    ("subjects_added", "Subjects added"),
    ("subjects_released", "Subjects released"),
    ("enrolments", "Enrolments (requests)"),
    ("templates_enrolled", "Face templates enrolled"),
    ("face_searches", "Face searches"),
    ("face_probes", "Faces searched (probes)"),
    ("face_hits", "Face search hits"),
    ("plate_entries_added", "Plates added to watchlists"),
    ("plate_entries_removed", "Plates removed from watchlists"),
    ("plate_checks", "Plate checks"),
    ("plate_reads", "Plate reads checked"),
    ("plate_hits", "Plate hits"),
    ("sightings", "Sightings reported"),
    ("alerts", "Alerts raised"),
    ("alerts_acknowledged", "Alerts acknowledged"),
    ("orders_created", "Registered-individual orders created"),
    ("orders_ended", "Registered-individual orders ended or revoked"),
    ("purges", "Purges completed"),
    ("templates_destroyed", "Face templates destroyed"),
    ("plate_entries_destroyed", "Watchlist plates destroyed"),
    ("holds_placed", "Legal holds placed"),
    ("holds_lifted", "Legal holds lifted"),
    ("disclosure_decisions", "Disclosure decisions"),
    ("disclosures_allowed", "Disclosures allowed"),
    ("disclosures_refused", "Disclosures refused"),
    ("disclosures_released", "Disclosures released (exports)"),
    ("waivers_granted", "Waivers granted"),
    ("waivers_refused", "Waivers refused"),
    ("waivers_revoked", "Waivers revoked"),
    ("waiver_searches", "Searches under a waiver (outside any case)"),
    ("waiver_search_hits", "Hits of searches under a waiver"),
    ("complaints", "Complaints"),
    ("refusals", "Refusals (all reasons)"),
    ("failures", "Internal failures"),
    ("authentication_failures", "Authentication failures"),
    ("accounts_locked", "Accounts locked"),
    ("cameras_registered", "Cameras registered"),
    ("cameras_reporting", "Devices in use (cameras submitting reads)"),
)

# Audit action names, as written by the code that performs them (one enum for both).
_SIMPLE: Final[Mapping[Action, str]] = {
    Action.CASE_CREATE: "cases_opened",
    Action.CASE_CLOSE: "cases_closed",
    Action.SUBJECT_CREATE: "subjects_added",
    Action.SUBJECT_RELEASE: "subjects_released",
    Action.FACE_ENROLL: "enrolments",
    Action.FACES_SEARCH: "face_searches",
    Action.PLATES_CHECK: "plate_checks",
    Action.SIGHTINGS_REPORT: "sightings",
    Action.ORDER_CREATE: "orders_created",
    Action.ORDER_END: "orders_ended",
    Action.ORDER_REVOKE: "orders_ended",
    Action.PURGE_RECEIPT: "purges",
    Action.HOLD_PLACE: "holds_placed",
    Action.HOLD_LIFT: "holds_lifted",
    Action.DISCLOSURE_PACKAGE: "disclosures_released",
    Action.WAIVER_GRANT: "waivers_granted",
    Action.WAIVER_REVOKE: "waivers_revoked",
    Action.WAIVER_SEARCH: "waiver_searches",
    Action.COMPLAINT_RECORD: "complaints",
    Action.USER_LOCK: "accounts_locked",
    Action.CAMERA_CREATE: "cameras_registered",
}
_SUMMED: Final[Mapping[Action, str]] = {  # action -> figure that adds up the records' ``count``
    Action.FACE_ENROLL: "templates_enrolled",
    Action.FACES_SEARCH: "face_hits",
    Action.PLATES_CHECK: "plate_hits",
    Action.SIGHTINGS_REPORT: "alerts",  # a sighting's count is the alerts it raised
    Action.ALERT_ACK: "alerts_acknowledged",  # 0 when the operator had acknowledged it already
    Action.PLATE_ADD: "plate_entries_added",
    Action.PLATE_REMOVE: "plate_entries_removed",
    Action.PURGE_RECEIPT: "templates_destroyed",
    Action.WAIVER_SEARCH: "waiver_search_hits",
}
# Every action the report reads: tests/test_actions.py checks that each is written somewhere.
COUNTED: Final[frozenset[Action]] = frozenset(
    {*_SIMPLE, *_SUMMED, Action.AUTH_FAILURE, Action.DISCLOSURE_DECIDE}
)


@dataclass(frozen=True)
class Report:
    """The figures of one period, with the audit range they were computed from."""

    period_start: datetime
    period_end: datetime
    records: int
    first_seq: int | None
    last_seq: int | None
    chain_verified: bool | None  # None when only the database was given (no key to verify)
    figures: Mapping[str, int]
    purges_by_trigger: Mapping[str, Mapping[str, int]]
    refusals_by_reason: Mapping[str, int]
    disclosures_by_recipient_kind: Mapping[str, Mapping[str, int]]
    waivers_by_rule: Mapping[str, int]
    complaints_by_category: Mapping[str, int]
    camera_actions: Mapping[str, int]
    operations_by_action: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "period": {"start": self.period_start.isoformat(), "end": self.period_end.isoformat()},
            "audit": {
                "records": self.records,
                "first_seq": self.first_seq,
                "last_seq": self.last_seq,
                "chain_verified": self.chain_verified,
            },
            "figures": {key: self.figures.get(key, 0) for key, _ in FIGURES},
            "purges_by_trigger": _plain(self.purges_by_trigger),
            "refusals_by_reason": dict(sorted(self.refusals_by_reason.items())),
            "disclosures_by_recipient_kind": _plain(self.disclosures_by_recipient_kind),
            "waivers_by_rule": dict(sorted(self.waivers_by_rule.items())),
            "complaints_by_category": dict(sorted(self.complaints_by_category.items())),
            "camera_actions": dict(sorted(self.camera_actions.items())),
            "operations_by_action": _plain(self.operations_by_action),
            "rule": "P17",
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def _rows(self) -> Iterator[tuple[str, str, str, object]]:
        """(section, key, sub-key, value): one long table that spreadsheets pivot easily."""
        yield "period", "start", "", self.period_start.isoformat()
        yield "period", "end", "", self.period_end.isoformat()
        yield "audit", "records", "", self.records
        yield "audit", "first_seq", "", "" if self.first_seq is None else self.first_seq
        yield "audit", "last_seq", "", "" if self.last_seq is None else self.last_seq
        yield "audit", "chain_verified", "", "" if self.chain_verified is None else self.chain_verified
        for key, _ in FIGURES:
            yield "figures", key, "", self.figures.get(key, 0)
        for section, nested in (
            ("purges_by_trigger", self.purges_by_trigger),
            ("disclosures_by_recipient_kind", self.disclosures_by_recipient_kind),
            ("operations_by_action", self.operations_by_action),
        ):
            for key, values in sorted(nested.items()):
                for sub, value in sorted(values.items()):
                    yield section, key, sub, value
        for section, flat in (
            ("refusals_by_reason", self.refusals_by_reason),
            ("waivers_by_rule", self.waivers_by_rule),
            ("complaints_by_category", self.complaints_by_category),
            ("camera_actions", self.camera_actions),
        ):
            for key, value in sorted(flat.items()):
                yield section, key, "", value

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", "key", "subkey", "value"])
        writer.writerows(self._rows())
        return out.getvalue()

    def to_text(self) -> str:
        """A table for people: the headline figures, then each breakdown."""
        lines = [
            "Surveillance system transparency report (P17)",
            f"Period: {self.period_start.isoformat()} to {self.period_end.isoformat()} (end excluded)",
            f"Audit records: {self.records}"
            + (f" (sequence {self.first_seq}-{self.last_seq})" if self.first_seq is not None else "")
            + {None: "", True: "; chain verified", False: "; CHAIN VERIFICATION FAILED"}[self.chain_verified],
            "",
        ]
        lines += _table(
            ("Figure", "Count"), [(label, str(self.figures.get(key, 0))) for key, label in FIGURES]
        )
        sections: list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]] = [
            (
                "Purges by trigger",
                ("Trigger", "Purges", "Templates", "Plates"),
                [
                    (t, str(v.get("purges", 0)), str(v.get("templates", 0)), str(v.get("plate_entries", 0)))
                    for t, v in sorted(self.purges_by_trigger.items())
                ],
            ),
            (
                "Refusals by reason",
                ("Reason", "Count"),
                [(r, str(n)) for r, n in sorted(self.refusals_by_reason.items())],
            ),
            (
                "Disclosures by recipient kind",
                ("Recipient kind", "Allowed", "Refused", "Released"),
                [
                    (k, str(v.get("allowed", 0)), str(v.get("refused", 0)), str(v.get("released", 0)))
                    for k, v in sorted(self.disclosures_by_recipient_kind.items())
                ],
            ),
            (
                "Waivers granted by rule",
                ("Rule", "Count"),
                [(r, str(n)) for r, n in sorted(self.waivers_by_rule.items())],
            ),
            (
                "Complaints by category",
                ("Category", "Count"),
                [(c, str(n)) for c, n in sorted(self.complaints_by_category.items())],
            ),
            (
                "Camera administration",
                ("Action", "Count"),
                [(a, str(n)) for a, n in sorted(self.camera_actions.items())],
            ),
        ]
        for title, header, rows in sections:
            lines += ["", title]
            lines += _table(header, rows) if rows else ["  (none)"]
        return "\n".join(lines) + "\n"


def _plain(nested: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {key: dict(sorted(values.items())) for key, values in sorted(nested.items())}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest])

    return [line(header), "  " + "  ".join("-" * w for w in widths), *(line(row) for row in rows)]


def _detail(record: AuditRecord) -> dict[str, object]:
    try:
        value = json.loads(record.detail_json or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _records(source: Database | AuditLog, start: datetime, end: datetime) -> Iterator[AuditRecord]:
    """The period's records in sequence order, read in pages so a long log does not fill memory."""
    if isinstance(source, AuditLog):
        after = 0
        while True:
            page = source.records(after_seq=after, limit=5000)
            if not page:
                return
            for record in page:
                if start <= record.at < end:
                    yield record
            after = page[-1].seq or after
    else:
        with source.reading() as session:
            yield from session.scalars(
                select(AuditRecord)
                .where(AuditRecord.at >= start, AuditRecord.at < end, AuditRecord.seq.is_not(None))
                .order_by(AuditRecord.seq)
                .execution_options(yield_per=1000)
            )


def build_report(
    source: Database | AuditLog, start: datetime, end: datetime, *, verify: bool = True
) -> Report:
    """Counts the period ``[start, end)`` from the audit log alone (P17).

    Given an ``AuditLog`` (which holds the chain's key), the whole chain is verified first and the
    result is part of the report, so a figure is never published from an edited log unnoticed.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a report period needs UTC-aware instants")
    if end <= start:
        raise ValueError("a report period needs its end after its start")
    verified = source.verify().ok if verify and isinstance(source, AuditLog) else None
    figures: Counter[str] = Counter()
    purges: defaultdict[str, Counter[str]] = defaultdict(Counter)
    refusals: Counter[str] = Counter()
    disclosures: defaultdict[str, Counter[str]] = defaultdict(Counter)
    waivers: Counter[str] = Counter()
    complaints: Counter[str] = Counter()
    camera_actions: Counter[str] = Counter()
    operations: defaultdict[str, Counter[str]] = defaultdict(Counter)
    cameras: set[str] = set()
    count, first, last = 0, None, None
    for record in _records(source, start, end):
        count += 1
        first = record.seq if first is None else first
        last = record.seq
        outcome = record.outcome
        try:
            action: Action | str = Action(record.action)
        except ValueError:  # a name no code of this version writes (an older log): shown, not counted
            action = record.action
        operations[action][outcome] += 1
        detail = _detail(record)
        if action == Action.AUTH_FAILURE:
            figures["authentication_failures"] += 1
        if action == Action.DISCLOSURE_DECIDE:
            kind = str(detail.get("recipient_kind") or "unspecified")
            figures["disclosure_decisions"] += 1
            if outcome == OK:
                figures["disclosures_allowed"] += 1
                disclosures[kind]["allowed"] += 1
            else:
                figures["disclosures_refused"] += 1
                disclosures[kind]["refused"] += 1
        if action == Action.WAIVER_GRANT and outcome != OK:
            figures["waivers_refused"] += 1
        if outcome == REFUSED:
            figures["refusals"] += 1
            refusals[record.code or "UNSPECIFIED"] += 1
            continue
        if outcome == FAILED:
            figures["failures"] += 1
            continue
        if outcome != OK:
            continue
        if not isinstance(action, Action):
            continue
        if action in _SIMPLE:
            figures[_SIMPLE[action]] += 1
        if action in _SUMMED:
            figures[_SUMMED[action]] += record.count
        if action == Action.FACES_SEARCH:
            figures["face_probes"] += _int(detail.get("probes"))
        elif action == Action.PLATES_CHECK:
            figures["plate_reads"] += _int(detail.get("reads"))
            camera = detail.get("camera")
            if isinstance(camera, str) and camera:
                cameras.add(camera)
        elif action == Action.PURGE_RECEIPT:
            trigger = record.code or "unspecified"
            plates = _int(detail.get("plate_entries"))
            figures["plate_entries_destroyed"] += plates
            purges[trigger]["purges"] += 1
            purges[trigger]["templates"] += record.count
            purges[trigger]["plate_entries"] += plates
        elif action == Action.DISCLOSURE_PACKAGE:
            disclosures[str(detail.get("recipient_kind") or "unspecified")]["released"] += 1
        elif action == Action.WAIVER_GRANT:
            waivers[str(detail.get("waived_rule") or "unspecified")] += 1
        elif action == Action.COMPLAINT_RECORD:
            complaints[str(detail.get("category") or "unspecified")] += 1
        if action.startswith("camera."):
            camera_actions[action] += 1
    figures["cameras_reporting"] = len(cameras)
    return Report(
        period_start=start,
        period_end=end,
        records=count,
        first_seq=first,
        last_seq=last,
        chain_verified=verified,
        figures=dict(figures),
        purges_by_trigger={k: dict(v) for k, v in purges.items()},
        refusals_by_reason=dict(refusals),
        disclosures_by_recipient_kind={k: dict(v) for k, v in disclosures.items()},
        waivers_by_rule=dict(waivers),
        complaints_by_category=dict(complaints),
        camera_actions=dict(camera_actions),
        operations_by_action={k: dict(v) for k, v in operations.items()},
    )


def build_reports(source: Database | AuditLog, boundaries: Sequence[datetime]) -> list[Report]:
    """One report per consecutive period between ``boundaries`` (e.g. the months of a year).

    The chain is verified once, not once per period.
    """
    if len(boundaries) < 2:
        raise ValueError("give at least a start and an end")
    verified = source.verify().ok if isinstance(source, AuditLog) else None
    reports = []
    for start, end in pairwise(boundaries):
        report = build_report(source, start, end, verify=False)
        reports.append(replace(report, chain_verified=verified))
    return reports
