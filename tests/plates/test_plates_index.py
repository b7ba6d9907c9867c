"""PlateIndex: id bookkeeping, wildcard entries, thread safety, and equality
with the brute-force reference on random watchlists (property test)."""

from __future__ import annotations

import string
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.plates import (
    MatchKind,
    MatchPolicy,
    PlateError,
    PlateErrorReason,
    PlateIndex,
    PlatePattern,
    PlateRead,
    brute_force_match,
    parse_entry,
)


def hit_ids(index: PlateIndex, read: str, policy: MatchPolicy | None = None) -> list[int]:
    return [hit.entry_id for hit in index.match(PlateRead(read), policy)]


def test_empty_index_matches_nothing() -> None:
    index = PlateIndex()
    assert index.match(PlateRead("ABC123")) == []
    assert len(index) == 0


def test_match_uses_default_policy_when_omitted() -> None:
    index = PlateIndex()
    index.add(1, parse_entry("ABC123"))
    (hit,) = index.match(PlateRead("ABC124"))
    assert (hit.kind, hit.distance) == (MatchKind.EDITED, 1)


def test_ids_are_opaque_and_survive_removals_and_compaction() -> None:
    index = PlateIndex()
    index.add_many((entry_id, parse_entry(f"ID{entry_id % 1000:03d}")) for entry_id in range(-50, 50))
    index.add(2**63 - 1, parse_entry("MAX1"))
    index.add(-(2**63), parse_entry("MIN1"))
    for entry_id in range(-50, 40):  # well past half: forces at least one compaction
        assert index.remove(entry_id)
    assert len(index) == 12
    assert hit_ids(index, "ID045", MatchPolicy(max_edits=0)) == [45]
    assert hit_ids(index, "MAX1", MatchPolicy(max_edits=0)) == [2**63 - 1]
    assert hit_ids(index, "MIN1", MatchPolicy(max_edits=0)) == [-(2**63)]
    assert -50 not in index and 45 in index


def test_remove_is_idempotent() -> None:
    index = PlateIndex()
    index.add(1, parse_entry("ABC123"))
    assert index.remove(1) is True
    assert index.remove(1) is False
    assert index.remove(99) is False
    assert index.match(PlateRead("ABC123")) == []


def test_add_existing_id_replaces_entry_even_across_kinds() -> None:
    index = PlateIndex()
    index.add(1, parse_entry("ABC123"))
    index.add(1, parse_entry("XYZ9*"))
    assert len(index) == 1
    assert hit_ids(index, "ABC123") == []
    assert hit_ids(index, "XYZ9876") == [1]
    index.add(1, parse_entry("QQQ111"))
    assert hit_ids(index, "XYZ9876") == []
    assert hit_ids(index, "QQQ111") == [1]


def test_add_many_last_duplicate_wins_and_bad_id_changes_nothing() -> None:
    index = PlateIndex()
    index.add_many([(1, parse_entry("AAA111")), (1, parse_entry("BBB222"))])
    assert hit_ids(index, "BBB222") == [1] and hit_ids(index, "AAA111") == []
    for bad in (2**63, -(2**63) - 1, True):
        with pytest.raises(PlateError) as caught:
            index.add_many([(2, parse_entry("CCC333")), (bad, parse_entry("DDD444"))])
        assert caught.value.reason == PlateErrorReason.ENTRY_ID_OUT_OF_RANGE
    assert len(index) == 1 and 2 not in index


def test_wildcard_entries_are_found_and_removable() -> None:
    index = PlateIndex()
    index.add(10, parse_entry("AB?1*"))
    index.add(11, parse_entry("ZZZ999"))
    assert hit_ids(index, "ABX1", MatchPolicy(max_edits=0)) == [10]
    assert hit_ids(index, "ABX1234", MatchPolicy(max_edits=0)) == [10]
    assert index.remove(10)
    assert hit_ids(index, "ABX1234") == []


def test_unknown_characters_widen_the_prefilter() -> None:
    index = PlateIndex()
    index.add(1, parse_entry("ABC123"))
    read = PlateRead("XYZ123", (0.1, 0.1, 0.1, 0.9, 0.9, 0.9))
    (hit,) = index.match(read, MatchPolicy(max_edits=0))
    assert hit.kind is MatchKind.EXACT and hit.unknown_positions == (1, 2, 3)


def test_concurrent_churn_never_hides_stable_entries() -> None:
    index = PlateIndex()
    stable = {entry_id: f"ST{entry_id:04d}" for entry_id in range(200)}
    index.add_many((entry_id, parse_entry(text)) for entry_id, text in stable.items())
    errors: list[BaseException] = []
    stop = threading.Event()

    def churn() -> None:
        try:
            for round_ in range(30):
                ids = range(10_000 + round_ * 300, 10_000 + round_ * 300 + 300)
                index.add_many((i, parse_entry(f"CH{i % 10**6:06d}")) for i in ids)
                for i in ids:
                    index.remove(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()

    def lookups() -> None:
        try:
            policy = MatchPolicy(max_edits=1)
            while not stop.is_set():
                for entry_id in range(0, 200, 17):
                    hits = index.match(PlateRead(stable[entry_id]), policy)
                    assert hits[0].entry_id == entry_id and hits[0].kind is MatchKind.EXACT
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn)] + [threading.Thread(target=lookups) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(index) == 200


# --- property test: index == brute force ---------------------------------------

ALPHABETS = [
    "0ODQ8B",  # one big look-alike group plus a pair: worst case for the prefilter
    "0O1IL2Z5S",
    "ABC",
    "0ODQ1IL2Z5S8B6GAXK",
    string.ascii_uppercase + string.digits,
]


@st.composite
def entry_texts(draw: st.DrawFn, alphabet: str) -> str:
    plain = draw(st.text(alphabet, min_size=1, max_size=9))
    if draw(st.integers(0, 4)) > 0:
        return plain
    chars = list(plain)
    for _ in range(draw(st.integers(1, 3))):
        chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from("?*")))
    return PlatePattern("".join(chars)[:10]).text if any(c.isalnum() for c in chars[:10]) else plain


@st.composite
def reads_near(draw: st.DrawFn, alphabet: str, texts: list[str]) -> PlateRead:
    near_an_entry = draw(st.booleans())
    if texts and near_an_entry:
        base = list(draw(st.sampled_from(texts)).replace("*", "").replace("?", alphabet[0]))
        for _ in range(draw(st.integers(0, 3))):
            op = draw(st.sampled_from(["sub", "ins", "del"]))
            pos = draw(st.integers(0, len(base)))
            if op == "ins":
                base.insert(pos, draw(st.sampled_from(alphabet)))
            elif base and pos < len(base):
                if op == "sub":
                    base[pos] = draw(st.sampled_from(alphabet))
                else:
                    del base[pos]
        text = "".join(base)[:10] or alphabet[0]
    else:
        text = draw(st.text(alphabet, min_size=1, max_size=10))
    confidences = None
    if draw(st.booleans()):
        confidences = tuple(draw(st.sampled_from([0.0, 0.3, 0.6, 1.0])) for _ in text)
    return PlateRead(text, confidences)


policies = st.builds(
    MatchPolicy,
    max_edits=st.integers(0, 3),
    min_confidence=st.sampled_from([0.0, 0.5, 0.9]),
    lookalikes=st.booleans(),
)


@st.composite
def scenarios(draw: st.DrawFn) -> list[tuple[str, object, object]]:
    alphabet = draw(st.sampled_from(ALPHABETS))
    ops: list[tuple[str, object, object]] = []
    texts: list[str] = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["add", "add", "add", "remove", "match", "match"]))
        if kind == "add":
            text = draw(entry_texts(alphabet))
            texts.append(text)
            ops.append(("add", draw(st.integers(-3, 30)), parse_entry(text)))
        elif kind == "remove":
            ops.append(("remove", draw(st.integers(-3, 30)), None))
        else:
            ops.append(("match", draw(reads_near(alphabet, texts)), draw(policies)))
    ops.append(("match", draw(reads_near(alphabet, texts)), draw(policies)))
    return ops


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_index_equals_brute_force(ops: list[tuple[str, object, object]]) -> None:
    index = PlateIndex()
    model: dict[int, PlatePattern] = {}
    for kind, first, second in ops:
        if kind == "add":
            assert isinstance(first, int) and isinstance(second, PlatePattern)
            index.add(first, second)
            model[first] = second
        elif kind == "remove":
            assert isinstance(first, int)
            assert index.remove(first) == (model.pop(first, None) is not None)
        else:
            assert isinstance(first, PlateRead) and isinstance(second, MatchPolicy)
            assert index.match(first, second) == brute_force_match(model, first, second)
        assert len(index) == len(model)
