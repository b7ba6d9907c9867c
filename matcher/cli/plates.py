"""CLI commands for plate watchlists: add, list, remove, check a read (text or photo), and hits."""

from __future__ import annotations

import argparse
from typing import Any

from matcher.cli.faces import read_photo
from matcher.cli.output import Printer, as_dict, enum_name, short_time, table, with_reason
from matcher.client import MatcherClient

ENTRY_COLS = ("ENTRY", "PLATE", "PATTERN", "REGION", "SUBJECT", "ADDED", "NOTE")


def entry_row(e: Any) -> list[object]:
    return [
        e.name.rsplit("/", 1)[-1],
        e.plate,
        e.pattern,
        e.region,
        e.subject,
        short_time(e.create_time),
        e.note,
    ]


def confidences(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            "confidences are comma-separated numbers, one per character"
        ) from None


def add(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    entry = client.add_plate(
        args.case,
        args.plate,
        subject_id=args.subject or "",
        region=args.region or "",
        note=args.note or "",
        reason=args.reason,
    )
    out.message(entry, ENTRY_COLS, entry_row)
    return 0


def listing(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_plates(args.case), ENTRY_COLS, entry_row)
    return 0


def remove(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    client.remove_plate(args.case, args.entry, reason=args.reason)
    if not out.as_json:
        print(f"removed cases/{args.case}/plateEntries/{args.entry}")
    return 0


def check(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    if sum(x is not None for x in (args.text, args.image, args.crop)) != 1:
        raise SystemExit("error: give the plate TEXT, --image FILE or --crop FILE")
    answer = client.check_plate(
        args.text or "",
        image=read_photo(args.image) if args.image else None,
        plate_crop=read_photo(args.crop) if args.crop else None,
        case_ids=args.case or [],
        confidences=args.confidences,
        camera=args.camera or "",
        max_edits=args.max_edits,
        reason=args.reason,
    )
    if out.as_json:
        out.json(as_dict(answer))
        return 0
    for result in answer.results:
        where = ""
        if result.HasField("box"):
            b = result.box
            where = f" at {b.left:.0f},{b.top:.0f},{b.right:.0f},{b.bottom:.0f}"
        if result.too_uncertain:
            print(f"read {result.read}{where}: too uncertain to check")
            continue
        if result.hit_reference:  # A camera gateway learns only that the read hit (issue 17).
            print(f"read {result.read}{where}: hit, reference {result.hit_reference}")
            continue
        print(f"read {result.read}{where}: {len(result.hits)} hit(s)")
        if result.hits:
            rows = [
                [
                    h.plate,
                    enum_name(h, "kind"),
                    h.distance,
                    ", ".join(e.description for e in h.edits),
                    h.case,
                    h.subject,
                ]
                for h in result.hits
            ]
            print(table(("PLATE", "MATCH", "EDITS", "HOW", "CASE", "SUBJECT"), rows))
    return 0


HIT_COLS = ("HIT", "REFERENCE", "PLATE", "READ", "MATCH", "CAMERA", "CAPTURED", "SUBJECT")


def hits(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    """The hits stored for a case from camera gateways' reads (its investigators only)."""

    def row(h: Any) -> list[object]:
        captured = short_time(h.capture_time) if h.HasField("capture_time") else ""
        return [
            h.name.rsplit("/", 1)[-1],
            h.hit_reference,
            h.plate,
            h.read,
            enum_name(h.match, "kind"),
            h.camera,
            captured,
            h.subject,
        ]

    out.messages(client.list_plate_hits(args.case), HIT_COLS, row)
    return 0


def register(commands: Any) -> None:
    plates = commands.add_parser("plates", help="plate watchlists of cases").add_subparsers(
        dest="action", required=True
    )
    adding = with_reason(
        plates.add_parser("add", help="put a plate (or a partial one: AB?12*) on a watchlist")
    )
    adding.add_argument("case")
    adding.add_argument("plate")
    adding.add_argument("--subject", help="the subject the vehicle is tied to")
    adding.add_argument("--region", help="state or country, e.g. MO")
    adding.add_argument("--note")
    adding.set_defaults(handler=add)
    listed = plates.add_parser("list", help="a case's watchlist")
    listed.add_argument("case")
    listed.set_defaults(handler=listing)
    removing = with_reason(plates.add_parser("remove", help="take an entry off the watchlist"))
    removing.add_argument("case")
    removing.add_argument("entry")
    removing.set_defaults(handler=remove)
    hit_list = plates.add_parser("hits", help="a case's hits from camera gateways' reads")
    hit_list.add_argument("case")
    hit_list.set_defaults(handler=hits)
    checking = with_reason(plates.add_parser("check", help="check a plate read against watchlists"))
    checking.add_argument("text", nargs="?", help="the plate as read")
    checking.add_argument("--image", help="a photo of a scene: every plate in it is read and checked")
    checking.add_argument("--crop", help="a close-up crop of one plate")
    checking.add_argument(
        "--case", action="append", help="watchlist to check (repeatable); default: all open"
    )
    checking.add_argument(
        "--confidences", type=confidences, help="per-character confidences, e.g. 0.9,0.4,..."
    )
    checking.add_argument("--camera", help="camera or reader id")
    checking.add_argument("--max-edits", type=int, help="edits allowed, 0-3 (default 1)")
    checking.set_defaults(handler=check)
