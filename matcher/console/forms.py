"""Form bodies read into memory, with a hard limit, and never spooled to disk.

Starlette's own form parser spools uploaded files larger than 1 MiB to a temporary file; a photo
of a person of interest must not land on the console's disk (it goes to the service and is
dropped), so forms are parsed here instead: the body is read up to ``limit`` bytes (a larger one
is refused before it is read, when its length is declared, or as soon as it passes the limit),
then split by python-multipart into fields and files held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

MAX_FIELDS = 200
MAX_FILES = 20


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than this console accepts ({limit // (1024 * 1024)} MiB)")
        self.limit = limit


class BadForm(Exception):
    """A body that is not a well-formed form (a person's browser never sends one)."""


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[Upload]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def text(self, name: str, limit: int = 1000) -> str:
        """A field stripped and cut to ``limit`` characters (no field echoes without a bound)."""
        return self.get(name).strip()[:limit]

    def uploads(self, name: str) -> list[Upload]:
        """The files sent under ``name``; an empty file input sends one nameless empty part."""
        return [u for u in self.files.get(name, []) if u.filename or u.data]


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)


async def read_form(request: Request, limit: int) -> Form:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    body = await read_body(request, limit)
    form = Form()
    if content_type == b"application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError) as error:
            raise BadForm(str(error)) from None
        for name, value in pairs:
            form.fields.setdefault(name, []).append(value)
        return form
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise BadForm("expected a form")
    for name, filename, part_type, data in _parts(options[b"boundary"], body):
        if filename is None:
            form.fields.setdefault(name, []).append(data.decode("utf-8", "replace"))
        else:
            form.files.setdefault(name, []).append(Upload(filename, part_type, data))
    if sum(map(len, form.fields.values())) > MAX_FIELDS or sum(map(len, form.files.values())) > MAX_FILES:
        raise BadForm("too many fields or files")
    return form


def _parts(boundary: bytes, body: bytes) -> Iterator[tuple[str, str | None, str, bytes]]:
    """(name, filename or None, content type, data) of each part."""
    parts: list[tuple[str, str | None, str, bytes]] = []
    headers: dict[bytes, bytes] = {}
    current = {"field": b"", "value": b""}
    data = bytearray()

    def on_header_field(chunk: bytes, start: int, end: int) -> None:
        current["field"] += chunk[start:end]

    def on_header_value(chunk: bytes, start: int, end: int) -> None:
        current["value"] += chunk[start:end]

    def on_header_end() -> None:
        headers[current["field"].lower()] = current["value"]
        current["field"], current["value"] = b"", b""

    def on_part_begin() -> None:
        headers.clear()
        data.clear()

    def on_part_data(chunk: bytes, start: int, end: int) -> None:
        data.extend(chunk[start:end])

    def on_part_end() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        if b"name" not in disposition:
            raise BadForm("a form part without a name")
        filename = disposition.get(b"filename")
        parts.append(
            (
                disposition[b"name"].decode("utf-8", "replace"),
                None if filename is None else filename.decode("utf-8", "replace"),
                headers.get(b"content-type", b"").decode("latin-1"),
                bytes(data),
            )
        )

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as error:
        raise BadForm(str(error)) from None
    yield from parts
