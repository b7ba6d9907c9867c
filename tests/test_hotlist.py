"""Issue 17: a camera gateway must not be able to read the hotlist (P8, P10, P14).

Through the real server on loopback: reads too uncertain to name a vehicle are refused before the
index is consulted, and the refusal never quotes the read.
"""

from __future__ import annotations

import grpc
import pytest

from benchmarks.plate_read_share import widest_share
from matcher.client import MatcherError
from tests.conftest import Harness

# Three open cases, nine entries (the shape of the probe).
HOTLIST = {
    "a": ["AB123CD", "KRW301", "XY987ZW"],
    "b": ["MO4471", "PT55ZZ", "QQ12AB3"],
    "c": ["LKJ2023", "ZZ0815", "HG66RT"],
}


def _hotlist(h: Harness) -> None:
    for case_id, plates in HOTLIST.items():
        h.client.create_case(case_id, f"Case {case_id}", reason="opened by the duty sergeant")
        for plate in plates:
            h.client.add_plate(case_id, plate, reason="vehicle of interest")


def _refusal(call) -> MatcherError:  # type: ignore[no-untyped-def]
    with pytest.raises(MatcherError) as error:
        call()
    return error.value


def test_P8_all_uncertain_reads_from_a_gateway_recover_nothing(harness: Harness) -> None:
    """The issue's attack: ten reads whose every character is below the threshold."""
    _hotlist(harness)
    camera = harness.as_("local-camera")
    every_plate = [p for plates in HOTLIST.values() for p in plates]
    for number, length in enumerate((5, 6, 6, 7, 7, 8, 6, 7, 5, 6)):
        text = ("AAAAAAAAAA" if number % 2 else "0000000000")[:length]
        refusal = _refusal(
            lambda text=text, length=length: camera.check_plate(
                text, confidences=[0.1] * length, camera="lpr-07", reason="hotlist check"
            )
        )
        assert (refusal.code, refusal.reason, refusal.rule) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "READ_TOO_UNCERTAIN",
            "P8",
        )
        assert f"{length} of the read's {length} characters" in refusal.details
        assert "at most 2 may be" in refusal.details
        assert text not in refusal.details and not any(p in refusal.details for p in every_plate)
    records = harness.audit("plates.check")
    assert [r.code for r in records] == ["READ_TOO_UNCERTAIN"] * 10
    for record in records:  # P7, P8: the refusal's record holds neither the read nor an entry.
        stored = record.detail_json + record.resource + record.reason
        assert not any(p in stored for p in every_plate) and "AAAAA" not in stored and "00000" not in stored


def test_P8_a_read_must_anchor_enough_characters(harness: Harness) -> None:
    """Unknown characters plus the edit budget may not leave fewer than 4 that must match."""
    _hotlist(harness)
    investigator = harness.client
    # 7 characters, 2 unknown, 1 edit: 4 anchored, checked (and it hits).
    fine = investigator.check_plate(
        "AB1X3CX", confidences=[0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1], case_ids=["a"], reason="LPR read"
    )
    assert [h.plate for h in fine.results[0].hits] == ["AB123CD"]
    # 6 characters, 2 unknown, 1 edit: 3 anchored, refused whoever asks.
    refusal = _refusal(
        lambda: investigator.check_plate(
            "KRW3XX", confidences=[0.9, 0.9, 0.9, 0.9, 0.1, 0.1], case_ids=["a"], reason="r"
        )
    )
    assert refusal.reason == "READ_TOO_UNCERTAIN"
    assert "leave 3 that must match; at least 4 must" in refusal.details
    # All known, but three edits on six characters: 3 anchored.
    refusal = _refusal(lambda: investigator.check_plate("KRW301", max_edits=3, case_ids=["a"], reason="r"))
    assert refusal.reason == "READ_TOO_UNCERTAIN" and "KRW301" not in refusal.details


def test_P8_the_limits_are_settings(tmp_path, backend: str) -> None:  # type: ignore[no-untyped-def]
    """A deployment may tighten (or loosen) the bound; the refusal names the configured limit."""
    from tests.conftest import running_server

    with running_server(tmp_path / "data", backend, plate_max_unknown=0, plate_min_anchored=6) as h:
        h.client.create_case("a", "A", reason="r")
        h.client.add_plate("a", "AB123CD", reason="r")
        refusal = _refusal(
            lambda: h.client.check_plate(
                "AB123CD", confidences=[0.9] * 6 + [0.1], case_ids=["a"], reason="r", max_edits=0
            )
        )
        assert "at most 0 may be" in refusal.details
        refusal = _refusal(lambda: h.client.check_plate("AB123C", case_ids=["a"], reason="r"))
        assert "at least 6 must" in refusal.details
        assert h.client.check_plate("AB123CD", case_ids=["a"], reason="r").results[0].hits


def test_P8_no_allowed_read_matches_a_large_share_of_a_watchlist() -> None:
    """The rule's figure, measured: reads anchoring at least 4 characters (the default) match at
    most about half a percent of a random watchlist; 2 anchored characters would match a tenth."""
    share = widest_share(entries=4000, trials=6)
    assert max(v for anchored, v in share.items() if anchored >= 4) < 0.01
    assert share[2] > 0.05  # the bound is what keeps it small
