"""CLI commands for P6: declared emergencies and the presence count during them.

``matcher emergency declare|end|list`` (the Director of Health or Human Services declares and
ends; health officials and auditors list) and ``matcher presence count`` (a health official: how
many faces a camera's frame shows, a number and nothing else).
"""

from __future__ import annotations

import argparse
from typing import Any

from matcher.cli.cases import instant
from matcher.cli.faces import read_photo
from matcher.cli.output import Printer, as_dict, short_time, with_reason
from matcher.client import MatcherClient

EMERGENCY_COLS = ("EMERGENCY", "STATE", "TITLE", "ZONES", "BY", "START", "END")


def emergency_row(e: Any) -> list[object]:
    zones = ",".join(zone.removeprefix("zones/") for zone in e.zones)
    return [e.name, e.state, e.title, zones, e.declared_by, short_time(e.start_time), short_time(e.end_time)]


def declare(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    emergency = client.declare_emergency(
        args.title, args.zone, start=args.start, end=args.end, reason=args.reason
    )
    out.message(emergency, EMERGENCY_COLS, emergency_row)
    return 0


def end(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.end_emergency(args.emergency, reason=args.reason), EMERGENCY_COLS, emergency_row)
    return 0


def listing(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_emergencies(), EMERGENCY_COLS, emergency_row)
    return 0


def count(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    answer = client.count_people(args.camera, read_photo(args.photo), reason=args.reason)
    if out.as_json:
        out.json(as_dict(answer) | {"count": answer.count})
    else:
        print(f"{answer.count} people present (faces detected; under {answer.emergency})")
    return 0


def register(commands: Any) -> None:
    emergencies = commands.add_parser(
        "emergency", help="declared emergencies: when presence may be counted (P6)"
    ).add_subparsers(dest="action", required=True)
    new = with_reason(emergencies.add_parser("declare", help="Director of Health or Human Services"))
    new.add_argument("--title", required=True, help='what it is, e.g. "Heat wave: cooling centres"')
    new.add_argument("--zone", action="append", required=True, help="a zone it covers (repeatable)")
    new.add_argument("--start", type=instant, help="default: now (never in the past)")
    new.add_argument("--end", required=True, type=instant, help="at most 30 days after the start")
    new.set_defaults(handler=declare)
    stop = with_reason(emergencies.add_parser("end", help="end an emergency early"))
    stop.add_argument("emergency", help="emergencies/{id}")
    stop.set_defaults(handler=end)
    emergencies.add_parser("list").set_defaults(handler=listing)

    presence = commands.add_parser("presence", help="count people in a camera's view (P6)").add_subparsers(
        dest="action", required=True
    )
    counting = with_reason(presence.add_parser("count", help="how many faces a frame shows; never who"))
    counting.add_argument("--camera", required=True, help="the camera that took the frame")
    counting.add_argument("--photo", required=True, help="the frame, JPEG or PNG")
    counting.set_defaults(handler=count)
