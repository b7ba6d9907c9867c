"""The shape every request must have before any method sees it, checked once for all methods.

A fuzzer found requests that decode but carry values no code expects: a NUL byte in a reason
(PostgreSQL refuses NUL in text, so the call failed inside the database and its parameters went
to the log), an enum number the contract does not name (proto3 keeps unknown numbers), a
timestamp 2^62 seconds away (``ToDatetime`` raises), NaN where a score belongs. Each method could
check its own fields, and each would forget one; this module walks every set field of every
request instead, so a new field is covered the day it is added:

- text: no control characters (C0 except tab, line feed and carriage return; DEL; C1), no
  bidirectional overrides (which make an audit record read differently from what it holds), at
  most ``MAX_TEXT_CHARS`` characters;
- enums: only numbers the contract names;
- floating point: finite;
- ``google.protobuf.Timestamp``: inside the calendar (years 1 to 9999), nanoseconds in range.

The first problem found is returned as a message a person can act on, naming the field's path.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from lifecycle.text import FORBIDDEN

MAX_TEXT_CHARS = 10_000
MIN_TIMESTAMP_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
_TIMESTAMP = "google.protobuf.Timestamp"
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)


def _text_problem(path: str, text: str) -> str | None:
    found = FORBIDDEN.search(text)
    if found is not None:
        return (
            f"field {path!r} contains the control character U+{ord(found.group()):04X} at position "
            f"{found.start()}: text fields take printable characters only"
        )
    if len(text) > MAX_TEXT_CHARS:
        return f"field {path!r} is {len(text)} characters long; at most {MAX_TEXT_CHARS} are accepted"
    return None


def _scalar_problem(path: str, field: FieldDescriptor, value: object) -> str | None:
    if field.type == FieldDescriptor.TYPE_STRING:
        assert isinstance(value, str)
        return _text_problem(path, value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        if value not in field.enum_type.values_by_number:
            names = ", ".join(v.name for v in field.enum_type.values)
            enum = field.enum_type.name
            return f"field {path!r} has the value {value!r}, which {enum} does not name ({names})"
    if field.type in _FLOATS:
        assert isinstance(value, float)
        if value != value or value in (float("inf"), float("-inf")):
            return f"field {path!r} must be a finite number"
    return None


def _message_problem(path: str, message: Message) -> str | None:
    if message.DESCRIPTOR.full_name == _TIMESTAMP:
        seconds, nanos = getattr(message, "seconds"), getattr(message, "nanos")  # noqa: B009
        if not MIN_TIMESTAMP_SECONDS <= seconds <= MAX_TIMESTAMP_SECONDS or not 0 <= nanos < 10**9:
            return f"field {path!r} is not a time between the years 1 and 9999"
        return None
    return problem(message, f"{path}.")


def problem(message: Message, prefix: str = "") -> str | None:
    """The first thing wrong with the request's shape, or None."""
    for field, value in message.ListFields():
        path = prefix + field.name
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            value_field = entry.fields_by_name["value"]
            for key, item in value.items():
                found = _text_problem(f"{path}[key]", key) if isinstance(key, str) else None
                if found is None:
                    found = (
                        _message_problem(f"{path}[{key!r}]", item)
                        if value_field.type == FieldDescriptor.TYPE_MESSAGE
                        else _scalar_problem(f"{path}[{key!r}]", value_field, item)
                    )
                if found:
                    return found
            continue
        items = value if field.is_repeated else [value]
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if field.is_repeated else path
            found = (
                _message_problem(where, item)
                if field.type == FieldDescriptor.TYPE_MESSAGE
                else _scalar_problem(where, field, item)
            )
            if found:
                return found
    return None


def carries_image(request: Message) -> bool:
    """Whether a face input of the request is a photo (which may be large) and not an embedding."""
    fields = request.DESCRIPTOR.fields_by_name
    for name in ("face", "probe"):
        if (
            name in fields
            and request.HasField(name)
            and getattr(request, name).WhichOneof("input") == "image"
        ):
            return True
    return any(name in fields and bool(getattr(request, name)) for name in ("image", "plate_crop"))
