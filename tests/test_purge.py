"""P2, P3, P4: data becomes unmatchable at the commit that ends its basis, then is destroyed.

The purge worker runs in the server; tests wait for it with a bounded poll, and move the manual
clock instead of sleeping for holds to expire.
"""

from __future__ import annotations

import json
from datetime import timedelta

import grpc
import pytest
from sqlalchemy import func, select

from lifecycle import models as m
from matcher.client import MatcherError
from matcher.v1 import cases_pb2
from tests.conftest import Harness, near, open_case_with_subject, unit, wait_until


def _rows(h: Harness, model: type, **where: object) -> int:
    with h.app.db.transaction() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(session.scalar(query) or 0)


def _done(h: Harness, case_id: str) -> bool:
    purges = h.client.list_purges(case_id)
    return bool(purges) and all(p.state == cases_pb2.Purge.DONE for p in purges)


def _receipts(h: Harness) -> list:  # type: ignore[type-arg]
    return h.audit("purge.receipt")


def test_P3_close_case_makes_templates_unmatchable_and_purges_them(harness: Harness) -> None:
    open_case_with_subject(harness)
    face = unit(1)
    harness.client.enroll_face("c-1", "poi-1", face, reason="r")
    harness.client.enroll_face("c-1", "poi-1", unit(2), reason="r")
    assert harness.client.search_faces(["c-1"], face, reason="r").results[0].matches
    closed = harness.client.close_case("c-1", reason="case closed by the prosecutor")
    assert closed.state == cases_pb2.Case.CLOSED
    assert not harness.app.faces.contains_vector(face)  # Gone from memory before the reply.
    assert wait_until(lambda: _done(harness, "c-1"))
    assert _rows(harness, m.FaceTemplate, case_id="c-1") == 0
    assert _rows(harness, m.DataKey, case_id="c-1") == 0
    [receipt] = _receipts(harness)
    assert receipt.resource == "cases/c-1"
    assert receipt.count == 2
    assert receipt.code == "case_closed"
    assert receipt.reason == "case closed by the prosecutor"
    assert json.loads(receipt.detail_json)["rule"] == "P3"
    with pytest.raises(MatcherError) as error:
        harness.client.search_faces(["c-1"], face, reason="r")
    assert error.value.reason == "CASE_CLOSED"


def test_P2_release_subject_purges_only_that_subject(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.create_subject("c-1", "keep", "suspect", reason="r")
    released_face, kept_face = unit(1), unit(2)
    harness.client.enroll_face("c-1", "poi-1", released_face, reason="r")
    harness.client.enroll_face("c-1", "keep", kept_face, reason="r")
    subject = harness.client.release_subject("c-1", "poi-1", reason="no longer a person of interest")
    assert subject.state == cases_pb2.Subject.RELEASED
    answer = harness.client.search_faces(["c-1"], released_face, reason="r", min_score=-1.0)
    assert [m.subject for m in answer.results[0].matches] == ["cases/c-1/subjects/keep"]
    assert wait_until(lambda: _done(harness, "c-1"))
    [receipt] = _receipts(harness)
    assert (receipt.resource, receipt.count, receipt.code) == (
        "cases/c-1/subjects/poi-1",
        1,
        "subject_released",
    )
    assert _rows(harness, m.FaceTemplate, case_id="c-1") == 1
    assert harness.client.search_faces(["c-1"], kept_face, reason="r").results[0].matches
    assert harness.client.get_subject("c-1", "poi-1").face_template_count == 0


def test_P2_release_is_refused_twice(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.release_subject("c-1", "poi-1", reason="alibi")
    with pytest.raises(MatcherError) as error:
        harness.client.release_subject("c-1", "poi-1", reason="again")
    assert (error.value.code, error.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SUBJECT_RELEASED",
    )


def test_P4_hold_suspends_purge_until_it_expires(harness: Harness) -> None:
    open_case_with_subject(harness)
    face = unit(1)
    harness.client.enroll_face("c-1", "poi-1", face, reason="r")
    end = harness.clock.now() + timedelta(days=30)
    hold = harness.client.place_legal_hold(
        "c-1",
        authority_kind="court-order",
        authority="Circuit Court order 26-CR-0042",
        placed_by="ADA J. Smith",
        until=end,
        reason="evidence preservation for trial",
    )
    assert hold.state == cases_pb2.LegalHold.ACTIVE
    harness.client.close_case("c-1", reason="investigation ended")
    # Closed: unmatchable at once (P3), but kept while the hold lasts (P4).
    with pytest.raises(MatcherError):
        harness.client.search_faces(["c-1"], face, reason="r")
    assert not harness.app.faces.contains_vector(face)
    harness.app.worker.run_due()
    [purge] = harness.client.list_purges("c-1")
    assert purge.state == cases_pb2.Purge.PENDING
    assert purge.held_until.ToDatetime().replace(tzinfo=end.tzinfo) == end
    assert _rows(harness, m.FaceTemplate, case_id="c-1") == 1
    harness.clock.set(end - timedelta(seconds=1))
    harness.app.worker.run_due()
    assert _rows(harness, m.FaceTemplate, case_id="c-1") == 1
    harness.clock.set(end)  # The worker wakes at the hold's end, not on a poll.
    assert wait_until(lambda: _done(harness, "c-1"))
    assert _rows(harness, m.FaceTemplate, case_id="c-1") == 0
    assert harness.client.list_legal_holds("c-1")[0].state == cases_pb2.LegalHold.EXPIRED
    assert len(_receipts(harness)) == 1


def test_P4_lifting_a_hold_lets_the_purge_run(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    hold = harness.client.place_legal_hold(
        "c-1",
        authority_kind="statute",
        authority="RSMo 610.100",
        placed_by="Records custodian",
        until=harness.clock.now() + timedelta(days=90),
        reason="open records request pending",
    )
    harness.client.release_subject("c-1", "poi-1", reason="cleared")
    harness.app.worker.run_due()
    assert _rows(harness, m.FaceTemplate, case_id="c-1") == 1
    hold_id = hold.name.rsplit("/", 1)[-1]
    lifted = harness.client.lift_legal_hold("c-1", hold_id, reason="request withdrawn")
    assert lifted.state == cases_pb2.LegalHold.LIFTED
    assert wait_until(lambda: _done(harness, "c-1"))
    assert _rows(harness, m.FaceTemplate, case_id="c-1") == 0
    with pytest.raises(MatcherError) as error:
        harness.client.lift_legal_hold("c-1", hold_id, reason="again")
    assert error.value.reason == "HOLD_NOT_ACTIVE"
    actions = [r.action for r in harness.audit() if r.action.startswith("hold.")]
    assert actions == ["hold.place", "hold.lift", "hold.lift"]


@pytest.mark.parametrize(
    ("kind", "authority", "placed_by", "days"),
    [
        ("court-order", "", "ADA Smith", 10),
        ("court-order", "Order 1", "", 10),
        ("statute", "RSMo 1", "Custodian", -1),
    ],
    ids=["no-authority", "no-placer", "end-in-past"],
)
def test_P4_hold_must_cite_authority_name_placer_and_end(
    harness: Harness, kind: str, authority: str, placed_by: str, days: int
) -> None:
    open_case_with_subject(harness)
    with pytest.raises(MatcherError) as error:
        harness.client.place_legal_hold(
            "c-1",
            authority_kind=kind,
            authority=authority,
            placed_by=placed_by,
            until=harness.clock.now() + timedelta(days=days),
            reason="r",
        )
    assert (error.value.code, error.value.reason, error.value.rule) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "HOLD_INVALID",
        "P4",
    )
    assert harness.client.list_legal_holds("c-1") == []


def test_P4_hold_after_destruction_is_refused(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    harness.client.close_case("c-1", reason="done")
    assert wait_until(lambda: _done(harness, "c-1"))
    with pytest.raises(MatcherError) as error:
        harness.client.place_legal_hold(
            "c-1",
            authority_kind="court-order",
            authority="Order 7",
            placed_by="Judge",
            until=harness.clock.now() + timedelta(days=1),
            reason="too late",
        )
    assert error.value.reason == "NOTHING_TO_HOLD"


def test_P2_P3_released_and_closed_data_is_not_rebuilt_after_restart(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.create_subject("c-1", "keep", "suspect", reason="r")
    released, kept = unit(1), unit(2)
    harness.client.enroll_face("c-1", "poi-1", released, reason="r")
    harness.client.enroll_face("c-1", "keep", kept, reason="r")
    harness.client.place_legal_hold(
        "c-1",
        authority_kind="court-order",
        authority="Order 9",
        placed_by="Judge",
        until=harness.clock.now() + timedelta(days=5),
        reason="trial",
    )
    harness.client.release_subject("c-1", "poi-1", reason="cleared")
    assert _rows(harness, m.FaceTemplate, case_id="c-1") == 2  # Held in the database...
    harness.app.faces.rebuild()  # ...but a rebuild (as at start-up) loads only the active one.
    assert harness.app.faces.contains_vector(kept)
    assert not harness.app.faces.contains_vector(released)
    assert harness.client.search_faces(["c-1"], near(released, 3), reason="r").results[0].matches == []
