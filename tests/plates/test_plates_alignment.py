"""The matching definition (``align`` / ``brute_force_match``), checked by example
and against an independent search-based oracle."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.plates import (
    LOOKALIKE_CLASSES,
    Edit,
    EditOp,
    MatchKind,
    MatchPolicy,
    PlateHit,
    PlateRead,
    brute_force_match,
    parse_entry,
)
from matcher.plates.alignment import align

STRICT = MatchPolicy(max_edits=0, lookalikes=False)
LOOKALIKE = MatchPolicy(max_edits=0)
ONE_EDIT = MatchPolicy(max_edits=1)


def match_one(entry: str, read: PlateRead | str, policy: MatchPolicy) -> PlateHit | None:
    """Match a single entry through the public reference API."""
    plate_read = read if isinstance(read, PlateRead) else PlateRead(read)
    hits = brute_force_match({7: parse_entry(entry)}, plate_read, policy)
    assert len(hits) <= 1
    return hits[0] if hits else None


def described(hit: PlateHit | None) -> tuple[str, int, list[str]] | None:
    if hit is None:
        return None
    return (hit.kind.value, hit.distance, [edit.describe() for edit in hit.edits])


def test_exact_match_has_no_edits() -> None:
    hit = match_one("ABC123", "abc-123", STRICT)
    assert hit == PlateHit(7, MatchKind.EXACT, 0, (), ())


def test_strict_policy_rejects_lookalikes_and_edits() -> None:
    assert match_one("ABC123", "A8C123", STRICT) is None
    assert match_one("ABC123", "ABC1234", STRICT) is None


def test_lookalike_substitution_is_reported_but_free() -> None:
    hit = match_one("AOC123", "A0C123", LOOKALIKE)
    assert described(hit) == ("lookalike", 0, ["O->0 at 2"])
    assert hit is not None and hit.edits == (Edit(EditOp.LOOKALIKE, 2, "O", "0"),)


def test_every_required_lookalike_pair_matches() -> None:
    for group in ("0ODQ", "1IL", "2Z", "5S", "8B", "6G"):
        for entry_char in group:
            for read_char in group:
                hit = match_one(f"X{entry_char}Y", f"X{read_char}Y", LOOKALIKE)
                expected = "exact" if entry_char == read_char else "lookalike"
                assert hit is not None and hit.kind == expected


def test_lookalikes_disabled_charges_them_as_substitutions() -> None:
    policy = MatchPolicy(max_edits=1, lookalikes=False)
    assert described(match_one("AOC123", "A0C123", policy)) == ("edited", 1, ["O->0 at 2"])
    hit = match_one("AOC123", "A0C123", policy)
    assert hit is not None and hit.edits[0].op is EditOp.SUBSTITUTION
    assert match_one("AOC1S3", "A0C153", policy) is None


def test_cross_group_characters_are_not_lookalikes() -> None:
    assert match_one("ABC123", "AXC123", LOOKALIKE) is None
    assert described(match_one("ABC123", "AXC123", ONE_EDIT)) == ("edited", 1, ["B->X at 2"])


def test_insertion_and_deletion_positions_are_read_positions() -> None:
    assert described(match_one("ABC123", "ABC1234", ONE_EDIT)) == ("edited", 1, ["+4 at 7"])
    assert described(match_one("ABC123", "XABC123", ONE_EDIT)) == ("edited", 1, ["+X at 1"])
    assert described(match_one("ABC123", "ABC12", ONE_EDIT)) == ("edited", 1, ["-3 at 6"])
    assert described(match_one("ABC123", "BC123", ONE_EDIT)) == ("edited", 1, ["-A at 1"])


def test_edits_beyond_budget_do_not_match() -> None:
    assert match_one("ABC123", "AXC12", ONE_EDIT) is None
    two = MatchPolicy(max_edits=2)
    assert described(match_one("ABC123", "AXC12", two)) == (
        "edited",
        2,
        ["B->X at 2", "-3 at 6"],
    )


def test_edited_hit_also_reports_free_lookalikes() -> None:
    hit = match_one("AOC123", "A0C1234", ONE_EDIT)
    assert described(hit) == ("edited", 1, ["O->0 at 2", "+4 at 7"])


def test_question_mark_matches_exactly_one_character() -> None:
    assert described(match_one("AB?123", "ABX123", STRICT)) == ("exact", 0, [])
    assert match_one("AB?123", "AB123", STRICT) is None
    assert match_one("AB?123", "ABXY123", STRICT) is None
    assert described(match_one("AB?123", "AB123", ONE_EDIT)) == ("edited", 1, ["-? at 3"])


def test_star_matches_any_run_including_empty() -> None:
    for read in ("AB", "ABX", "ABXYZ12"):
        assert described(match_one("AB*", read, STRICT)) == ("exact", 0, [])
    for read in ("A12", "AX12", "AXYZ12"):
        assert described(match_one("A*12", read, STRICT)) == ("exact", 0, [])
    assert match_one("A*12", "B12", STRICT) is None
    assert described(match_one("*0K", "X0K", STRICT)) == ("exact", 0, [])
    assert described(match_one("*0K", "XOK", LOOKALIKE)) == ("lookalike", 0, ["0->O at 2"])


def test_unknown_read_characters_match_anything_and_are_reported() -> None:
    read = PlateRead("ABX123", (0.9, 0.9, 0.2, 0.9, 0.9, 0.9))
    hit = match_one("ABC123", read, STRICT)
    assert hit == PlateHit(7, MatchKind.EXACT, 0, (), (3,))
    assert match_one("ABC123", read, MatchPolicy(max_edits=0, min_confidence=0.1)) is None


def test_unknown_character_charged_as_insertion_is_not_listed_as_unknown() -> None:
    read = PlateRead("ABCX123", (0.9, 0.9, 0.9, 0.2, 0.9, 0.9, 0.9))
    hit = match_one("ABC123", read, ONE_EDIT)
    assert hit == PlateHit(7, MatchKind.EDITED, 1, (Edit(EditOp.INSERTION, 4, "", "X"),), ())


def test_ranking_exact_then_lookalike_then_by_distance() -> None:
    entries = {
        5: parse_entry("ABC124"),  # 1 edit
        4: parse_entry("A8C123"),  # look-alike
        3: parse_entry("ABC123"),  # exact
        2: parse_entry("A8C124"),  # look-alike + 1 edit
        1: parse_entry("XBC124"),  # 2 edits
        0: parse_entry("ABD123"),  # 1 edit
    }
    hits = brute_force_match(entries, PlateRead("ABC123"), MatchPolicy(max_edits=2))
    assert [(h.entry_id, h.kind.value, h.distance) for h in hits] == [
        (3, "exact", 0),
        (4, "lookalike", 0),
        (0, "edited", 1),
        (5, "edited", 1),
        (2, "edited", 1),
        (1, "edited", 2),
    ]


def test_edit_describe_formats() -> None:
    assert Edit(EditOp.LOOKALIKE, 3, "O", "0").describe() == "O->0 at 3"
    assert Edit(EditOp.SUBSTITUTION, 1, "A", "X").describe() == "A->X at 1"
    assert Edit(EditOp.INSERTION, 7, "", "4").describe() == "+4 at 7"
    assert Edit(EditOp.DELETION, 6, "3", "").describe() == "-3 at 6"
    assert not Edit(EditOp.LOOKALIKE, 3, "O", "0").charged
    assert Edit(EditOp.DELETION, 6, "3", "").charged


# --- independent oracle -------------------------------------------------------
# The oracle re-derives the definition without dynamic programming: it searches
# over ways to *repair* the read (delete a character, blank one out, or insert a
# blank; a blank "#" matches any one entry character) and asks a regular
# expression built from the entry whether the repaired read matches.  The fewest
# repairs is the distance; zero repairs with a strict or look-alike-tolerant
# expression gives the exact / look-alike kinds.

_GROUP = {ch: group for group in LOOKALIKE_CLASSES for ch in group}


def entry_regex(entry: str, lookalikes: bool) -> re.Pattern[str]:
    parts = []
    for ch in entry:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append("[" + (_GROUP.get(ch, ch) if lookalikes else ch) + "#]")
    return re.compile("".join(parts))


def oracle(entry: str, read: str, unknown: tuple[bool, ...], policy: MatchPolicy) -> tuple[str, int] | None:
    start = "".join("#" if u else ch for ch, u in zip(read, unknown, strict=True))
    if entry_regex(entry, False).fullmatch(start):
        return ("exact", 0)
    tolerant = entry_regex(entry, policy.lookalikes)
    level = {start}
    for distance in range(policy.max_edits + 1):
        if any(tolerant.fullmatch(s) for s in level):
            return ("lookalike" if distance == 0 else "edited", distance)
        level = {
            variant
            for s in level
            for i in range(len(s) + 1)
            for variant in (s[:i] + "#" + s[i:], s[:i] + s[i + 1 :], s[:i] + "#" + s[i + 1 :])
        }
    return None


def apply_edits(hit: PlateHit, read: str, unknown: tuple[bool, ...]) -> str:
    """Repair the read with the hit's edits; the result must match the entry strictly."""
    by_position: dict[int, list[Edit]] = {}
    for edit in hit.edits:
        by_position.setdefault(edit.position, []).append(edit)
    out: list[str] = []
    for position in range(1, len(read) + 2):
        edits_here = by_position.get(position, [])
        out.extend(
            "#" if e.entry_char == "?" else e.entry_char for e in edits_here if e.op is EditOp.DELETION
        )
        if position > len(read):
            break
        changed = [e for e in edits_here if e.op is not EditOp.DELETION]
        assert len(changed) <= 1
        if not changed:
            out.append("#" if unknown[position - 1] else read[position - 1])
        elif changed[0].op is not EditOp.INSERTION:
            assert changed[0].read_char == read[position - 1]
            out.append(changed[0].entry_char)
    return "".join(out)


small_alphabet = st.sampled_from(["0OD8B", "AB0O", "1IL7", "ABC"])


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, tuple[bool, ...], MatchPolicy]:
    alphabet = draw(small_alphabet)
    entry = draw(
        st.text(alphabet + "?*", min_size=1, max_size=6).filter(lambda t: any(c.isalnum() for c in t))
    )
    read = draw(st.text(alphabet, min_size=1, max_size=6))
    unknown = tuple(draw(st.lists(st.booleans(), min_size=len(read), max_size=len(read))))
    policy = MatchPolicy(max_edits=draw(st.integers(0, 2)), lookalikes=draw(st.booleans()))
    return parse_entry(entry).text, read, unknown, policy


@settings(max_examples=600, deadline=None)
@given(cases())
def test_align_agrees_with_independent_oracle(case: tuple[str, str, tuple[bool, ...], MatchPolicy]) -> None:
    entry, read, unknown, policy = case
    hit = align(1, entry, read, unknown, policy)
    expected = oracle(entry, read, unknown, policy)
    assert (None if hit is None else (hit.kind.value, hit.distance)) == expected
    if hit is None:
        return
    assert sum(e.charged for e in hit.edits) == hit.distance
    assert (hit.kind is MatchKind.EXACT) == (not hit.edits)
    assert entry_regex(entry, False).fullmatch(apply_edits(hit, read, unknown))
    inserted = {e.position for e in hit.edits if e.op is EditOp.INSERTION}
    assert hit.unknown_positions == tuple(i + 1 for i, u in enumerate(unknown) if u and i + 1 not in inserted)
