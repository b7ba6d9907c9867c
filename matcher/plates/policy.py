"""How forgiving a lookup is allowed to be."""

from __future__ import annotations

import math
from dataclasses import dataclass

from matcher.plates.errors import PlateError, PlateErrorReason

MAX_EDITS_LIMIT = 3
"""Upper bound on :attr:`MatchPolicy.max_edits`.

Plates are 5-8 characters; beyond three charged edits nearly every plate of
similar length "matches", which floods analysts and makes the prefilter
useless, so larger values are refused rather than honoured.
"""


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Matching knobs chosen per lookup (per case, per camera, ...).

    * ``max_edits``: how many *charged* edits (substitutions outside a
      look-alike group, inserted or missing characters) a hit may need.
      ``0`` means exact / look-alike only.
    * ``min_confidence``: read characters scored below this are unknown and
      match any one character.  ``0`` trusts every character.
    * ``lookalikes``: when true, substitutions inside a look-alike group
      (``O``/``0``, ``8``/``B``, ...) are free and reported as such; when
      false they are charged like any other substitution.
    """

    max_edits: int = 1
    min_confidence: float = 0.5
    lookalikes: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.max_edits <= MAX_EDITS_LIMIT:
            raise PlateError(
                PlateErrorReason.POLICY_MAX_EDITS_OUT_OF_RANGE,
                f"max_edits={self.max_edits} is outside 0..{MAX_EDITS_LIMIT};"
                " use 0 for exact/look-alike matching or a small edit budget",
            )
        if not (math.isfinite(self.min_confidence) and 0.0 <= self.min_confidence <= 1.0):
            raise PlateError(
                PlateErrorReason.POLICY_CONFIDENCE_OUT_OF_RANGE,
                f"min_confidence={self.min_confidence!r} must be a number between 0 and 1",
            )
