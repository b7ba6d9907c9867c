"""The ``matcher`` command: the service itself (``matcher serve``) and the investigator's CLI.

Every client command prints a readable table for people, or JSON with ``--json`` for scripts.
Refusals print the gRPC code, the machine-readable reason and the message, and exit with 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from matcher.client import AUTHORITY_KINDS, ROLES, MatcherClient, MatcherError


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, for example 2027-01-31T00:00Z")
    return value.astimezone(UTC)


def _load_embedding(path: str) -> np.ndarray[Any, Any]:
    try:
        vector = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read an embedding from {path}: {exc}") from None
    return np.asarray(vector, dtype=np.float32).reshape(-1)


def _short(stamp: Timestamp | None) -> str:
    if stamp is None or not stamp.seconds:
        return ""
    return stamp.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _enum(message: Message, field: str) -> str:
    enum = message.DESCRIPTOR.fields_by_name[field].enum_type
    assert enum is not None, f"{field} is not an enum field"
    return str(enum.values_by_number[getattr(message, field)].name)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Printer:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def messages(self, items: Sequence[Message], headers: Sequence[str], row: Any) -> None:
        if self.as_json:
            print(json.dumps([MessageToDict(i, preserving_proto_field_name=True) for i in items], indent=2))
        elif not items:
            print("(none)")
        else:
            print(_table(headers, [row(i) for i in items]))

    def message(self, item: Message, headers: Sequence[str], row: Any) -> None:
        if self.as_json:
            print(json.dumps(MessageToDict(item, preserving_proto_field_name=True), indent=2))
        else:
            print(_table(headers, [row(item)]))


CASE_COLS = ("CASE", "STATE", "TEMPLATES", "OPENED", "CLOSED", "TITLE")


def _case_row(c: Any) -> list[object]:
    return [
        c.name,
        _enum(c, "state"),
        c.face_template_count,
        _short(c.create_time),
        _short(c.close_time),
        c.title,
    ]


SUBJECT_COLS = ("SUBJECT", "ROLE", "STATE", "TEMPLATES", "LABEL")


def _subject_row(s: Any) -> list[object]:
    return [s.name, _enum(s, "role"), _enum(s, "state"), s.face_template_count, s.label]


HOLD_COLS = ("HOLD", "STATE", "KIND", "AUTHORITY", "PLACED BY", "ENDS")


def _hold_row(h: Any) -> list[object]:
    return [
        h.name,
        _enum(h, "state"),
        _enum(h, "authority_kind"),
        h.authority,
        h.placed_by,
        _short(h.end_time),
    ]


PURGE_COLS = ("PURGE", "CASE", "SUBJECT", "TRIGGER", "STATE", "TEMPLATES", "REQUESTED", "DONE", "HELD UNTIL")


def _purge_row(p: Any) -> list[object]:
    return [
        p.name,
        p.case,
        p.subject,
        _enum(p, "trigger"),
        _enum(p, "state"),
        p.face_template_count,
        _short(p.request_time),
        _short(p.complete_time),
        _short(p.held_until),
    ]


AUDIT_COLS = ("SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "RESOURCE", "COUNT", "CODE", "REASON")


def _audit_row(r: Any) -> list[object]:
    return [
        r.sequence,
        _short(r.time),
        r.actor,
        r.action,
        _enum(r, "outcome"),
        r.resource,
        r.count,
        r.code,
        r.reason[:40],
    ]


def run_client(args: argparse.Namespace) -> int:
    out = Printer(args.json)
    with MatcherClient.connect(
        args.target,
        token_file=Path(args.token_file) if args.token_file else None,
        timeout=args.timeout,
    ) as client:
        command = args.command
        if command == "case":
            if args.action == "create":
                out.message(
                    client.create_case(args.id or "", args.title, reason=args.reason), CASE_COLS, _case_row
                )
            elif args.action == "get":
                out.message(client.get_case(args.case), CASE_COLS, _case_row)
            elif args.action == "list":
                out.messages(list(client.list_cases(args.state or "")), CASE_COLS, _case_row)
            elif args.action == "close":
                out.message(client.close_case(args.case, reason=args.reason), CASE_COLS, _case_row)
        elif command == "subject":
            if args.action == "add":
                subject = client.create_subject(
                    args.case, args.id or "", args.role, label=args.label or "", reason=args.reason
                )
                out.message(subject, SUBJECT_COLS, _subject_row)
            elif args.action == "get":
                out.message(client.get_subject(args.case, args.subject), SUBJECT_COLS, _subject_row)
            elif args.action == "list":
                out.messages(list(client.list_subjects(args.case)), SUBJECT_COLS, _subject_row)
            elif args.action == "release":
                subject = client.release_subject(args.case, args.subject, reason=args.reason)
                out.message(subject, SUBJECT_COLS, _subject_row)
        elif command == "hold":
            if args.action == "place":
                hold = client.place_legal_hold(
                    args.case,
                    authority_kind=args.kind,
                    authority=args.authority,
                    placed_by=args.placed_by,
                    until=args.until,
                    reason=args.reason,
                )
                out.message(hold, HOLD_COLS, _hold_row)
            elif args.action == "lift":
                out.message(
                    client.lift_legal_hold(args.case, args.hold, reason=args.reason), HOLD_COLS, _hold_row
                )
            elif args.action == "list":
                out.messages(client.list_legal_holds(args.case), HOLD_COLS, _hold_row)
        elif command == "enroll":
            template = client.enroll_face(
                args.case,
                args.subject,
                _load_embedding(args.embedding),
                reason=args.reason,
                model=args.model or "",
            )
            out.message(
                template, ("TEMPLATE", "MODEL", "CREATED"), lambda t: [t.name, t.model, _short(t.create_time)]
            )
        elif command == "templates":
            out.messages(
                client.list_face_templates(args.case, args.subject),
                ("TEMPLATE", "MODEL", "CREATED"),
                lambda t: [t.name, t.model, _short(t.create_time)],
            )
        elif command == "search":
            answer = client.search_faces(
                args.case,
                _load_embedding(args.embedding),
                reason=args.reason,
                top_k=args.top_k,
                min_score=args.min_score,
                model=args.model or "",
            )
            if args.json:
                print(json.dumps(MessageToDict(answer, preserving_proto_field_name=True), indent=2))
            else:
                matches = [m for result in answer.results for m in result.matches]
                print(f"{len(matches)} match(es) at min score {answer.min_score:.2f}")
                if matches:
                    print(
                        _table(
                            ("SCORE", "SUBJECT", "TEMPLATE"),
                            [
                                [f"{m.score:.4f}", m.subject, m.face_template.rsplit("/", 1)[-1]]
                                for m in matches
                            ],
                        )
                    )
        elif command == "purges":
            out.messages(client.list_purges(args.case or ""), PURGE_COLS, _purge_row)
        elif command == "audit":
            if args.action == "list":
                records = list(
                    client.audit_records(
                        resource=args.resource or "",
                        action=args.filter_action or "",
                        after=args.after,
                        limit=args.limit,
                    )
                )
                out.messages(records, AUDIT_COLS, _audit_row)
            else:
                result = client.verify_audit()
                if args.json:
                    print(json.dumps(MessageToDict(result, preserving_proto_field_name=True), indent=2))
                elif result.ok:
                    print(f"audit log intact: {result.records_checked} records, head {result.head_hash[:16]}")
                else:
                    print(f"AUDIT LOG BROKEN at record {result.first_bad_sequence}: {result.problem}")
                return 0 if result.ok else 3
        elif command == "health":
            serving = client.serving()
            print("SERVING" if serving else "NOT SERVING")
            return 0 if serving else 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matcher", description="Case-scoped face matching with automatic purge."
    )
    parser.add_argument("--target", help="server address (default MATCHER_TARGET or 127.0.0.1:50051)")
    parser.add_argument(
        "--token-file", help="file holding the bearer token (default ./matcher-data/client.token)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline of each call, seconds")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--listen", help="address to listen on (default 127.0.0.1:50051)")
    serve.add_argument("--data-dir", help="folder for the database, keys and tokens (default ./matcher-data)")
    serve.add_argument("--database-url", help="SQLAlchemy URL (default SQLite in the data folder)")
    serve.add_argument("--log-level", default="INFO")

    def with_reason(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--reason", required=True, help="why (P12); recorded in the audit log")
        return p

    case = commands.add_parser("case", help="open, list, inspect and close cases").add_subparsers(
        dest="action", required=True
    )
    create = with_reason(case.add_parser("create", help="open a case"))
    create.add_argument("--id", help="case id (a-z, 0-9, '-'); generated when omitted")
    create.add_argument("--title", required=True)
    case.add_parser("get").add_argument("case")
    case.add_parser("list").add_argument("--state", choices=["open", "closed"])
    with_reason(
        case.add_parser("close", help="close a case: its biometric data is destroyed (P3)")
    ).add_argument("case")

    subject = commands.add_parser("subject", help="subjects of a case").add_subparsers(
        dest="action", required=True
    )
    add = with_reason(subject.add_parser("add", help="add a subject to a case"))
    add.add_argument("case")
    add.add_argument("--role", required=True, choices=sorted(ROLES))
    add.add_argument("--id", help="subject id; generated when omitted")
    add.add_argument("--label", help="pseudonymous label, e.g. POI-1")
    get = subject.add_parser("get")
    get.add_argument("case")
    get.add_argument("subject")
    subject.add_parser("list").add_argument("case")
    release = with_reason(subject.add_parser("release", help="no longer a person of interest (P2)"))
    release.add_argument("case")
    release.add_argument("subject")

    hold = commands.add_parser("hold", help="legal holds (P4)").add_subparsers(dest="action", required=True)
    place = with_reason(hold.add_parser("place", help="suspend destruction of a case's data"))
    place.add_argument("case")
    place.add_argument("--kind", required=True, choices=sorted(AUTHORITY_KINDS))
    place.add_argument("--authority", required=True, help="citation: court order number or statute")
    place.add_argument("--placed-by", required=True, help="who is answerable for the hold")
    place.add_argument("--until", required=True, type=_instant, help="end, e.g. 2027-01-31T00:00Z")
    lift = with_reason(hold.add_parser("lift"))
    lift.add_argument("case")
    lift.add_argument("hold")
    hold.add_parser("list").add_argument("case")

    enroll = with_reason(
        commands.add_parser("enroll", help="enrol a face embedding (.npy) for a subject (P1)")
    )
    enroll.add_argument("case")
    enroll.add_argument("subject")
    enroll.add_argument("--embedding", required=True, help=".npy file with one embedding")
    enroll.add_argument("--model", help="model that made the embedding (default: the server's)")
    templates = commands.add_parser("templates", help="list a subject's face templates")
    templates.add_argument("case")
    templates.add_argument("subject")

    search = with_reason(commands.add_parser("search", help="search a probe embedding in cases"))
    search.add_argument("--case", action="append", required=True, help="case to search (repeatable)")
    search.add_argument("--embedding", required=True, help=".npy file with the probe embedding")
    search.add_argument("--top-k", type=int, default=10)
    search.add_argument("--min-score", type=float, help="cosine threshold (default: the server's)")
    search.add_argument("--model")

    commands.add_parser("purges", help="purges and their progress").add_argument("case", nargs="?")
    audit = commands.add_parser("audit", help="the audit log").add_subparsers(dest="action", required=True)
    audit_list = audit.add_parser("list")
    audit_list.add_argument("--resource", help="e.g. cases/2026-0042")
    audit_list.add_argument("--action", dest="filter_action", help="e.g. faces.search")
    audit_list.add_argument("--after", type=int, default=0, help="records after this sequence number")
    audit_list.add_argument("--limit", type=int)
    audit.add_parser("verify", help="check the hash chain; exit 3 when broken")
    commands.add_parser("health", help="is the service SERVING?")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from matcher.config import Settings
        from matcher.server import serve

        logging.basicConfig(
            level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        settings = Settings.from_env()
        if args.listen:
            settings.listen = args.listen
        if args.data_dir:
            settings.data_dir = Path(args.data_dir)
        if args.database_url:
            settings.database_url = args.database_url
        serve(settings)
        return 0
    try:
        return run_client(args)
    except MatcherError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
