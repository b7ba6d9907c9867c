"""Issue 17: a camera gateway must not be able to read the hotlist (P8, P10, P14).

Through the real server on loopback: reads too uncertain to name a vehicle are refused before the
index is consulted, and the refusal never quotes the read; a gateway's hit tells it only that the
read hit (the hit is stored for the case's investigators, and purged with the case); a sighting's
answer never says whether a face matched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import numpy as np
import pytest
from sqlalchemy import func, select

from benchmarks.plate_read_share import widest_share
from lifecycle import models as m
from matcher.client import MatcherClient, MatcherError, _timestamp, embedding
from matcher.v1 import plates_pb2, sightings_pb2
from tests.conftest import START, Harness, near, unit, wait_until

# Three open cases, nine entries (the shape of the issue's probe).
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


CAPTURED = datetime(2026, 3, 1, 8, 59, 30, tzinfo=UTC)


def _hit_rows(h: Harness, case_id: str | None = None) -> int:
    with h.app.db.transaction() as session:
        query = select(func.count()).select_from(m.PlateHitRecord)
        if case_id is not None:
            query = query.where(m.PlateHitRecord.case_id == case_id)
        return int(session.scalar(query) or 0)


def _second_investigator(h: Harness, case_id: str) -> MatcherClient:
    """det-2: an investigator of department "local", approved by its head, assigned one case."""
    admin = h.as_("local-admin")
    admin.create_principal("det-2", display_name="Detective Two", department="local", reason="new hire")
    admin.grant_role("det-2", "investigator", reason="detective")
    h.app.auth.issue("det-2", h.data_dir / "tokens" / "det-2.token")
    h.as_("local-head").revalidate("det-2", reason="approved for the robbery squad")
    h.client.assign_case(case_id, "det-2", reason="works the robbery")
    return h.as_("det-2")


def test_P8_a_gateway_hit_names_no_plate_case_or_subject(harness: Harness) -> None:
    """The gateway learns that its read hit and an opaque reference; the case's investigator sees
    the stored hit with the entry, the camera and the time."""
    _hotlist(harness)
    harness.client.create_subject("a", "poi-1", "poi", label="Jane Q. Public", reason="seen twice")
    harness.client.add_plate("a", "ST0LEN1", subject_id="poi-1", reason="her car")
    camera = harness.as_("local-camera")
    answer = camera.check_plate("ST0LEN1", camera="lpr-07", capture_time=CAPTURED, reason="hotlist check")
    [result] = answer.results
    assert result.hit and len(result.hit_reference) == 16 and list(result.hits) == []
    wire = answer.SerializeToString()
    for secret in (b"cases/", b"poi-1", b"Jane", b"plateEntries", b"subjects"):
        assert secret not in wire
    # Only the gateway's own read comes back, nothing of the entry.
    assert result.read == "ST0LEN1" and wire.count(b"ST0LEN1") == 1

    [stored] = harness.client.list_plate_hits("a")
    assert stored.hit_reference == result.hit_reference
    assert stored.name.startswith("cases/a/plateHits/")
    assert (stored.plate, stored.read, stored.camera, stored.reported_by) == (
        "ST0LEN1",
        "ST0LEN1",
        "lpr-07",
        "local-camera",
    )
    assert stored.subject == "cases/a/subjects/poi-1" and stored.plate_entry.startswith(
        "cases/a/plateEntries/"
    )
    assert stored.capture_time.ToDatetime(tzinfo=UTC) == CAPTURED
    assert plates_pb2.PlateHit.Kind.Name(stored.match.kind) == "EXACT"
    assert harness.client.list_plate_hits("b") == []
    # Investigators checking a read themselves keep the full answer (and nothing is stored).
    own = harness.client.check_plate("ST0LEN1", case_ids=["a"], reason="LPR read, Olive St")
    assert [h.plate for h in own.results[0].hits] == ["ST0LEN1"] and own.results[0].hit
    assert own.results[0].hit_reference == "" and _hit_rows(harness) == 1


def test_P10_an_investigator_of_another_case_does_not_see_the_hit(harness: Harness) -> None:
    _hotlist(harness)
    other = _second_investigator(harness, "b")
    camera = harness.as_("local-camera")
    assert camera.check_plate("AB123CD", camera="lpr-07", reason="hotlist check").results[0].hit
    assert len(harness.client.list_plate_hits("a")) == 1
    refusal = _refusal(lambda: other.list_plate_hits("a"))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.PERMISSION_DENIED, "CASE_NOT_ASSIGNED")
    assert other.list_plate_hits("b") == []
    # Nor does their own check of their case reveal the other case's entry.
    assert other.check_plate("AB123CD", case_ids=["b"], reason="r").results[0].hits == []
    # The gateway may not list hits at all.
    assert _refusal(lambda: camera.list_plate_hits("a")).reason == "ROLE_NOT_PERMITTED"


def test_P10_a_gateway_names_no_case(harness: Harness) -> None:
    """Naming a case would tell the gateway which cases exist and are open: refused alike."""
    _hotlist(harness)
    camera = harness.as_("local-camera")
    answers = [
        _refusal(lambda c=c: camera.check_plate("AB123CD", case_ids=[c], camera="lpr-07", reason="r"))
        for c in ("a", "no-such-case")
    ]
    assert {(e.code, e.reason, e.details) for e in answers} == {
        (grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID", answers[0].details)
    }
    assert _hit_rows(harness) == 0


def test_P3_stored_hits_are_purged_when_the_case_closes(harness: Harness) -> None:
    _hotlist(harness)
    camera = harness.as_("local-camera")
    for plate in ("AB123CD", "MO4471"):
        assert camera.check_plate(plate, camera="lpr-07", reason="hotlist check").results[0].hit
    assert (_hit_rows(harness, "a"), _hit_rows(harness, "b")) == (1, 1)
    harness.client.close_case("a", reason="solved")
    assert wait_until(lambda: _hit_rows(harness, "a") == 0)
    assert harness.client.list_plate_hits("a") == []
    assert _hit_rows(harness, "b") == 1  # another case's hits are untouched


def test_P2_stored_hits_go_with_their_subject_and_their_entry(harness: Harness) -> None:
    _hotlist(harness)
    harness.client.create_subject("a", "poi-1", "poi", label="POI", reason="r")
    harness.client.add_plate("a", "ST0LEN1", subject_id="poi-1", reason="her car")
    camera = harness.as_("local-camera")
    for plate in ("ST0LEN1", "AB123CD", "KRW301"):
        assert camera.check_plate(plate, camera="lpr-07", reason="hotlist check").results[0].hit
    assert _hit_rows(harness, "a") == 3
    harness.client.release_subject("a", "poi-1", reason="cleared")
    assert wait_until(lambda: _hit_rows(harness, "a") == 2)
    [krw] = [e for e in harness.client.list_plates("a") if e.plate == "KRW301"]
    harness.client.remove_plate("a", krw.name.rsplit("/", 1)[-1], reason="entered in error")
    assert [h.plate for h in harness.client.list_plate_hits("a")] == ["AB123CD"]


def test_P8_audit_records_of_gateway_checks_hold_no_plate_text(harness: Harness) -> None:
    _hotlist(harness)
    camera = harness.as_("local-camera")
    assert camera.check_plate("AB123CD", camera="lpr-07", reason="hotlist check").results[0].hit
    assert not camera.check_plate("ZZZ9999", camera="lpr-07", reason="hotlist check").results[0].hit
    harness.client.list_plate_hits("a")
    checks = harness.audit("plates.check")
    assert [(r.count, r.actor) for r in checks] == [(1, "local-camera"), (0, "local-camera")]
    assert '"hits_stored":1' in checks[0].detail_json
    [listing] = harness.audit("plate.hits")
    assert listing.count == 1 and listing.resource == "cases/a"
    for record in harness.audit():
        stored = record.detail_json + record.resource + record.reason
        assert "AB123CD" not in stored and "ZZZ9999" not in stored


def _order_over_camera(h: Harness, face: np.ndarray) -> MatcherClient:
    """cam-1 in zone "park" watched by local-operator; order o-1 over it with ``face`` enrolled."""
    admin, registry = h.as_("local-admin"), h.as_("local-registry")
    admin.create_camera("cam-1", description="park gate", reason="installed")
    admin.create_zone("park", ["cam-1"], description="Forest Park", reason="zone")
    admin.set_operator_zones("local-operator", ["park"], reason="park desk")
    registry.create_order(
        "o-1",
        label="RI-7",
        legal_reference="Circuit Court 26-PO-77",
        zones=["park"],
        start=START - timedelta(hours=1),
        end=START + timedelta(days=30),
        reason="order of protection",
    )
    registry.enroll_order_face("o-1", face, reason="photo from the order file")
    return h.as_("local-camera")


def test_P8_a_sighting_answer_does_not_tell_the_gateway_who_was_seen(harness: Harness) -> None:
    """A matching and a non-matching sighting get the same answer; the alert goes to the operator."""
    face = unit(101)
    camera = _order_over_camera(harness, face)
    matching = camera.report_sighting("cam-1", START, [near(face, 7)], reason="zone monitoring")
    stranger = camera.report_sighting("cam-1", START, [unit(202)], reason="zone monitoring")
    assert matching.SerializeToString() == stranger.SerializeToString()
    assert matching.accepted and matching.faces == 1
    [alert] = list(harness.as_("local-operator").subscribe_alerts(timeout=3))
    assert alert.person_label == "RI-7" and alert.camera == "cameras/cam-1"

    def feed() -> Iterator[sightings_pb2.Sighting]:
        for seconds, probe in [(10, near(face, 3)), (20, unit(303)), (30, near(face, 4))]:
            yield sightings_pb2.Sighting(
                camera="cameras/cam-1",
                capture_time=_timestamp(START + timedelta(seconds=seconds)),
                faces=[embedding(probe)],
                reason="feed",
            )
        yield sightings_pb2.Sighting(camera="cameras/nowhere", capture_time=_timestamp(START), reason="feed")

    summary = camera.stream_sightings(feed())
    assert (summary.sightings, summary.accepted, summary.refused) == (4, 3, 1)
    assert [(r.index, r.reason) for r in summary.refusals] == [(3, "CAMERA_NOT_FOUND")]
    fields = {f.name for f, _ in summary.ListFields()}
    assert fields <= {"sightings", "faces", "accepted", "refused", "first_refusal", "refusals"}
    assert b"RI-7" not in summary.SerializeToString() and b"o-1" not in summary.SerializeToString()


def test_P16_a_gateway_that_keeps_sending_uncertain_reads_is_suspended(tmp_path, backend: str) -> None:  # type: ignore[no-untyped-def]
    """Three refusals within the window (configured): checks suspended, the designee told once,
    other principals unaffected, lifted when the window has passed."""
    from tests.conftest import running_server

    with running_server(
        tmp_path / "data", backend, plate_max_uncertain_reads=3, plate_uncertain_window_seconds=600
    ) as h:
        _hotlist(h)
        camera = h.as_("local-camera")
        seen: list[str] = []

        def watch() -> None:
            for notice in h.as_("local-admin").watch_notices(timeout=4):
                seen.append(f"{notice.kind} {notice.principal} {notice.reason}")

        watcher = threading.Thread(target=watch)
        watcher.start()
        assert wait_until(lambda: bool(h.audit("notices.watch")))
        for _ in range(3):
            refusal = _refusal(lambda: camera.check_plate("AB123CD", confidences=[0.1] * 7, reason="r"))
            assert refusal.reason == "READ_TOO_UNCERTAIN"
        refusal = _refusal(lambda: camera.check_plate("AB123CD", camera="lpr-07", reason="r"))
        assert (refusal.code, refusal.reason, refusal.rule) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "PLATE_CHECKS_SUSPENDED",
            "P16",
        )
        assert "AB123CD" not in refusal.details
        assert h.client.check_plate("AB123CD", case_ids=["a"], reason="r").results[0].hits  # others work
        watcher.join()
        assert seen == ["probing principals/local-camera PLATE_CHECKS_SUSPENDED"]
        assert [r.code for r in h.audit("plates.check")][-2:] == ["PLATE_CHECKS_SUSPENDED", ""]
        h.clock.advance(timedelta(seconds=601))
        assert camera.check_plate("AB123CD", camera="lpr-07", reason="r").results[0].hit


def test_P8_the_case_investigator_is_told_of_a_gateway_hit_at_once(harness: Harness) -> None:
    """WatchPlateHits: the alert of a gateway's hit reaches the case's investigators, and only
    them; a resumed watch sends the hits after the token first."""
    _hotlist(harness)
    other = _second_investigator(harness, "b")
    got: dict[str, list[plates_pb2.StoredPlateHit]] = {"a": [], "b": []}
    streams = {
        "a": harness.client.watch_plate_hits("a", timeout=6),
        "b": other.watch_plate_hits("b", timeout=6),
    }
    threads = [threading.Thread(target=lambda c=c: got[c].extend(streams[c])) for c in streams]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: len(harness.audit("plate.hits.watch")) == 2)
    camera = harness.as_("local-camera")
    answer = camera.check_plate("AB123CD", camera="lpr-07", capture_time=CAPTURED, reason="hotlist check")
    assert wait_until(lambda: len(got["a"]) == 1)
    [live] = got["a"]
    assert (live.plate, live.camera, live.hit_reference) == (
        "AB123CD",
        "lpr-07",
        answer.results[0].hit_reference,
    )
    for stream in streams.values():
        stream.cancel()
    for thread in threads:
        thread.join()
    assert got["b"] == []  # another case's investigator hears nothing
    refusal = _refusal(lambda: list(other.watch_plate_hits("a", timeout=2)))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.PERMISSION_DENIED, "CASE_NOT_ASSIGNED")
    # Resuming from before the hit sends it again, then waits for live ones.
    camera.check_plate("XY987ZW", camera="lpr-08", reason="hotlist check")
    resumed = [h.plate for h in harness.client.watch_plate_hits("a", live.resume_token, timeout=2)]
    assert resumed == ["XY987ZW"]


def test_P9_stored_hits_are_kept_30_days_unless_a_legal_hold_holds_the_case(harness: Harness) -> None:
    _hotlist(harness)
    camera = harness.as_("local-camera")
    for plate in ("AB123CD", "MO4471"):
        assert camera.check_plate(plate, camera="lpr-07", reason="hotlist check").results[0].hit
    harness.client.place_legal_hold(
        "b",
        authority_kind="court-order",
        authority="Circuit Court 26-CR-88",
        placed_by="Judge Rivera",
        until=START + timedelta(days=45),
        reason="evidence for trial",
    )
    harness.clock.advance(timedelta(days=29))
    harness.app.worker.run_due()  # synchronously: nothing is due yet
    assert (_hit_rows(harness, "a"), _hit_rows(harness, "b")) == (1, 1)
    harness.clock.advance(timedelta(days=1, seconds=1))
    assert wait_until(lambda: _hit_rows(harness, "a") == 0)
    assert _hit_rows(harness, "b") == 1  # P4: held
    [record] = harness.audit("plate.hits.expire")
    assert (record.resource, record.count, record.actor) == ("cases/a", 1, "system:purge-worker")
    assert '"rule":"P9"' in record.detail_json
    harness.clock.advance(timedelta(days=16))  # the hold has ended
    assert wait_until(lambda: _hit_rows(harness, "b") == 0)


def test_P8_a_bound_out_of_range_stops_the_start_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    from pathlib import Path

    from tests.serverproc import free_port

    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "matcher.cli", "serve", "--listen", f"127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        cwd=repo,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(repo),
            "HOME": str(tmp_path),
            "MATCHER_DATA_DIR": str(tmp_path / "data"),
            "MATCHER_PLATE_MAX_UNKNOWN": "11",
        },
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    [error] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "MATCHER_PLATE_MAX_UNKNOWN must be 0-10" in error
