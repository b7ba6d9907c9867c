"""Turning what people and cameras type into canonical plates, patterns and reads.

Normalisation happens once, at the edge, so that everything downstream
(index, matcher, storage) can compare plain strings over a 36-character
alphabet and never has to think about case, spacing or punctuation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from matcher.plates.alphabet import (
    ALPHABET,
    MAX_PLATE_LENGTH,
    WILDCARD_ANY,
    WILDCARD_ONE,
)
from matcher.plates.errors import PlateError, PlateErrorReason

SEPARATORS: frozenset[str] = frozenset(
    "-._/\\:,|'"
    "\u2010\u2011\u2012\u2013\u2014\u2015"  # hyphen, non-breaking hyphen, figure/en/em dash, bar
    "\u00b7\u2022"  # middle dot, bullet
)
"""Punctuation dropped during normalisation (whitespace is always dropped too).

Plates are printed and typed with dashes, dots, spaces and the like between
character groups; none of that is part of the registration.  Anything else
outside the alphabet is refused rather than guessed at.
"""

_WILDCARDS = frozenset((WILDCARD_ONE, WILDCARD_ANY))


def _normalize(text: str, *, allow_wildcards: bool) -> str:
    """Upper-case, drop separators and check the alphabet; shared by reads and entries."""
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch.isspace() or ch in SEPARATORS:
            continue
        upper = ch.upper()
        if upper in ALPHABET or (allow_wildcards and upper in _WILDCARDS):
            out.append(upper)
            continue
        if upper in _WILDCARDS:
            hint = "wildcards are only allowed in watchlist entries, not in plates or reads"
        else:
            hint = "plates use only letters A-Z and digits 0-9"
        raise PlateError(
            PlateErrorReason.PLATE_BAD_CHARACTER,
            f"character {ch!r} at position {index + 1} of {text!r} is not allowed: {hint}",
        )
    if not out:
        raise PlateError(
            PlateErrorReason.PLATE_EMPTY,
            f"{text!r} contains no plate characters; enter at least one letter or digit",
        )
    return "".join(out)


def _check_length(normalized: str, original: str, length: int) -> None:
    if length > MAX_PLATE_LENGTH:
        raise PlateError(
            PlateErrorReason.PLATE_TOO_LONG,
            f"{original!r} has {length} plate characters after normalisation ({normalized!r});"
            f" the maximum is {MAX_PLATE_LENGTH}",
        )


def normalize_plate(text: str) -> str:
    """Return the canonical form of a plate: upper case, separators removed.

    Raises :class:`PlateError` (``PLATE_EMPTY``, ``PLATE_TOO_LONG``,
    ``PLATE_BAD_CHARACTER``) instead of silently dropping characters, because
    a plate that was mangled on the way in must not quietly stop matching.
    """
    normalized = _normalize(text, allow_wildcards=False)
    _check_length(normalized, text, len(normalized))
    return normalized


def _collapse_stars(text: str) -> str:
    """``A**B`` means the same as ``A*B``; keep one form so patterns compare equal."""
    doubled = WILDCARD_ANY * 2
    while doubled in text:
        text = text.replace(doubled, WILDCARD_ANY)
    return text


@dataclass(frozen=True, slots=True)
class PlatePattern:
    """A watchlist entry: a plate as written, or a witness's partial plate.

    ``?`` stands for exactly one unknown character and ``*`` for any run of
    characters (including none).  Construction normalises and validates
    ``text`` (so every instance is canonical); the length limit applies to
    the characters a plate must have (letters, digits and ``?``) because
    ``*`` may be empty.  A pattern made only of wildcards is refused: it
    would put every passing car on the watchlist.
    """

    text: str

    def __post_init__(self) -> None:
        original = self.text
        normalized = _collapse_stars(_normalize(original, allow_wildcards=True))
        _check_length(normalized, original, len(normalized.replace(WILDCARD_ANY, "")))
        if all(ch in _WILDCARDS for ch in normalized):
            raise PlateError(
                PlateErrorReason.PATTERN_ONLY_WILDCARDS,
                f"pattern {original!r} has only wildcards and would match every plate;"
                " include at least one known letter or digit",
            )
        object.__setattr__(self, "text", normalized)

    @property
    def has_wildcards(self) -> bool:
        """Whether matching needs the wildcard-aware path (the index keeps these apart)."""
        return WILDCARD_ONE in self.text or WILDCARD_ANY in self.text


def parse_entry(text: str) -> PlatePattern:
    """Parse a watchlist entry as typed by an analyst (see :class:`PlatePattern`)."""
    return PlatePattern(text)


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate read from a camera: text plus optional per-character confidences.

    ``confidences`` (each in ``0..1``) line up with the *normalised* text,
    one per plate character, because OCR engines score recognised glyphs and
    separators are not glyphs.  Characters scored below the policy's
    ``min_confidence`` are treated as unknown: they match any single entry
    character and the hit reports their positions.
    """

    text: str
    confidences: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        normalized = normalize_plate(self.text)
        object.__setattr__(self, "text", normalized)
        if self.confidences is None:
            return
        confidences = tuple(float(c) for c in self.confidences)
        if len(confidences) != len(normalized):
            raise PlateError(
                PlateErrorReason.CONFIDENCE_LENGTH_MISMATCH,
                f"got {len(confidences)} confidences for plate {normalized!r}; expected one per"
                f" plate character after normalisation ({len(normalized)})",
            )
        for index, confidence in enumerate(confidences):
            if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
                raise PlateError(
                    PlateErrorReason.CONFIDENCE_OUT_OF_RANGE,
                    f"confidence {confidence!r} for character {index + 1} of {normalized!r}"
                    " must be a number between 0 and 1",
                )
        object.__setattr__(self, "confidences", confidences)

    def unknown_mask(self, min_confidence: float) -> tuple[bool, ...]:
        """Per character: is it too uncertain to trust (confidence below ``min_confidence``)?"""
        if self.confidences is None:
            return (False,) * len(self.text)
        return tuple(c < min_confidence for c in self.confidences)
