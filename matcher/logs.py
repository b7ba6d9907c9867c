"""The operator's log: plain lines, or one JSON object per line (``--log-format json``).

What goes in: what the service did, when and how long it took; each call's id, method, principal,
status and reason code (``matcher.calls``). What never goes in: a template, a plate text, a
subject's label or a reason (the audit log holds reasons, under access control), nor an
exception's message, which may quote them: failures are logged as their type and where they
happened (:func:`matcher.transport.calls.log_failure`), statements without their parameters.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

FIELDS = ("call_id", "method", "principal", "status", "reason", "duration_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per record, with the call's fields when the record carries them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__  # the type only, never the message
        return json.dumps(line, ensure_ascii=False)


class LogSetupError(Exception):
    """The log cannot be written where asked."""


def configure(level: str = "INFO", fmt: str = "text", file: Path | None = None) -> None:
    """Sends the log to standard error, or to ``file``, as text or JSON lines."""
    if fmt not in ("text", "json"):
        raise LogSetupError(f"log format {fmt!r} is not 'text' or 'json'")
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = logging.FileHandler(file, encoding="utf-8")
        except OSError as error:
            raise LogSetupError(
                f"cannot write the log to {file} ({error.strerror}); choose a writable --log-file"
            ) from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
