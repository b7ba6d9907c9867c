"""CLI commands for disclosures (P13), waivers (P15), notices (P16) and the report (P17)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from matcher.cli.cases import instant
from matcher.cli.output import Printer, short_time, with_reason
from matcher.client import MatcherClient

DISCLOSURE_COLS = ("DISCLOSURE", "ALLOWED", "RECIPIENT", "KIND", "BASIS", "BIOMETRIC", "REASON", "DECIDED")
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


def waiver_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_waivers(), WAIVER_COLS, waiver_row)
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

    rep = commands.add_parser("report", help="transparency report for a period (P17, auditors)")
    rep.add_argument("--from", dest="start", required=True, type=instant)
    rep.add_argument("--to", dest="end", required=True, type=instant)
    rep.add_argument("--format", choices=["text", "json", "csv"], default="text")
    rep.set_defaults(handler=report)

    notices = commands.add_parser("notices", help="unauthorised attempts as they happen (P16)")
    watch = notices.add_subparsers(dest="action", required=True).add_parser("watch")
    watch.add_argument("--duration", type=float, help="stop after this many seconds")
    watch.set_defaults(handler=notices_watch)
