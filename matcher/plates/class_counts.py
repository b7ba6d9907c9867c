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

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from matcher.plates.alphabet import ALPHABET, FOLD, MAX_PLATE_LENGTH

CODE_BITS = 128
"""Width of one code; a multiple of 64 that FAISS scans with specialised popcounts."""

_GROUPS: tuple[str, ...] = tuple(sorted(set(FOLD.values())))
_GROUP_OF: dict[str, int] = {ch: _GROUPS.index(FOLD[ch]) for ch in ALPHABET}

LEVELS = min(MAX_PLATE_LENGTH, CODE_BITS // len(_GROUPS))
"""Unary levels per group; counts above this are capped (still a valid bound)."""

_BYTE_TO_GROUP = np.full(256, len(_GROUPS), dtype=np.int64)
"""ASCII byte -> group number; padding bytes land in a spare, discarded group."""
for _ch, _group in _GROUP_OF.items():
    _BYTE_TO_GROUP[ord(_ch)] = _group

_CHUNK = 65536
"""Rows encoded per numpy pass, bounding temporary memory during bulk loads."""


def encode_class_counts(texts: Sequence[str]) -> npt.NDArray[np.uint8]:
    """Encode plain plate texts (no wildcards) as ``(len(texts), CODE_BITS // 8)`` codes."""
    codes = np.zeros((len(texts), CODE_BITS // 8), dtype=np.uint8)
    spare = len(_GROUPS) + 1
    for start in range(0, len(texts), _CHUNK):
        chunk = texts[start : start + _CHUNK]
        raw = np.array(chunk, dtype=f"S{MAX_PLATE_LENGTH}").view(np.uint8)
        groups = _BYTE_TO_GROUP[raw.reshape(len(chunk), MAX_PLATE_LENGTH)]
        cells = groups + spare * np.arange(len(chunk))[:, None]
        counts = np.bincount(cells.ravel(), minlength=spare * len(chunk))
        counts = counts.reshape(len(chunk), spare)[:, : len(_GROUPS)]
        unary = counts[:, :, None] > np.arange(LEVELS)
        bits = np.zeros((len(chunk), CODE_BITS), dtype=bool)
        bits[:, : len(_GROUPS) * LEVELS] = unary.reshape(len(chunk), -1)
        codes[start : start + len(chunk)] = np.packbits(bits, axis=1)
    return codes


def search_radius(max_edits: int, unknown_count: int) -> int:
    """FAISS range-search radius (exclusive) that cannot miss a true hit; see module doc."""
    return 2 * max_edits + unknown_count + 1
