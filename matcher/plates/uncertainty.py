"""How much of a read may be left to chance: the bound that keeps a read from naming the hotlist.

A read character below the confidence threshold matches *any* entry character, a charged edit
forgives one more, and a look-alike group stands for up to four characters. Without a bound, a
read whose characters are all uncertain matches every plain entry of its length (issue 17: ten
such reads from a camera gateway recovered every entry of three open cases). Two limits, both
checked before the index is consulted, so that a refused read matches nothing and costs nothing:

* **At most ``max_unknown`` uncertain characters** (``MATCHER_PLATE_MAX_UNKNOWN`` in
  :mod:`matcher.config`, default 2): a camera that cannot read more than that has not read the
  plate.
* **At least ``min_anchored`` anchored characters** (``MATCHER_PLATE_MIN_ANCHORED``, default 4):
  the characters that must agree with an entry in every alignment, ``length - unknown -
  max_edits``. A look-alike character still anchors: it narrows the entry's character to its
  group (at most 4 of the 36). This is the bound on look-alike and distance expansion: against a
  watchlist of 20,000 random 6-7 character plates, the broadest read the default allows (7
  characters, 3 edits, look-alike characters at their worst) matched 0.43 % of it; 3 anchored
  characters would allow 2.5 %, 2 would allow 11.5 % (``python -m benchmarks.plate_read_share``).
  With the default edit budget of 1, a read needs 5 characters, plus one per unknown character.
  Wildcard entries (a witness's partial plate) are bounded by their own rule,
  ``PATTERN_ONLY_WILDCARDS``.

Both refusals say how many characters were unknown (or anchored) and what the limit is, and never
quote the read (P7, P8): the message reaches the caller, and may reach a console or a log.
"""

from __future__ import annotations

from dataclasses import dataclass

from matcher.plates.alphabet import MAX_PLATE_LENGTH
from matcher.plates.errors import PlateError, PlateErrorReason
from matcher.plates.policy import MatchPolicy
from matcher.plates.text import PlateRead


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The service's bound on how uncertain one read may be (see the module docstring)."""

    max_unknown: int
    min_anchored: int

    def __post_init__(self) -> None:
        if not 0 <= self.max_unknown <= MAX_PLATE_LENGTH:
            raise ValueError(f"plate max unknown characters must be 0..{MAX_PLATE_LENGTH}")
        if not 1 <= self.min_anchored <= MAX_PLATE_LENGTH:
            raise ValueError(f"plate min anchored characters must be 1..{MAX_PLATE_LENGTH}")

    def allows(self, read: PlateRead, policy: MatchPolicy) -> bool:
        """Whether :meth:`check` would let ``read`` be matched."""
        try:
            self.check(read, policy)
        except PlateError:
            return False
        return True

    def check(self, read: PlateRead, policy: MatchPolicy) -> None:
        """Raises ``READ_TOO_UNCERTAIN`` when ``read`` under ``policy`` leaves too much open."""
        unknown = sum(read.unknown_mask(policy.min_confidence))
        length = len(read.text)
        if unknown > self.max_unknown:
            raise PlateError(
                PlateErrorReason.READ_TOO_UNCERTAIN,
                f"{unknown} of the read's {length} characters are below the confidence threshold"
                f" ({policy.min_confidence:g}); at most {self.max_unknown} may be: read the plate again",
            )
        anchored = length - unknown - policy.max_edits
        if anchored < self.min_anchored:
            raise PlateError(
                PlateErrorReason.READ_TOO_UNCERTAIN,
                f"the read's {length} characters, {unknown} of them unknown, with {policy.max_edits}"
                f" edit(s) allowed leave {max(anchored, 0)} that must match; at least"
                f" {self.min_anchored} must: allow fewer edits or read more of the plate",
            )
