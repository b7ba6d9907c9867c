"""What a match result says: which entry, how it matched, and why.

Analysts act on hits (stop a car, dispatch a unit), so every hit carries
its own explanation: the kind of match, the number of charged edits and
each edit with its position, and which read characters were too uncertain
to trust.  Nothing here has to be recomputed to explain a hit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class MatchKind(StrEnum):
    """How a hit matched, from most to least trustworthy."""

    EXACT = "exact"
    """No edits at all (wildcards and unknown read characters may still be involved)."""
    LOOKALIKE = "lookalike"
    """Only look-alike substitutions (``O``->``0``); zero charged edits."""
    EDITED = "edited"
    """At least one charged edit; ``distance`` says how many."""


class EditOp(StrEnum):
    """One difference between the read and the watchlist entry."""

    LOOKALIKE = "lookalike"
    """Entry character read as a member of its look-alike group (not charged)."""
    SUBSTITUTION = "substitution"
    """Entry character read as some other character (charged)."""
    INSERTION = "insertion"
    """The read has an extra character the entry lacks (charged)."""
    DELETION = "deletion"
    """The read lacks a character of the entry (charged)."""


@dataclass(frozen=True, slots=True)
class Edit:
    """A single edit, positioned in the read so an analyst can point at it.

    ``position`` is 1-based in the normalised read.  For a deletion it is
    the position *before which* the entry character is missing
    (``len(read) + 1`` when it is missing at the end).  ``entry_char`` is
    ``""`` for insertions and ``read_char`` is ``""`` for deletions;
    ``entry_char`` may be ``"?"`` when a wildcard position is missing.
    """

    op: EditOp
    position: int
    entry_char: str
    read_char: str

    @property
    def charged(self) -> bool:
        """Whether the edit counts against the policy's ``max_edits``."""
        return self.op is not EditOp.LOOKALIKE

    def describe(self) -> str:
        """Short human form: ``"O->0 at 3"`` (entry O was read as 0 at read position 3),
        ``"+4 at 7"`` (extra 4 in the read), ``"-3 at 6"`` (3 missing before position 6)."""
        if self.op is EditOp.INSERTION:
            return f"+{self.read_char} at {self.position}"
        if self.op is EditOp.DELETION:
            return f"-{self.entry_char} at {self.position}"
        return f"{self.entry_char}->{self.read_char} at {self.position}"


@dataclass(frozen=True, slots=True)
class PlateHit:
    """One watchlist entry matched by a read, with its explanation.

    ``distance`` counts charged edits only.  ``unknown_positions`` lists the
    1-based read positions whose confidence was below the policy threshold
    and which were accepted as "any character" (an uncertain character that
    was instead charged as an insertion appears in ``edits``, not here).
    """

    entry_id: int
    kind: MatchKind
    distance: int
    edits: tuple[Edit, ...]
    unknown_positions: tuple[int, ...] = ()

    def rank_key(self) -> tuple[int, int, int]:
        """Order hits best first: exact < look-alike < edited by distance.

        Ties break on fewer look-alike substitutions, then on entry id, so
        the order is total and identical across index and reference scan.
        """
        lookalike_count = sum(1 for edit in self.edits if not edit.charged)
        return (self.distance, lookalike_count, self.entry_id)


def rank_hits(hits: Iterable[PlateHit]) -> list[PlateHit]:
    """Return ``hits`` sorted by :meth:`PlateHit.rank_key`."""
    return sorted(hits, key=PlateHit.rank_key)
