"""The matching definition: aligning one read against one watchlist entry.

This module *is* the specification of a match; both the index and the
brute-force reference call :func:`align`, so they can only differ in which
entries they try, never in what a match means.

Definition.  An alignment turns the entry into the read with these steps,
each tied to a read position:

* keep: read character equals the entry character, or the entry has ``?``
  there, or the read character is unknown (confidence below threshold);
* look-alike substitution: both characters are in one look-alike group and
  the policy allows look-alikes;
* substitution: any other differing pair;
* insertion: the read has an extra character;
* deletion: the read lacks an entry character (a ``?`` may be missing too);
* an entry ``*`` absorbs any run of read characters (possibly none) for free.

Substitutions, insertions and deletions are *charged*; look-alike
substitutions are free but reported.  The best alignment minimises the
charged count first and the look-alike count second.  The entry matches
when the charged count is at most ``policy.max_edits``; the hit is
``exact`` with no edits at all, ``lookalike`` with only look-alike
substitutions, ``edited`` otherwise (``distance`` = charged count).

Only the edit list (never kind or distance) depends on which of several
best alignments is reported.  To make it the one an analyst expects, ties
go to the alignment with fewer "blind" keeps (a ``?`` or an unknown read
character standing in for a character): reading ``AB123`` against
``AB?123`` reports the ``?`` as missing, not the ``B``.  Remaining ties are
broken by a fixed traceback order, so the edits are deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

from matcher.plates.alphabet import FOLD, WILDCARD_ANY, WILDCARD_ONE
from matcher.plates.hits import Edit, EditOp, MatchKind, PlateHit
from matcher.plates.policy import MatchPolicy

_CHARGE = 256
_LOOKALIKE = 16
_BLIND = 1
"""Costs of a charged edit, a look-alike substitution and a blind keep.  A
plate has at most 10 positions, so 10 blind keeps stay below one look-alike
and 10 look-alikes (plus blinds) below one charge: a single int compares
(charged, look-alikes, blinds) lexicographically, and the DP, which runs
once per candidate, stays on plain integers."""


def _step_cost(entry_char: str, read_char: str, read_unknown: bool, lookalikes: bool) -> int:
    """Cost of aligning one entry character (not ``*``) with one read character."""
    if read_unknown or entry_char == WILDCARD_ONE:
        return _BLIND
    if entry_char == read_char:
        return 0
    if lookalikes and FOLD[entry_char] == FOLD[read_char]:
        return _LOOKALIKE
    return _CHARGE


def align(
    entry_id: int,
    entry: str,
    read: str,
    unknown: Sequence[bool],
    policy: MatchPolicy,
) -> PlateHit | None:
    """Match one normalised entry text against one normalised read.

    ``unknown[i]`` marks read character ``i`` as untrusted.  Returns the hit
    (see the module docstring for the definition) or ``None`` when more than
    ``policy.max_edits`` charged edits would be needed.

    Verifying prefilter candidates is the index's main cost, so the DP is
    kept cheap: without ``*``, reaching cell ``(i, j)`` takes ``|i - j|``
    charged indels, so only a band of ``max_edits`` around the diagonal is
    computed (cells outside hold ``limit``, i.e. "over budget"), and rows are
    abandoned as soon as every cell is over budget.
    """
    n, m = len(read), len(entry)
    limit = (policy.max_edits + 1) * _CHARGE
    lookalikes = policy.lookalikes
    band = n + m if WILDCARD_ANY in entry else policy.max_edits
    if abs(n - m) > band:
        return None

    first = [0] * (m + 1)
    for j in range(1, m + 1):
        first[j] = first[j - 1] + (0 if entry[j - 1] == WILDCARD_ANY else _CHARGE)
    rows = [first]
    for i in range(1, n + 1):
        read_char, read_unknown = read[i - 1], unknown[i - 1]
        read_group = FOLD[read_char] if lookalikes else ""
        prev = rows[i - 1]
        cur = [limit] * (m + 1)
        cur[0] = best = prev[0] + _CHARGE
        for j in range(max(1, i - band), min(m, i + band) + 1):
            # Hot loop (runs for every prefilter candidate): _step_cost is
            # inlined as an if-chain; the traceback uses the function itself.
            entry_char = entry[j - 1]
            if entry_char == WILDCARD_ANY:
                cost = prev[j]
                if cur[j - 1] < cost:
                    cost = cur[j - 1]
            else:
                if read_unknown or entry_char == WILDCARD_ONE:
                    cost = prev[j - 1] + _BLIND
                elif entry_char == read_char:
                    cost = prev[j - 1]
                elif FOLD[entry_char] == read_group:
                    cost = prev[j - 1] + _LOOKALIKE
                else:
                    cost = prev[j - 1] + _CHARGE
                if prev[j] + _CHARGE < cost:
                    cost = prev[j] + _CHARGE
                if cur[j - 1] + _CHARGE < cost:
                    cost = cur[j - 1] + _CHARGE
            cur[j] = cost
            if cost < best:
                best = cost
        if best >= limit:
            return None
        rows.append(cur)

    total = rows[n][m]
    if total >= limit:
        return None
    edits, unknown_positions = _trace(rows, entry, read, unknown, lookalikes)
    distance = total // _CHARGE
    if total < _LOOKALIKE:
        kind = MatchKind.EXACT
    elif distance == 0:
        kind = MatchKind.LOOKALIKE
    else:
        kind = MatchKind.EDITED
    return PlateHit(entry_id, kind, distance, edits, unknown_positions)


def _trace(
    rows: list[list[int]],
    entry: str,
    read: str,
    unknown: Sequence[bool],
    lookalikes: bool,
) -> tuple[tuple[Edit, ...], tuple[int, ...]]:
    """Walk back from the final cell to recover one best alignment's edits.

    Preference when several predecessors are optimal: ``*`` absorbing a read
    character, ``*`` matching nothing, keep/substitute, insertion, deletion.
    """
    i, j = len(read), len(entry)
    edits: list[Edit] = []
    unknown_positions: list[int] = []
    while i > 0 or j > 0:
        cost = rows[i][j]
        entry_char = entry[j - 1] if j > 0 else ""
        if entry_char == WILDCARD_ANY:
            if i > 0 and rows[i - 1][j] == cost:
                if unknown[i - 1]:
                    unknown_positions.append(i)
                i -= 1
            else:
                j -= 1
            continue
        if i > 0 and j > 0:
            read_char = read[i - 1]
            step = _step_cost(entry_char, read_char, unknown[i - 1], lookalikes)
            if rows[i - 1][j - 1] + step == cost:
                if step == _LOOKALIKE:
                    edits.append(Edit(EditOp.LOOKALIKE, i, entry_char, read_char))
                elif step == _CHARGE:
                    edits.append(Edit(EditOp.SUBSTITUTION, i, entry_char, read_char))
                elif unknown[i - 1]:
                    unknown_positions.append(i)
                i, j = i - 1, j - 1
                continue
        if i > 0 and rows[i - 1][j] + _CHARGE == cost:
            edits.append(Edit(EditOp.INSERTION, i, "", read[i - 1]))
            i -= 1
        else:
            edits.append(Edit(EditOp.DELETION, i + 1, entry_char, ""))
            j -= 1
    edits.reverse()
    unknown_positions.reverse()
    return tuple(edits), tuple(unknown_positions)
