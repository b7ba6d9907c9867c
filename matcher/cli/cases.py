"""CLI commands for cases, subjects, legal holds, purges, the audit log and health."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from matcher.cli import access
from matcher.cli.output import Printer, enum_name, short_time, with_reason
from matcher.client import AUTHORITY_KINDS, ROLES, MatcherClient

CASE_COLS = ("CASE", "STATE", "TEMPLATES", "OPENED", "CLOSED", "TITLE")
SUBJECT_COLS = ("SUBJECT", "ROLE", "STATE", "TEMPLATES", "LABEL")
HOLD_COLS = ("HOLD", "STATE", "KIND", "AUTHORITY", "PLACED BY", "ENDS")
PURGE_COLS = (
    "PURGE",
    "CASE OR ORDER",
    "SUBJECT",
    "TRIGGER",
    "STATE",
    "TEMPLATES",
    "REQUESTED",
    "DONE",
    "HELD UNTIL",
)
AUDIT_COLS = ("SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "RESOURCE", "COUNT", "CODE", "REASON")


def case_row(c: Any) -> list[object]:
    return [
        c.name,
        enum_name(c, "state"),
        c.face_template_count,
        short_time(c.create_time),
        short_time(c.close_time),
        c.title,
    ]


def subject_row(s: Any) -> list[object]:
    return [s.name, enum_name(s, "role"), enum_name(s, "state"), s.face_template_count, s.label]


def hold_row(h: Any) -> list[object]:
    return [
        h.name,
        enum_name(h, "state"),
        enum_name(h, "authority_kind"),
        h.authority,
        h.placed_by,
        short_time(h.end_time),
    ]


def purge_row(p: Any) -> list[object]:
    return [
        p.name,
        p.case or p.order,
        p.subject,
        enum_name(p, "trigger"),
        enum_name(p, "state"),
        p.face_template_count,
        short_time(p.request_time),
        short_time(p.complete_time),
        short_time(p.held_until),
    ]


def audit_row(r: Any) -> list[object]:
    return [
        r.sequence,
        short_time(r.time),
        r.actor,
        r.action,
        enum_name(r, "outcome"),
        r.resource,
        r.count,
        r.code,
        r.reason[:40],
    ]


def instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, for example 2027-01-31T00:00Z")
    return value.astimezone(UTC)


# --- handlers: (client, args, printer) -> exit code ---------------------------------------------


def case_create(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.create_case(args.id or "", args.title, reason=args.reason), CASE_COLS, case_row)
    return 0


def case_get(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.get_case(args.case), CASE_COLS, case_row)
    return 0


def case_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(list(client.list_cases(args.state or "")), CASE_COLS, case_row)
    return 0


def case_close(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.close_case(args.case, reason=args.reason), CASE_COLS, case_row)
    return 0


def subject_add(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    subject = client.create_subject(
        args.case, args.id or "", args.role, label=args.label or "", reason=args.reason
    )
    out.message(subject, SUBJECT_COLS, subject_row)
    return 0


def subject_get(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.get_subject(args.case, args.subject), SUBJECT_COLS, subject_row)
    return 0


def subject_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(list(client.list_subjects(args.case)), SUBJECT_COLS, subject_row)
    return 0


def subject_release(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(
        client.release_subject(args.case, args.subject, reason=args.reason), SUBJECT_COLS, subject_row
    )
    return 0


def hold_place(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    hold = client.place_legal_hold(
        args.case,
        authority_kind=args.kind,
        authority=args.authority,
        placed_by=args.placed_by,
        until=args.until,
        reason=args.reason,
    )
    out.message(hold, HOLD_COLS, hold_row)
    return 0


def hold_lift(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.lift_legal_hold(args.case, args.hold, reason=args.reason), HOLD_COLS, hold_row)
    return 0


def hold_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_legal_holds(args.case), HOLD_COLS, hold_row)
    return 0


def purges(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_purges(args.case or "", order_id=args.order or ""), PURGE_COLS, purge_row)
    return 0


def audit_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    records = client.audit_records(
        resource=args.resource or "", action=args.filter_action or "", after=args.after, limit=args.limit
    )
    out.messages(list(records), AUDIT_COLS, audit_row)
    return 0


def audit_verify(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    """Exit 3 when the chain is broken, so that a cron job or a monitor can alert on it."""
    result = client.verify_audit()
    if out.as_json:
        out.json(
            {
                "ok": result.ok,
                "records_checked": result.records_checked,
                "first_bad_sequence": result.first_bad_sequence,
                "problem": result.problem,
                "head_hash": result.head_hash,
            }
        )
    elif result.ok:
        print(f"audit log intact: {result.records_checked} records, head {result.head_hash[:16]}")
    else:
        print(f"AUDIT LOG BROKEN at record {result.first_bad_sequence}: {result.problem}")
    return 0 if result.ok else 3


def health(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    serving = client.serving(args.service)
    print("SERVING" if serving else "NOT SERVING")
    return 0 if serving else 1


def register(commands: Any) -> None:
    case = commands.add_parser("case", help="open, list, inspect and close cases").add_subparsers(
        dest="action", required=True
    )
    create = with_reason(case.add_parser("create", help="open a case"))
    create.add_argument("--id", help="case id (a-z, 0-9, '-'); generated when omitted")
    create.add_argument("--title", required=True)
    create.set_defaults(handler=case_create)
    get = case.add_parser("get")
    get.add_argument("case")
    get.set_defaults(handler=case_get)
    listing = case.add_parser("list")
    listing.add_argument("--state", choices=["open", "closed"])
    listing.set_defaults(handler=case_list)
    close = with_reason(case.add_parser("close", help="close a case: its biometric data is destroyed (P3)"))
    close.add_argument("case")
    close.set_defaults(handler=case_close)
    for verb, handler, text in (
        ("assign", access.case_assign, "assign a case to an investigator or partner (case supervisor)"),
        ("unassign", access.case_unassign, "end an assignment (case supervisor)"),
    ):
        assignment = with_reason(case.add_parser(verb, help=text))
        assignment.add_argument("case")
        assignment.add_argument("principal")
        assignment.set_defaults(handler=handler)

    subject = commands.add_parser("subject", help="subjects of a case").add_subparsers(
        dest="action", required=True
    )
    add = with_reason(subject.add_parser("add", help="add a subject to a case"))
    add.add_argument("case")
    add.add_argument("--role", required=True, choices=sorted(ROLES))
    add.add_argument("--id", help="subject id; generated when omitted")
    add.add_argument("--label", help="pseudonymous label, e.g. POI-1")
    add.set_defaults(handler=subject_add)
    sget = subject.add_parser("get")
    sget.add_argument("case")
    sget.add_argument("subject")
    sget.set_defaults(handler=subject_get)
    slist = subject.add_parser("list")
    slist.add_argument("case")
    slist.set_defaults(handler=subject_list)
    release = with_reason(subject.add_parser("release", help="no longer a person of interest (P2)"))
    release.add_argument("case")
    release.add_argument("subject")
    release.set_defaults(handler=subject_release)

    hold = commands.add_parser("hold", help="legal holds (P4)").add_subparsers(dest="action", required=True)
    place = with_reason(hold.add_parser("place", help="suspend destruction of a case's data"))
    place.add_argument("case")
    place.add_argument("--kind", required=True, choices=sorted(AUTHORITY_KINDS))
    place.add_argument("--authority", required=True, help="citation: court order number or statute")
    place.add_argument("--placed-by", required=True, help="who is answerable for the hold")
    place.add_argument("--until", required=True, type=instant, help="end, e.g. 2027-01-31T00:00Z")
    place.set_defaults(handler=hold_place)
    lift = with_reason(hold.add_parser("lift"))
    lift.add_argument("case")
    lift.add_argument("hold")
    lift.set_defaults(handler=hold_lift)
    hlist = hold.add_parser("list")
    hlist.add_argument("case")
    hlist.set_defaults(handler=hold_list)

    purge = commands.add_parser("purges", help="purges and their progress")
    purge.add_argument("case", nargs="?")
    purge.add_argument(
        "--order", help="a registered-individual order's purges (registry officers: only these)"
    )
    purge.set_defaults(handler=purges)

    audit = commands.add_parser("audit", help="the audit log").add_subparsers(dest="action", required=True)
    alist = audit.add_parser("list")
    alist.add_argument("--resource", help="e.g. cases/2026-0042")
    alist.add_argument("--action", dest="filter_action", help="e.g. faces.search")
    alist.add_argument("--after", type=int, default=0, help="records after this sequence number")
    alist.add_argument("--limit", type=int)
    alist.set_defaults(handler=audit_list)
    audit.add_parser("verify", help="check the hash chain; exit 3 when broken").set_defaults(
        handler=audit_verify
    )
    check = commands.add_parser("health", help="is the service SERVING? (exit 1 when not)")
    check.add_argument(
        "--service",
        default="",
        help="'' (readiness, the default), 'liveness', or a service such as matcher.v1.FaceService",
    )
    check.set_defaults(handler=health)
