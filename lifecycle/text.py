"""Text that may be stored and shown: printable, and bounded.

Everything written to the audit log (and to the operator's log) passes through here, so that a
control character from a caller can neither break the database (PostgreSQL refuses NUL in text)
nor make a record read differently from what it holds (bidirectional overrides), and no field
echoes a caller's input without a bound (a 260 KB model name once became a 260 KB record).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# C0 controls except tab, line feed and carriage return; DEL; C1 controls; bidirectional
# embeddings, overrides and isolates; the two non-characters of the BMP's last block.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff]")
MAX_DETAIL_TEXT = 200
MAX_DETAIL_ITEMS = 20


def printable(text: str) -> str:
    """The text with every forbidden character replaced by U+FFFD."""
    return FORBIDDEN.sub("\ufffd", text)


def bounded(text: object, limit: int) -> str:
    """Printable and at most ``limit`` characters."""
    return printable(str(text)[:limit])


def bounded_value(value: object) -> object:
    """A detail value made safe to store: short printable strings, short lists, flat maps."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return bounded(value, MAX_DETAIL_TEXT)
    if isinstance(value, Mapping):
        items = list(value.items())[:MAX_DETAIL_ITEMS]
        return {bounded(k, 64): bounded_value(v) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        return [bounded_value(v) for v in list(value)[:MAX_DETAIL_ITEMS]]
    return bounded(value, MAX_DETAIL_TEXT)
