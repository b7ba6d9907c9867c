"""Plate watchlists through the real server: P1 to add, hits explained, P2/P3 purge, P7 reads."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import func, select

from lifecycle import models as m
from matcher.client import MatcherError
from matcher.v1 import plates_pb2
from tests.conftest import Harness, open_case_with_subject, wait_until


def _rows(h: Harness) -> int:
    with h.app.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(m.PlateEntry)) or 0)


def test_P1_plate_entries_need_an_open_case_and_a_targetable_subject(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.create_subject("c-1", "witness", "witness", reason="r")
    entry = harness.client.add_plate(
        "c-1",
        "ab 123-cd",
        subject_id="poi-1",
        region="mo",
        note="silver hatchback",
        reason="vehicle seen at the scene",
    )
    assert entry.pattern == "AB123CD" and entry.plate == "ab 123-cd" and entry.region == "MO"
    assert entry.subject == "cases/c-1/subjects/poi-1"
    with pytest.raises(MatcherError) as error:
        harness.client.add_plate("c-1", "XYZ999", subject_id="witness", reason="r")
    assert (error.value.code, error.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SUBJECT_ROLE_NOT_TARGETABLE",
    )
    harness.client.close_case("c-1", reason="closed")
    with pytest.raises(MatcherError) as error:
        harness.client.add_plate("c-1", "XYZ999", reason="r")
    assert error.value.reason == "CASE_CLOSED"
    assert [r.code for r in harness.audit("plate.add")] == ["", "SUBJECT_ROLE_NOT_TARGETABLE", "CASE_CLOSED"]


@pytest.mark.parametrize(
    ("plate", "reason"),
    [
        ("", "PLATE_EMPTY"),
        ("- -", "PLATE_EMPTY"),
        ("ABCDEFGHIJKL", "PLATE_TOO_LONG"),
        ("AB€12", "PLATE_BAD_CHARACTER"),
        ("*?*", "PATTERN_ONLY_WILDCARDS"),
    ],
)
def test_bad_plates_are_refused_and_nothing_stored(harness: Harness, plate: str, reason: str) -> None:
    open_case_with_subject(harness)
    with pytest.raises(MatcherError) as error:
        harness.client.add_plate("c-1", plate, reason="r")
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert _rows(harness) == 0


def test_hits_say_how_they_matched(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.add_plate("c-1", "AB123CD", subject_id="poi-1", reason="r")
    harness.client.add_plate("c-1", "KR?30*", reason="witness saw part of it")
    exact = harness.client.check_plate("ab-123 cd", case_ids=["c-1"], reason="LPR read")
    assert [(h.plate, plates_pb2.PlateHit.Kind.Name(h.kind)) for h in exact.results[0].hits] == [
        ("AB123CD", "EXACT")
    ]
    assert exact.results[0].hits[0].subject == "cases/c-1/subjects/poi-1"
    lookalike = harness.client.check_plate("A8I23CD", case_ids=["c-1"], reason="r")
    [hit] = lookalike.results[0].hits
    assert plates_pb2.PlateHit.Kind.Name(hit.kind) == "LOOKALIKE" and hit.distance == 0
    assert [e.description for e in hit.edits] == ["B->8 at 2", "1->I at 3"]
    edited = harness.client.check_plate("AB128CD", case_ids=["c-1"], reason="r")
    assert (
        plates_pb2.PlateHit.Kind.Name(edited.results[0].hits[0].kind) == "EDITED"
        and edited.results[0].hits[0].distance == 1
    )
    partial = harness.client.check_plate("KRW301", case_ids=["c-1"], reason="r")
    assert [h.plate for h in partial.results[0].hits] == ["KR?30*"]
    assert harness.client.check_plate("ZZZ999", case_ids=["c-1"], reason="r").results[0].hits == []
    uncertain = harness.client.check_plate(
        "AB1X3CD", confidences=[0.9, 0.9, 0.9, 0.2, 0.9, 0.9, 0.9], case_ids=["c-1"], reason="r", max_edits=0
    )
    assert list(uncertain.results[0].hits[0].unknown_positions) == [4]


def test_camera_reads_check_every_open_case_and_are_not_kept(harness: Harness) -> None:
    for case_id in ("a", "b"):
        harness.client.create_case(case_id, case_id, reason="r")
        harness.client.add_plate(case_id, "AB123CD", reason="r")
    camera = harness.as_("local-camera")
    answer = camera.check_plate("AB123CD", camera="lpr-07", reason="hotlist check")
    # Issue 17: the gateway learns that the read hit, not where (the hits are stored per case).
    [result] = answer.results
    assert result.hit and result.hit_reference and list(result.hits) == []
    assert sorted(c for c in ("a", "b") for _ in harness.client.list_plate_hits(c)) == ["a", "b"]
    [record] = harness.audit("plates.check")
    assert record.count == 2 and "AB123CD" not in record.detail_json + record.resource  # P8
    assert _rows(harness) == 2  # P7: the read added no entry
    assert camera.check_plate("ZZZ999", camera="lpr-07", reason="r").results[0].hit is False


def test_read_refusals(harness: Harness) -> None:
    open_case_with_subject(harness)
    cases = [
        ({"text": "AB12", "confidences": [0.9]}, "CONFIDENCE_LENGTH_MISMATCH"),
        ({"text": "AB?12"}, "PLATE_BAD_CHARACTER"),
        ({"text": "AB12", "max_edits": 7}, "POLICY_MAX_EDITS_OUT_OF_RANGE"),
        ({"text": ""}, "PLATE_EMPTY"),
    ]
    for kwargs, reason in cases:
        with pytest.raises(MatcherError) as error:
            harness.client.check_plate(case_ids=["c-1"], reason="r", **kwargs)  # type: ignore[arg-type]
        assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    with pytest.raises(MatcherError) as error:
        harness.client.check_plate("AB12", case_ids=["c-1"], reason="")
    assert error.value.reason == "REASON_REQUIRED"


def test_P2_released_subject_plates_stop_matching_and_are_purged(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.add_plate("c-1", "AB123CD", subject_id="poi-1", reason="r")
    harness.client.add_plate("c-1", "XY987ZW", reason="r")
    harness.client.release_subject("c-1", "poi-1", reason="cleared")
    assert harness.client.check_plate("AB123CD", case_ids=["c-1"], reason="r").results[0].hits == []
    assert wait_until(lambda: all(p.state == p.DONE for p in harness.client.list_purges("c-1")))
    [purge] = harness.client.list_purges("c-1")
    assert purge.plate_entry_count == 1
    assert [e.plate for e in harness.client.list_plates("c-1")] == ["XY987ZW"]
    assert harness.client.check_plate("XY987ZW", case_ids=["c-1"], reason="r").results[0].hits


def test_P3_closed_case_plates_are_purged_and_not_rebuilt(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.add_plate("c-1", "AB123CD", reason="r")
    harness.client.close_case("c-1", reason="closed")
    assert harness.as_("local-camera").check_plate("AB123CD", reason="camera").results[0].hits == []
    assert wait_until(lambda: _rows(harness) == 0)
    assert harness.app.plates.rebuild() == 0
    assert wait_until(lambda: bool(harness.audit("purge.receipt")))  # two steps after the rows
    receipt = harness.audit("purge.receipt")[0]
    assert '"plate_entries":1' in receipt.detail_json


def test_remove_entry(harness: Harness) -> None:
    open_case_with_subject(harness)
    entry = harness.client.add_plate("c-1", "AB123CD", reason="r")
    entry_id = entry.name.rsplit("/", 1)[-1]
    harness.client.remove_plate("c-1", entry_id, reason="entered in error")
    assert harness.client.list_plates("c-1") == []
    assert harness.client.check_plate("AB123CD", case_ids=["c-1"], reason="r").results[0].hits == []
    with pytest.raises(MatcherError) as error:
        harness.client.remove_plate("c-1", entry_id, reason="again")
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.NOT_FOUND, "PLATE_ENTRY_NOT_FOUND")


def test_cli_plates_add_list_check_remove(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    from matcher.cli import main

    def cli(*args: str) -> tuple[int, str]:
        code = main(
            ["--target", harness.target, "--token-file", str(harness.data_dir / "client.token"), *args]
        )
        return code, capsys.readouterr().out

    open_case_with_subject(harness)
    code, out = cli(
        "plates", "add", "c-1", "AB 123 CD", "--subject", "poi-1", "--region", "MO", "--reason", "r"
    )
    assert code == 0 and "AB123CD" in out
    entry_id = out.splitlines()[2].split()[0]
    code, out = cli("plates", "check", "AB-I23-CD", "--case", "c-1", "--reason", "LPR")
    assert code == 0 and "1 hit(s)" in out and "1->I at 3" in out and "LOOKALIKE" in out
    code, out = cli("plates", "list", "c-1")
    assert entry_id in out
    # A camera gateway's read: "hit" and a reference, which the case's investigator sees.
    code = main(
        [
            "--target",
            harness.target,
            "--token-file",
            str(harness.data_dir / "tokens" / "local-camera.token"),
            *("plates", "check", "AB123CD", "--camera", "lpr-07", "--reason", "hotlist"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "read AB123CD: hit, reference " in out and "c-1" not in out
    reference = out.split("reference ")[1].strip()
    code, out = cli("plates", "hits", "c-1")
    assert code == 0 and reference in out and "lpr-07" in out and "EXACT" in out
    code, out = cli("plates", "remove", "c-1", entry_id, "--reason", "error")
    assert code == 0
    code, out = cli("--json", "plates", "list", "c-1")
    assert out.strip() == "[]"
