"""Binary codes for the index prefilter: look-alike-group counts in unary.

Why this works.  Count how often each look-alike group occurs in a plate
and write each count in unary ("thermometer": count 2 of 4 levels ->
``1100``).  The Hamming distance between two such codes is the L1 distance
between the count vectors.  One charged edit changes that L1 distance by at
most 2 (a substitution removes one character and adds another, an
insertion or deletion changes one count by 1); look-alike substitutions do
not change group counts at all; an unknown read character is left out of
the read's code and can hide at most one entry character.  So every entry
matching a read with at most ``k`` charged edits and ``u`` unknown
characters is within Hamming distance ``2k + u`` of the read's code, and a
FAISS Hamming range search with that radius returns a *superset* of the
true hits: no false negatives, and :func:`~matcher.plates.alignment.align`
removes the false positives.  Capping counts at :data:`LEVELS` keeps that
bound (capping never increases a difference) while fitting the code in 128
bits, which halves the scan cost compared with 256.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from matcher.plates.alphabet import ALPHABET, FOLD, MAX_PLATE_LENGTH

CODE_BITS = 128
"""Width of one code; a multiple of 64 that FAISS scans with specialised popcounts."""

_GROUPS: tuple[str, ...] = tuple(sorted(set(FOLD.values())))
_GROUP_OF: dict[str, int] = {ch: _GROUPS.index(FOLD[ch]) for ch in ALPHABET}

LEVELS = min(MAX_PLATE_LENGTH, CODE_BITS // len(_GROUPS))
"""Unary levels per group; counts above this are capped (still a valid bound)."""

_UNARY: tuple[tuple[int, ...], ...] = tuple(
    tuple(((1 << min(count, LEVELS)) - 1) << (group * LEVELS) for count in range(MAX_PLATE_LENGTH + 1))
    for group in range(len(_GROUPS))
)
"""``_UNARY[group][count]``: that group's unary bits, already shifted into place."""


def _code(text: str) -> bytes:
    counts: dict[int, int] = {}
    for ch in text:
        group = _GROUP_OF[ch]
        counts[group] = counts.get(group, 0) + 1
    bits = sum(_UNARY[group][count] for group, count in counts.items())
    return bits.to_bytes(CODE_BITS // 8, "little")


def encode_class_counts(texts: Iterable[str]) -> npt.NDArray[np.uint8]:
    """Encode plain plate texts (no wildcards) as a ``(n, CODE_BITS // 8)`` uint8 array.

    Plain Python per text (a few microseconds): a single read is encoded on every
    lookup, where numpy's per-call overhead would dominate, and one code
    path for reads and entries means they cannot drift apart.
    """
    return np.frombuffer(b"".join(map(_code, texts)), dtype=np.uint8).reshape(-1, CODE_BITS // 8)


def search_radius(max_edits: int, unknown_count: int) -> int:
    """FAISS range-search radius (exclusive) that cannot miss a true hit; see module doc."""
    return 2 * max_edits + unknown_count + 1
