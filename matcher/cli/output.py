"""Tables for people and JSON for scripts, from matcher.v1 messages."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

Row = Callable[[Any], Sequence[object]]


def short_time(stamp: Timestamp | None) -> str:
    if stamp is None or not stamp.seconds:
        return ""
    return stamp.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def enum_name(message: Message, field: str) -> str:
    enum = message.DESCRIPTOR.fields_by_name[field].enum_type
    assert enum is not None, f"{field} is not an enum field"
    return str(enum.values_by_number[getattr(message, field)].name)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def with_reason(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the --reason every change and every use of biometric data must give (P12)."""
    parser.add_argument("--reason", required=True, help="why (P12); recorded in the audit log")
    return parser


def as_dict(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


class Printer:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def json(self, value: object) -> None:
        print(json.dumps(value, indent=2))

    def messages(self, items: Sequence[Message], headers: Sequence[str], row: Row) -> None:
        if self.as_json:
            self.json([as_dict(item) for item in items])
        elif not items:
            print("(none)")
        else:
            print(table(headers, [row(item) for item in items]))

    def message(self, item: Message, headers: Sequence[str], row: Row) -> None:
        if self.as_json:
            self.json(as_dict(item))
        else:
            print(table(headers, [row(item)]))
