"""CLI commands for disclosures (P13), waivers (P15), notices (P16), complaints and the report (P17)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from matcher.cli.cases import instant
from matcher.cli.faces import load_embedding, read_photo
from matcher.cli.output import Printer, as_dict, short_time, table, with_reason
from matcher.client import MatcherClient

DISCLOSURE_COLS = ("DISCLOSURE", "ALLOWED", "RECIPIENT", "KIND", "BASIS", "BIOMETRIC", "REASON", "DECIDED")
COMPLAINT_COLS = ("COMPLAINT", "RECEIVED", "CHANNEL", "CATEGORY", "SUMMARY", "RECORDED BY")
WAIVER_COLS = ("WAIVER", "STATE", "RULE", "SCOPE", "REASON", "BY", "START", "END")


def disclosure_row(d: Any) -> list[object]:
    return [
        d.name,
        "yes" if d.allowed else "NO",
        d.recipient_name,
        d.recipient_kind,
        d.legal_basis,
        "yes" if d.includes_biometric else "no",
        d.refusal_reason,
        short_time(d.decide_time),
    ]


def waiver_row(w: Any) -> list[object]:
    return [
        w.name,
        w.state,
        w.rule,
        w.scope,
        w.reason_kind,
        w.granted_by_title,
        short_time(w.start_time),
        short_time(w.end_time),
    ]


def complaint_row(c: Any) -> list[object]:
    return [c.name, short_time(c.receive_time), c.channel, c.category, c.summary, c.recorded_by]


def disclose(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    """Exit 4 when refused, so that a script cannot mistake a refusal for a release."""
    decision = client.decide_disclosure(
        args.case,
        recipient_kind=args.recipient_kind,
        recipient_name=args.recipient,
        legal_basis=args.basis,
        legal_reference=args.reference or "",
        includes_biometric=args.biometric,
        basis_end=args.basis_end,
        reason=args.reason,
    )
    out.message(decision, DISCLOSURE_COLS, disclosure_row)
    if not decision.allowed and not out.as_json:
        print(f"refused ({decision.rule}): {decision.message}", file=sys.stderr)
    return 0 if decision.allowed else 4


def disclosures_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_disclosures(args.case or ""), DISCLOSURE_COLS, disclosure_row)
    return 0


def disclosures_package(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    package = client.package_disclosure(args.disclosure, reason=args.reason)
    print(json.dumps(json.loads(package.manifest_json), indent=2))
    return 0


def waiver_grant(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    waiver = client.grant_waiver(
        rule=args.rule,
        scope=args.scope,
        justification=args.justification,
        reason_kind=args.kind,
        start=args.start,
        end=args.end,
        mayor_approval=args.mayor_approval or "",
        reason=args.reason,
    )
    out.message(waiver, WAIVER_COLS, waiver_row)
    return 0


def waiver_revoke(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.revoke_waiver(args.waiver, reason=args.reason), WAIVER_COLS, waiver_row)
    return 0


WAIVER_FACE_COLS = ("FACE", "LABEL", "MODEL", "CREATED")
WAIVER_MATCH_COLS = ("PROBE", "FACE", "LABEL", "SCORE")


def waiver_enroll(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    """P1, P15: the sought person's face into the waiver's own search scope."""
    face = client.enroll_waiver_face(
        args.waiver,
        None if args.photo else load_embedding(args.embedding),
        photo=read_photo(args.photo) if args.photo else None,
        label=args.label,
        reason=args.reason,
    )
    out.message(face, WAIVER_FACE_COLS, lambda f: [f.name, f.label, f.model, short_time(f.create_time)])
    return 0


def waiver_search(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    """P1, P15: a still against the waiver's search scope only."""
    answer = client.search_waiver_faces(
        args.waiver,
        None if args.photo else load_embedding(args.embedding),
        photo=read_photo(args.photo) if args.photo else None,
        reason=args.reason,
        top_k=args.top_k or 0,
    )
    if out.as_json:
        out.json(as_dict(answer))
        return 0
    rows = [
        [str(i), m.face, m.label, f"{m.score:.3f}"] for i, r in enumerate(answer.results) for m in r.matches
    ]
    print(table(WAIVER_MATCH_COLS, rows) if rows else "(no match)")
    return 0


def waiver_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_waivers(), WAIVER_COLS, waiver_row)
    return 0


def complaint_record(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    complaint = client.record_complaint(args.received, args.channel, args.category, args.summary)
    out.message(complaint, COMPLAINT_COLS, complaint_row)
    return 0


def complaint_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    rows = client.list_complaints(args.start, args.end, args.category or "")
    out.messages(rows, COMPLAINT_COLS, complaint_row)
    return 0


def report(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    result = client.transparency_report(args.start, args.end)
    fmt = "json" if out.as_json else args.format
    print({"json": result.json, "csv": result.csv, "text": result.text}[fmt])
    return 0


def notices_watch(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    print("watching notices of unauthorised attempts (Ctrl-C to stop)", file=sys.stderr)
    for notice in client.watch_notices(timeout=args.duration):
        print(
            f"{short_time(notice.time)}  {notice.kind.upper()}  {notice.principal}  {notice.action}  "
            f"{notice.reason}: {notice.message}",
            flush=True,
        )
    return 0


def register(commands: Any) -> None:
    decide = with_reason(commands.add_parser("disclose", help="may a case's data be shared? (P13, Table 2)"))
    decide.add_argument("case")
    decide.add_argument("--recipient", required=True, help="the organisation")
    decide.add_argument("--recipient-kind", required=True, help="e.g. external_law_enforcement, civil_party")
    decide.add_argument("--basis", required=True, help="e.g. active_investigation, court_order, subpoena")
    decide.add_argument("--reference", help="citation of the legal basis")
    decide.add_argument("--biometric", action="store_true", help="the package would include biometric data")
    decide.add_argument("--basis-end", type=instant, help="end of an emergency basis")
    decide.set_defaults(handler=disclose)
    disclosures = commands.add_parser("disclosures", help="decisions and their packages").add_subparsers(
        dest="action", required=True
    )
    listing = disclosures.add_parser("list")
    listing.add_argument("case", nargs="?")
    listing.set_defaults(handler=disclosures_list)
    package = with_reason(disclosures.add_parser("package", help="the manifest an allowed decision releases"))
    package.add_argument("disclosure", help="cases/{case}/disclosures/{id}")
    package.set_defaults(handler=disclosures_package)

    waivers = commands.add_parser("waivers", help="temporary deviations (P15)").add_subparsers(
        dest="action", required=True
    )
    grant = with_reason(waivers.add_parser("grant"))
    grant.add_argument("--rule", required=True, help="e.g. P5")
    grant.add_argument("--scope", required=True, help="e.g. cases/2026-0042")
    grant.add_argument("--justification", required=True)
    grant.add_argument("--kind", required=True, choices=["life", "safety", "asset_protection"])
    grant.add_argument("--start", type=instant)
    grant.add_argument("--end", required=True, type=instant)
    grant.add_argument("--mayor-approval", help="reference of the Mayor's approval (30 days or more)")
    grant.set_defaults(handler=waiver_grant)
    revoke = with_reason(waivers.add_parser("revoke"))
    revoke.add_argument("waiver")
    revoke.set_defaults(handler=waiver_revoke)
    waivers.add_parser("list").set_defaults(handler=waiver_list)
    for name, handler, what in (
        ("enroll", waiver_enroll, "the sought person's face, into a P1 waiver's search (investigators)"),
        ("search", waiver_search, "a still against a P1 waiver's search (investigators)"),
    ):
        command = with_reason(waivers.add_parser(name, help=what))
        command.add_argument("waiver", help="waivers/{id}: an active waiver of P1 for searches/{id}")
        source = command.add_mutually_exclusive_group(required=True)
        source.add_argument("--photo", help="JPEG or PNG")
        source.add_argument("--embedding", help=".npy file with one embedding")
        if name == "enroll":
            command.add_argument("--label", required=True, help="a reference such as MISSING-1, not a name")
        else:
            command.add_argument("--top-k", type=int, help="matches per face (default 10)")
        command.set_defaults(handler=handler)

    complaints = commands.add_parser(
        "complaints", help="complaints received from the public (P17, auditors)"
    ).add_subparsers(dest="action", required=True)
    record = complaints.add_parser("record", help="record one (no personal data in the summary)")
    record.add_argument("--received", required=True, type=instant, help="when the city received it")
    record.add_argument(
        "--channel",
        required=True,
        help="csb (Citizens Service Bureau), phone, email, web, letter, in_person, other",
    )
    record.add_argument(
        "--category", required=True, help="misuse, wrongful_match, privacy, sharing, access, other"
    )
    record.add_argument("--summary", required=True, help="10-500 characters: the concern, naming nobody")
    record.set_defaults(handler=complaint_record)
    clist = complaints.add_parser("list")
    clist.add_argument("--from", dest="start", type=instant)
    clist.add_argument("--to", dest="end", type=instant)
    clist.add_argument("--category", help="only this category")
    clist.set_defaults(handler=complaint_list)

    rep = commands.add_parser("report", help="transparency report for a period (P17, auditors)")
    rep.add_argument("--from", dest="start", required=True, type=instant)
    rep.add_argument("--to", dest="end", required=True, type=instant)
    rep.add_argument("--format", choices=["text", "json", "csv"], default="text")
    rep.set_defaults(handler=report)

    notices = commands.add_parser("notices", help="unauthorised attempts as they happen (P16)")
    watch = notices.add_subparsers(dest="action", required=True).add_parser("watch")
    watch.add_argument("--duration", type=float, help="stop after this many seconds")
    watch.set_defaults(handler=notices_watch)
