"""Normalisation, entry parsing, reads and policies: what is accepted and what is refused."""

from __future__ import annotations

import math

import pytest

from matcher.plates import (
    LOOKALIKE_CLASSES,
    MAX_PLATE_LENGTH,
    MatchPolicy,
    PlateError,
    PlateErrorReason,
    PlatePattern,
    PlateRead,
    fold_plate,
    normalize_plate,
    parse_entry,
)
from matcher.plates.alphabet import ALPHABET


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc123", "ABC123"),
        ("AB-C 123", "ABC123"),
        ("ab.c.1.2.3", "ABC123"),
        ("  KA 01\tAB 1234 ", "KA01AB1234"),
        ("b/x_7·7", "BX77"),
        ("x\u2013y\u2014z\u2011w", "XYZW"),
    ],
)
def test_normalize_uppercases_and_strips_separators(raw: str, expected: str) -> None:
    assert normalize_plate(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", PlateErrorReason.PLATE_EMPTY),
        (" - . ", PlateErrorReason.PLATE_EMPTY),
        ("A" * (MAX_PLATE_LENGTH + 1), PlateErrorReason.PLATE_TOO_LONG),
        ("ABC#12", PlateErrorReason.PLATE_BAD_CHARACTER),
        ("ÄBC12", PlateErrorReason.PLATE_BAD_CHARACTER),
        ("straße", PlateErrorReason.PLATE_BAD_CHARACTER),
        (
            "\uff21BC",  # full-width A
            PlateErrorReason.PLATE_BAD_CHARACTER,
        ),
        ("AB?12", PlateErrorReason.PLATE_BAD_CHARACTER),
        ("AB*12", PlateErrorReason.PLATE_BAD_CHARACTER),
    ],
)
def test_normalize_refusals_carry_reason(raw: str, reason: PlateErrorReason) -> None:
    with pytest.raises(PlateError) as caught:
        normalize_plate(raw)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


def test_bad_character_message_names_character_and_position() -> None:
    with pytest.raises(PlateError, match=r"'#' at position 4 .*letters A-Z and digits"):
        normalize_plate("ABC#1")


def test_wildcard_in_read_message_explains_where_wildcards_belong() -> None:
    with pytest.raises(PlateError, match="only allowed in watchlist entries"):
        PlateRead("AB?12")


def test_length_limit_counts_normalised_characters() -> None:
    assert normalize_plate("AB-CD-EF-GH-IJ") == "ABCDEFGHIJ"
    with pytest.raises(PlateError, match="11 plate characters"):
        normalize_plate("AB-CD-EF-GH-IJ-K")


def test_reason_values_are_stable_strings() -> None:
    assert PlateErrorReason.PLATE_EMPTY == "PLATE_EMPTY"
    assert PlateErrorReason.CONFIDENCE_LENGTH_MISMATCH.value == "CONFIDENCE_LENGTH_MISMATCH"


def test_entry_keeps_wildcards_and_collapses_star_runs() -> None:
    assert parse_entry("ab-?1**2").text == "AB?1*2"
    assert parse_entry("ab-?1**2") == PlatePattern("AB?1*2")
    assert parse_entry("AB?1*2").has_wildcards
    assert not parse_entry("AB12").has_wildcards


@pytest.mark.parametrize("raw", ["*", "???", "?*?", "- * -"])
def test_entry_of_only_wildcards_is_refused(raw: str) -> None:
    with pytest.raises(PlateError) as caught:
        parse_entry(raw)
    assert caught.value.reason == PlateErrorReason.PATTERN_ONLY_WILDCARDS
    assert "match every plate" in str(caught.value)


def test_entry_length_ignores_stars_but_counts_question_marks() -> None:
    assert parse_entry("A*B*C*D*E*F*G*H*I*J").text == "A*B*C*D*E*F*G*H*I*J"
    with pytest.raises(PlateError) as caught:
        parse_entry("ABCDEFGHI??")
    assert caught.value.reason == PlateErrorReason.PLATE_TOO_LONG


def test_read_normalises_and_keeps_confidences() -> None:
    read = PlateRead("ab-1", (0.9, 0.8, 0.1))
    assert read.text == "AB1"
    assert read.confidences == (0.9, 0.8, 0.1)
    assert read.unknown_mask(0.5) == (False, False, True)
    assert read.unknown_mask(0.85) == (False, True, True)
    assert read.unknown_mask(0.0) == (False, False, False)
    assert PlateRead("AB1").unknown_mask(0.99) == (False, False, False)


def test_read_confidences_count_normalised_characters() -> None:
    with pytest.raises(PlateError) as caught:
        PlateRead("AB-1", (0.9, 0.9, 0.9, 0.9))
    assert caught.value.reason == PlateErrorReason.CONFIDENCE_LENGTH_MISMATCH
    assert "expected one per plate character after normalisation (3)" in str(caught.value)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, math.inf])
def test_read_confidence_out_of_range_is_refused(bad: float) -> None:
    with pytest.raises(PlateError) as caught:
        PlateRead("AB1", (0.9, bad, 0.9))
    assert caught.value.reason == PlateErrorReason.CONFIDENCE_OUT_OF_RANGE


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"max_edits": -1}, PlateErrorReason.POLICY_MAX_EDITS_OUT_OF_RANGE),
        ({"max_edits": 4}, PlateErrorReason.POLICY_MAX_EDITS_OUT_OF_RANGE),
        ({"min_confidence": 1.01}, PlateErrorReason.POLICY_CONFIDENCE_OUT_OF_RANGE),
        ({"min_confidence": math.nan}, PlateErrorReason.POLICY_CONFIDENCE_OUT_OF_RANGE),
    ],
)
def test_policy_validation(kwargs: dict[str, float], reason: PlateErrorReason) -> None:
    with pytest.raises(PlateError) as caught:
        MatchPolicy(**kwargs)  # type: ignore[arg-type]
    assert caught.value.reason == reason


def test_policy_defaults() -> None:
    assert MatchPolicy() == MatchPolicy(max_edits=1, min_confidence=0.5, lookalikes=True)


def test_lookalike_table_is_disjoint_and_inside_alphabet() -> None:
    seen: set[str] = set()
    for group in LOOKALIKE_CLASSES:
        assert set(group) <= ALPHABET
        assert not seen & set(group)
        seen |= set(group)
    for required in ("0ODQ", "1IL", "2Z", "5S", "8B", "6G"):
        assert len({fold_plate(ch) for ch in required}) == 1


def test_fold_plate_maps_lookalikes_to_one_representative() -> None:
    assert fold_plate("O0DQ") == "0000"
    assert fold_plate("BIZSG") == fold_plate("81256")
    assert fold_plate("AXY") == "AXY"
