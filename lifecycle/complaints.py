"""Complaints received from the public (P17; Section 2.5 of the policy and Executive Order 78).

P17 lists complaints among the figures the transparency report must give, and Table 1 names
"citizen complaints submitted to the Citizens Service Bureau (CSB)". Nothing could record one, so
the report always said zero. A complaint is recorded here, by an **auditor**: the office that
reads the audit log and writes the reports (P10) and never uses the data, so that the people a
complaint may concern (the end users) neither record nor filter them. The auditors and the
Mayor's designee (who compiles the public bi-annual report, Section 2.5) may list them.

What is recorded, and only that (the record is published as counts, so it holds no personal
data, Section 2.6):

- *received*: when the city received it, not in the future;
- *channel*: how it came in (``csb`` for the Citizens Service Bureau, ``phone``, ``email``,
  ``web``, ``letter``, ``in_person``, ``other``);
- *category*: what it is about (``misuse``: a use outside Table 1; ``wrongful_match``: a person
  taken for somebody else; ``privacy``: collection or retention of personal data; ``sharing``: a
  disclosure; ``access``: a request to know what is held; ``other``);
- *summary*: 10-500 characters describing the concern, never who complained or who or what was
  seen. A summary with an e-mail address, a telephone or identity number, or a token that mixes
  letters and digits (a licence plate, a case or badge number) is refused with
  ``COMPLAINT_PERSONAL_DATA``: say "a plate was misread at a park", not which.

Every recording, and every refused one, is audited (P16) with its category and channel, never its
summary; the report counts the records of ``complaint.record`` by category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select

from lifecycle.actions import Action
from lifecycle.audit import REFUSED, AuditLog
from lifecycle.cases import new_id
from lifecycle.clock import Clock
from lifecycle.db import Database
from lifecycle.errors import AuditedRefusal, Kind, PolicyError
from lifecycle.governance_models import Complaint
from lifecycle.text import FORBIDDEN

CHANNELS: Final = ("csb", "phone", "email", "web", "letter", "in_person", "other")
CATEGORIES: Final = ("misuse", "wrongful_match", "privacy", "sharing", "access", "other")
MIN_SUMMARY, MAX_SUMMARY = 10, 500
COMPLAINT_PERSONAL_DATA: Final = "COMPLAINT_PERSONAL_DATA"

# What a summary may not hold: it is published as a count, and it is no place for personal data.
_PERSONAL: Final = (
    (re.compile(r"[^\s@]+@[^\s@]+"), "an e-mail address"),
    (re.compile(r"https?://|www\.", re.I), "a link"),
    (re.compile(r"\d(?:[\s./()+-]{0,2}\d){6,}"), "a telephone, identity or other number"),
)
_DATE_OR_TIME: Final = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?Z?)?\b|\b\d{1,2}:\d{2}\b")
_ORDINAL: Final = re.compile(r"\d+(?:st|nd|rd|th)", re.I)


def _looks_like_an_id(token: str) -> bool:
    """A plate, badge, case or account number: letters and digits mixed (not "4th", "P5")."""
    token = token.strip(".,;:!?()[]\"'")
    has_letter = any(c.isalpha() for c in token)
    has_digit = any(c.isdigit() for c in token)
    return len(token) >= 4 and has_letter and has_digit and not _ORDINAL.fullmatch(token)


@dataclass(frozen=True)
class ComplaintInput:
    received_at: datetime
    channel: str
    category: str
    summary: str


def _invalid(message: str) -> PolicyError:
    return PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"{message} (P17)", rule="P17")


def check(complaint: ComplaintInput, now: datetime) -> str:
    """The summary, stripped, once every field is valid; raises ``PolicyError`` otherwise."""
    if complaint.received_at.tzinfo is None or complaint.received_at > now:
        raise _invalid("a complaint's received time is needed, and not in the future")
    if complaint.channel not in CHANNELS:
        raise _invalid(f"channel {complaint.channel[:32]!r} is not one of {', '.join(CHANNELS)}")
    if complaint.category not in CATEGORIES:
        raise _invalid(f"category {complaint.category[:32]!r} is not one of {', '.join(CATEGORIES)}")
    summary = " ".join(complaint.summary.split())
    if not MIN_SUMMARY <= len(summary) <= MAX_SUMMARY or FORBIDDEN.search(summary):
        raise _invalid(f"a summary is {MIN_SUMMARY}-{MAX_SUMMARY} printable characters")
    undated = _DATE_OR_TIME.sub(" ", summary)  # a date or time names nobody
    found = [what for pattern, what in _PERSONAL if pattern.search(undated)]
    found += ["a plate or an id"] if any(_looks_like_an_id(t) for t in undated.split()) else []
    if found:
        raise PolicyError(
            Kind.INVALID_ARGUMENT,
            COMPLAINT_PERSONAL_DATA,
            f"the summary holds what looks like {found[0]}: describe the concern without personal "
            "data (no name, contact, plate, number or place of anybody); the complaint's file "
            "stays with the office that received it (P17, Section 2.6)",
            rule="P17",
        )
    return summary


class ComplaintBook:
    """Records and lists complaints; every recording is audited."""

    def __init__(self, db: Database, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit

    def record(self, actor: str, complaint: ComplaintInput) -> Complaint:
        now = self.clock.now()
        detail = {"category": complaint.category[:32], "channel": complaint.channel[:32], "rule": "P17"}
        try:
            summary = check(complaint, now)
            with self.db.transaction() as session:
                row = Complaint(
                    id=new_id(),
                    received_at=complaint.received_at,
                    channel=complaint.channel,
                    category=complaint.category,
                    summary=summary,
                    recorded_by=actor,
                    recorded_at=now,
                )
                session.add(row)
                self.audit.append(
                    session,
                    actor=actor,
                    action=Action.COMPLAINT_RECORD,
                    resource=f"complaints/{row.id}",
                    count=1,
                    detail=detail | {"received": complaint.received_at.isoformat()},
                )
                return row
        except PolicyError as error:
            self.audit.record(
                actor=actor,
                action=Action.COMPLAINT_RECORD,
                resource="complaints",
                outcome=REFUSED,
                code=error.reason,
                detail=detail,
            )
            raise AuditedRefusal.of(error) from error

    def list(
        self, start: datetime | None = None, end: datetime | None = None, category: str = ""
    ) -> list[Complaint]:
        """Complaints received in ``[start, end)``, oldest first, of one category if given."""
        query = select(Complaint)
        if start is not None:
            query = query.where(Complaint.received_at >= start)
        if end is not None:
            query = query.where(Complaint.received_at < end)
        if category:
            query = query.where(Complaint.category == category)
        with self.db.reading() as session:
            return list(session.scalars(query.order_by(Complaint.received_at, Complaint.id)))
