"""Per-scope (per-case) plate index: FAISS prefilter plus exact verification.

Layout.

* Plain entries (no wildcards) get a 128-bit look-alike-group count code in
  a ``faiss.IndexBinaryFlat``.  A lookup runs one Hamming range search with
  a radius that provably cannot miss a hit (see
  :mod:`matcher.plates.class_counts`), then verifies each candidate with
  :func:`~matcher.plates.alignment.align`.  Results therefore equal
  :func:`~matcher.plates.reference.brute_force_match` by construction of
  the bound, and the property tests check it.
* Wildcard entries (``?``/``*``, typically a handful of witness partials
  per case) live in a plain dict and are aligned against every read: their
  length and character counts are open-ended, so no count bound applies.

Ids.  Entry ids are opaque caller integers (signed 64-bit).  FAISS row
numbers never leak out: the index keeps its own row -> id table.  Removal
marks the row dead instead of calling ``remove_ids`` (which renumbers and
costs O(n) per call); when dead rows outnumber live ones the FAISS index is
rebuilt from the live codes, so removal is amortised O(1) and memory stays
within 2x of the live set (the rebuild holds the lock for O(live entries):
about 0.2 s at a million entries).  ``add`` of an existing id replaces the entry
(upsert), so retried or replayed watchlist syncs are idempotent.

Thread safety.  One lock guards all state.  ``add``/``add_many``/
``remove`` hold it for the whole mutation.  ``match`` holds it only while
running the range search and copying the candidates (id, text), then
verifies outside the lock; it answers for the watchlist as it was at that
instant, and concurrent writers wait at most one range search.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import faiss

from matcher.plates.alignment import align
from matcher.plates.class_counts import CODE_BITS, encode_class_counts, search_radius
from matcher.plates.errors import PlateError, PlateErrorReason
from matcher.plates.hits import PlateHit, rank_hits
from matcher.plates.policy import MatchPolicy
from matcher.plates.text import PlatePattern, PlateRead

_ID_MIN, _ID_MAX = -(2**63), 2**63 - 1


def _check_entry_id(entry_id: int) -> None:
    """Ids travel as int64 over gRPC and in storage; refuse anything else early."""
    if isinstance(entry_id, bool) or not isinstance(entry_id, int) or not _ID_MIN <= entry_id <= _ID_MAX:
        raise PlateError(
            PlateErrorReason.ENTRY_ID_OUT_OF_RANGE,
            f"entry id {entry_id!r} must be an integer in the signed 64-bit range",
        )


class PlateIndex:
    """A mutable set of watchlist entries for one scope, answering plate reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes = faiss.IndexBinaryFlat(CODE_BITS)
        self._row_ids: list[int | None] = []
        self._row_texts: list[str] = []
        self._row_of: dict[int, int] = {}
        self._wildcards: dict[int, str] = {}
        self._dead_rows = 0

    def __len__(self) -> int:
        """Number of live entries."""
        with self._lock:
            return len(self._row_of) + len(self._wildcards)

    def __contains__(self, entry_id: object) -> bool:
        """Whether an entry with this id is live."""
        with self._lock:
            return entry_id in self._row_of or entry_id in self._wildcards

    def add(self, entry_id: int, pattern: PlatePattern) -> None:
        """Add or replace one entry."""
        self.add_many([(entry_id, pattern)])

    def add_many(self, entries: Iterable[tuple[int, PlatePattern]]) -> None:
        """Add or replace many entries in one FAISS call (use it for bulk loads).

        If an id repeats within ``entries`` the last pattern wins.  All ids
        are validated before anything changes, so a bad id leaves the index
        untouched.
        """
        batch = dict(entries)
        for entry_id in batch:
            _check_entry_id(entry_id)
        plain = [(entry_id, p.text) for entry_id, p in batch.items() if not p.has_wildcards]
        codes = encode_class_counts([text for _, text in plain])
        with self._lock:
            for entry_id in batch:
                self._discard(entry_id)
            for entry_id, pattern in batch.items():
                if pattern.has_wildcards:
                    self._wildcards[entry_id] = pattern.text
            first_row = len(self._row_ids)
            self._codes.add(codes)
            for offset, (entry_id, text) in enumerate(plain):
                self._row_of[entry_id] = first_row + offset
                self._row_ids.append(entry_id)
                self._row_texts.append(text)
            self._compact_if_sparse()

    def remove(self, entry_id: int) -> bool:
        """Remove an entry; returns whether it was present (removal is idempotent)."""
        with self._lock:
            removed = self._discard(entry_id)
            self._compact_if_sparse()
            return removed

    def match(self, read: PlateRead, policy: MatchPolicy | None = None) -> list[PlateHit]:
        """Return all entries matching ``read`` under ``policy`` (default policy if omitted), best first.

        Equal to :func:`~matcher.plates.reference.brute_force_match` over the
        current entries.
        """
        if policy is None:
            policy = MatchPolicy()
        unknown = read.unknown_mask(policy.min_confidence)
        known = "".join(ch for ch, is_unknown in zip(read.text, unknown, strict=True) if not is_unknown)
        query = encode_class_counts([known])
        radius = search_radius(policy.max_edits, sum(unknown))
        with self._lock:
            _, _, rows = self._codes.range_search(query, radius)
            candidates = [
                (entry_id, self._row_texts[row])
                for row in rows.tolist()
                if (entry_id := self._row_ids[row]) is not None
            ]
            candidates.extend(self._wildcards.items())
        hits = (align(entry_id, text, read.text, unknown, policy) for entry_id, text in candidates)
        return rank_hits(hit for hit in hits if hit is not None)

    def _discard(self, entry_id: int) -> bool:
        """Forget an entry; plain entries leave a dead row behind.  Caller holds the lock."""
        if self._wildcards.pop(entry_id, None) is not None:
            return True
        row = self._row_of.pop(entry_id, None)
        if row is None:
            return False
        self._row_ids[row] = None
        self._row_texts[row] = ""
        self._dead_rows += 1
        return True

    def _compact_if_sparse(self) -> None:
        """Rebuild FAISS from live rows once dead rows outnumber them.  Caller holds the lock."""
        if self._dead_rows * 2 <= len(self._row_ids):
            return
        live = [row for row, entry_id in enumerate(self._row_ids) if entry_id is not None]
        codes = self._codes.reconstruct_n(0, self._codes.ntotal)[live]
        self._codes = faiss.IndexBinaryFlat(CODE_BITS)
        self._codes.add(codes)
        self._row_ids = [self._row_ids[row] for row in live]
        self._row_texts = [self._row_texts[row] for row in live]
        self._row_of = {entry_id: row for row, entry_id in enumerate(self._row_ids) if entry_id is not None}
        self._dead_rows = 0
