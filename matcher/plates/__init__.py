"""Licence-plate matching engine: normalisation, watchlist patterns, index, reference.

Self-contained (no gRPC, no storage): the service wires :class:`PlateIndex`
instances, one per case/scope, into its API.  Start with
:mod:`matcher.plates.alignment` for what counts as a match and
:mod:`matcher.plates.index` for how lookups stay fast and exact.
"""

from matcher.plates.alphabet import LOOKALIKE_CLASSES, MAX_PLATE_LENGTH, fold_plate
from matcher.plates.errors import PlateError, PlateErrorReason
from matcher.plates.hits import Edit, EditOp, MatchKind, PlateHit
from matcher.plates.index import PlateIndex
from matcher.plates.policy import MAX_EDITS_LIMIT, MatchPolicy
from matcher.plates.reference import brute_force_match
from matcher.plates.text import PlatePattern, PlateRead, normalize_plate, parse_entry

__all__ = [
    "LOOKALIKE_CLASSES",
    "MAX_EDITS_LIMIT",
    "MAX_PLATE_LENGTH",
    "Edit",
    "EditOp",
    "MatchKind",
    "MatchPolicy",
    "PlateError",
    "PlateErrorReason",
    "PlateHit",
    "PlateIndex",
    "PlatePattern",
    "PlateRead",
    "brute_force_match",
    "fold_plate",
    "normalize_plate",
    "parse_entry",
]
