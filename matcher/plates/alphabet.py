"""The plate alphabet, wildcard symbols and the look-alike table.

These are the only facts about licence plates the engine hard-codes, kept
in one module so that widening the look-alike table (a policy decision for
the crime center, not a code change) touches exactly one constant.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ALPHABET: frozenset[str] = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
"""Characters a normalised plate may contain."""

MAX_PLATE_LENGTH = 10
"""Longest accepted plate, in normalised characters.  Real plates are shorter;
anything longer is an OCR or data-entry error, not a plate."""

WILDCARD_ONE = "?"
"""In a watchlist entry: exactly one unknown character."""

WILDCARD_ANY = "*"
"""In a watchlist entry: any run of characters, including none."""

LOOKALIKE_CLASSES: tuple[str, ...] = ("0ODQ", "1IL", "2Z", "5S", "8B", "6G")
"""Groups of characters that cameras and witnesses confuse with each other.

A substitution inside one group is a *look-alike* substitution: reported,
but (when the policy allows look-alikes) not charged as an edit.  The
groups must be disjoint; every character not listed is its own group.
"""


def _build_fold(classes: tuple[str, ...]) -> Mapping[str, str]:
    """Map every alphabet character to its group's representative (first member)."""
    fold = {ch: ch for ch in ALPHABET}
    for group in classes:
        for ch in group:
            fold[ch] = group[0]
    return MappingProxyType(fold)


FOLD: Mapping[str, str] = _build_fold(LOOKALIKE_CLASSES)
"""Character -> representative of its look-alike group (``"O" -> "0"``)."""


def fold_plate(text: str) -> str:
    """Replace each character by its look-alike representative.

    Two plain plates are look-alike equal exactly when their folded forms
    are equal, which is what the index's prefilter relies on.
    """
    return "".join(FOLD[ch] for ch in text)
