"""The one exception type the plate engine raises for bad input.

Everything a caller can get wrong (a malformed plate, a pattern that would
match every car, confidences that do not line up with the text, an invalid
policy or entry id) surfaces as :class:`PlateError`.  It subclasses
``ValueError`` so generic handlers keep working, and it carries a stable,
machine-readable :attr:`PlateError.reason` so the gRPC layer can map it to
``INVALID_ARGUMENT`` with a detail code without parsing English text.
"""

from __future__ import annotations

from enum import StrEnum


class PlateErrorReason(StrEnum):
    """Machine-readable refusal codes; the values are part of the API contract."""

    PLATE_EMPTY = "PLATE_EMPTY"
    PLATE_TOO_LONG = "PLATE_TOO_LONG"
    PLATE_BAD_CHARACTER = "PLATE_BAD_CHARACTER"
    PATTERN_ONLY_WILDCARDS = "PATTERN_ONLY_WILDCARDS"
    CONFIDENCE_LENGTH_MISMATCH = "CONFIDENCE_LENGTH_MISMATCH"
    CONFIDENCE_OUT_OF_RANGE = "CONFIDENCE_OUT_OF_RANGE"
    POLICY_MAX_EDITS_OUT_OF_RANGE = "POLICY_MAX_EDITS_OUT_OF_RANGE"
    POLICY_CONFIDENCE_OUT_OF_RANGE = "POLICY_CONFIDENCE_OUT_OF_RANGE"
    ENTRY_ID_OUT_OF_RANGE = "ENTRY_ID_OUT_OF_RANGE"
    READ_TOO_UNCERTAIN = "READ_TOO_UNCERTAIN"


class PlateError(ValueError):
    """Refusal of caller input, with a stable ``reason`` and a human message.

    The message says what was wrong *and* what to do about it, because it
    ends up in front of an analyst typing a witness's partial plate.
    """

    def __init__(self, reason: PlateErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason: PlateErrorReason = reason
