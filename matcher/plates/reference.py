"""Brute-force reference matcher: align the read against every entry.

Deliberately naive, it is the oracle the index is tested and benchmarked
against: the index must return exactly what this returns, for every read.
Also usable directly for tiny watchlists where an index is not worth it.
"""

from __future__ import annotations

from collections.abc import Mapping

from matcher.plates.alignment import align
from matcher.plates.hits import PlateHit, rank_hits
from matcher.plates.policy import MatchPolicy
from matcher.plates.text import PlatePattern, PlateRead


def brute_force_match(
    entries: Mapping[int, PlatePattern],
    read: PlateRead,
    policy: MatchPolicy,
) -> list[PlateHit]:
    """Return every entry (id -> pattern) matching ``read`` under ``policy``, best first."""
    unknown = read.unknown_mask(policy.min_confidence)
    hits = (
        align(entry_id, pattern.text, read.text, unknown, policy) for entry_id, pattern in entries.items()
    )
    return rank_hits(hit for hit in hits if hit is not None)
