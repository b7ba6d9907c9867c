"""P1, P15: a Director's waiver lets a missing-person search run outside any case, and nothing more.

Over a real gRPC server: without the waiver the search is refused; inside it, the face is
enrolled into the waiver's own scope (own key, own gallery scope) and found; when the waiver ends
(the policy clock moves past its end) or is revoked, the search is refused at once and the
durable purge leaves nothing (no key, no template, no copy in memory), with its receipt. A waiver
nothing would apply (a case, another rule) is refused instead of being recorded.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import create_engine, func, select

from lifecycle import search_models as w
from lifecycle.report import build_report
from matcher.client import MatcherClient, MatcherError
from matcher.transport.auth import Authenticator
from matcher.v1 import cases_pb2
from tests.conftest import (
    BACKENDS,
    START,
    Harness,
    database_url,
    near,
    open_case_with_subject,
    unit,
    wait_until,
)
from tests.serverproc import ServerProcess

DAY = timedelta(days=1)
CHILD = unit(31)
DIRECTOR = "dir-ps"


def director(h: Harness) -> MatcherClient:
    admin = h.as_("local-admin")
    admin.create_principal(
        DIRECTOR, display_name="Director of Public Safety", department="local", reason="office"
    )
    admin.grant_role(DIRECTOR, "public_safety_director", reason="the office")
    h.app.auth.issue(DIRECTOR, h.data_dir / "tokens" / f"{DIRECTOR}.token")
    return h.as_(DIRECTOR)


def grant(client: MatcherClient, scope: str = "searches/missing-1", days: float = 3, rule: str = "P1") -> Any:
    return client.grant_waiver(
        rule=rule,
        scope=scope,
        justification="a child missing since this morning, believed in danger",
        reason_kind="life",
        end=START + timedelta(days=days),
        reason="life",
    )


def refused(call: Any) -> MatcherError:
    with pytest.raises(MatcherError) as error:
        call()
    return error.value


def rows(h: Harness, table: Any, waiver_id: str) -> int:
    with h.app.db.reading() as session:
        return int(
            session.scalar(select(func.count()).select_from(table).where(table.waiver_id == waiver_id)) or 0
        )


def search(h: Harness, name: str, face: Any = CHILD) -> list[Any]:
    return list(
        h.client.search_waiver_faces(name, near(face, 5), reason="CCTV still, bus station").results[0].matches
    )


def test_P1_P15_refused_without_the_waiver(harness: Harness) -> None:
    h = harness
    for name in ("waivers/nope", "waivers/0123456789abcdef"):
        error = refused(
            lambda name=name: h.client.enroll_waiver_face(name, CHILD, label="MISSING-1", reason="r")
        )
        assert (error.code, error.reason, error.rule) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "WAIVER_REQUIRED",
            "P1",
        )
        assert refused(lambda name=name: search(h, name)).reason == "WAIVER_REQUIRED"
    # A waiver nothing would apply is refused, not recorded as if it did something.
    d = director(h)
    open_case_with_subject(h)
    no_effect = refused(lambda: grant(d, scope="cases/c-1"))
    assert (no_effect.reason, no_effect.rule) == ("WAIVER_HAS_NO_EFFECT", "P15")
    assert "P1 for searches/<id>" in no_effect.details
    assert refused(lambda: grant(d, rule="P5")).reason == "WAIVER_HAS_NO_EFFECT"
    assert not d.list_waivers()
    # A waiver of another scope, or one not yet started, lets nothing run either.
    later = d.grant_waiver(
        rule="P1",
        scope="searches/later",
        justification="planned",
        reason_kind="safety",
        start=START + DAY,
        end=START + 2 * DAY,
        reason="r",
    )
    assert refused(lambda: search(h, later.name)).reason == "WAIVER_REQUIRED"


def test_P1_P15_inside_the_waiver_its_own_scope(harness: Harness) -> None:
    h = harness
    waiver = grant(director(h))
    assert waiver.state == "active"
    face = h.client.enroll_waiver_face(waiver.name, CHILD, label="MISSING-1", reason="photo from the family")
    assert face.name.startswith(f"{waiver.name}/faces/") and face.label == "MISSING-1"
    [match] = search(h, waiver.name)
    assert (match.face, match.label) == (face.name, "MISSING-1") and match.score > 0.9
    assert not search(h, waiver.name, face=unit(77))  # somebody else
    # Its own scope: a case search never sees the child, and a waiver search never sees a case.
    open_case_with_subject(h)
    h.client.enroll_face("c-1", "poi-1", unit(32), reason="booking photo")
    assert not h.client.search_faces(["c-1"], near(CHILD, 5), reason="r").results[0].matches
    assert not search(h, waiver.name, face=unit(32))
    assert rows(h, w.WaiverKey, waiver.name.split("/")[1]) == 1
    # Audited: that a search ran, under which waiver, with how many hits; never whom (P8).
    [record] = [r for r in h.audit("waiver.search") if r.count == 1]
    assert record.resource == waiver.name and "MISSING-1" not in record.detail_json + record.reason
    # The investigators run it; the Director who granted it does not (P10 separation of uses).
    assert refused(lambda: h.as_(DIRECTOR).search_waiver_faces(waiver.name, CHILD, reason="r")).reason == (
        "ROLE_NOT_PERMITTED"
    )


def _purged_completely(h: Harness, waiver_name: str, trigger: str, templates: int) -> None:
    waiver_id = waiver_name.split("/")[1]
    assert wait_until(
        lambda: any(p.waiver == waiver_name and p.state == p.DONE for p in h.client.list_purges())
    )
    [purge] = [p for p in h.client.list_purges() if p.waiver == waiver_name]
    assert (cases_pb2.Purge.Trigger.Name(purge.trigger), purge.face_template_count) == (trigger, templates)
    assert rows(h, w.WaiverTemplate, waiver_id) == 0
    assert rows(h, w.WaiverKey, waiver_id) == 0
    assert not h.app.faces.contains_vector(CHILD)
    [receipt] = [r for r in h.audit("purge.receipt") if r.resource == waiver_name]
    assert (receipt.code, receipt.count, json.loads(receipt.detail_json)["rule"]) == (
        trigger.lower(),
        templates,
        "P15",
    )
    assert refused(lambda: search(h, waiver_name)).reason == "WAIVER_REQUIRED"
    assert (
        refused(
            lambda: h.client.enroll_waiver_face(waiver_name, CHILD, label="MISSING-1", reason="again")
        ).reason
        == "WAIVER_REQUIRED"
    )


def test_P1_P15_refused_and_purged_when_the_waiver_ends(harness: Harness) -> None:
    h = harness
    d = director(h)
    waiver = grant(d, days=3)
    h.client.enroll_waiver_face(waiver.name, CHILD, label="MISSING-1", reason="photo")
    h.client.enroll_waiver_face(waiver.name, near(CHILD, 9), label="MISSING-1", reason="second photo")
    h.clock.set(START + 3 * DAY - timedelta(microseconds=1))
    assert search(h, waiver.name)  # the last instant inside [start, end)
    h.clock.set(START + 3 * DAY)  # the worker wakes at the waiver's end
    _purged_completely(h, waiver.name, "WAIVER_ENDED", 2)
    assert [v.state for v in d.list_waivers()] == ["expired"]
    # The scope is used once: a new waiver cannot bring it back.
    assert refused(lambda: grant(d, days=5)).reason == "WAIVER_SCOPE_PURGED"
    report = build_report(h.app.audit, START, START + 4 * DAY)
    assert report.purges_by_trigger["waiver_ended"] == {"purges": 1, "templates": 2, "plate_entries": 0}
    assert report.figures["waiver_searches"] == 1


def test_P1_P15_refused_at_once_and_purged_when_revoked(harness: Harness) -> None:
    h = harness
    d = director(h)
    waiver = grant(d)
    h.client.enroll_waiver_face(waiver.name, CHILD, label="MISSING-1", reason="photo")
    assert search(h, waiver.name)
    h.clock.set(START + timedelta(hours=5))
    revoked = d.revoke_waiver(waiver.name, reason="the child was found safe")
    assert revoked.state == "revoked"
    assert not h.app.faces.contains_vector(CHILD)  # unmatchable before the reply
    _purged_completely(h, waiver.name, "WAIVER_REVOKED", 1)
    assert refused(lambda: d.revoke_waiver(waiver.name, reason="twice")).reason == "WAIVER_NOT_ACTIVE"


def test_P15_search_templates_come_back_after_a_restart_only_while_the_waiver_lasts(
    harness: Harness,
) -> None:
    h = harness
    waiver = grant(director(h))
    h.client.enroll_waiver_face(waiver.name, CHILD, label="MISSING-1", reason="photo")
    h.app.faces.basis_ended(f"waivers/{waiver.name.split('/')[1]}", None)  # as after a restart: memory empty
    assert not h.app.faces.contains_vector(CHILD)
    assert h.app.waiver_searches.rebuild() == 1
    assert search(h, waiver.name)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_P15_a_waiver_that_ends_while_the_server_is_down_is_purged_before_serving(
    tmp_path: Path, backend: str
) -> None:
    """The durable purge, through a restart: the policy clock (tests/fileclock.py) passes the
    waiver's end while no server runs; the next one purges the search before it reports SERVING,
    and a search still active at a restart is rebuilt into memory."""
    data_dir = tmp_path / "data"
    url = database_url(backend, data_dir)
    server = ServerProcess(data_dir, url, tmp_path / "clock", tmp_path / "server.log")
    server.set_clock(START)
    try:
        server.start()
        server.wait_serving()
        with server.client("local-admin") as admin:
            admin.create_principal(DIRECTOR, display_name="Director", department="local", reason="office")
            admin.grant_role(DIRECTOR, "public_safety_director", reason="the office")
        Authenticator(data_dir / "tokens.json", tls_enabled=False).issue(
            DIRECTOR, data_dir / "tokens" / f"{DIRECTOR}.token"
        )
        with server.client(DIRECTOR) as d:
            kept, doomed = grant(d, "searches/kept", days=5), grant(d, "searches/doomed", days=1)
        with server.client() as investigator:
            for waiver in (kept, doomed):
                investigator.enroll_waiver_face(waiver.name, CHILD, label="MISSING-1", reason="photo")
        server.stop()
        server.set_clock(START + 2 * DAY)  # past the end of one waiver, inside the other
        server.start()
        server.wait_serving()
        with server.client() as investigator:
            [purge] = [p for p in investigator.list_purges() if p.waiver]
            assert (purge.waiver, purge.state) == (doomed.name, purge.DONE), "purged before SERVING"
            assert investigator.search_waiver_faces(kept.name, near(CHILD, 5), reason="r").results[0].matches
            with pytest.raises(MatcherError) as error:
                investigator.search_waiver_faces(doomed.name, CHILD, reason="r")
            assert error.value.reason == "WAIVER_REQUIRED"
    finally:
        server.stop()
    engine = create_engine(url)
    with engine.connect() as connection:
        for table in (w.WaiverTemplate, w.WaiverKey):
            left = connection.execute(
                select(table.waiver_id, func.count()).select_from(table).group_by(table.waiver_id)
            ).all()
            assert dict(left) == {kept.name.split("/")[1]: 1}, table.__tablename__
    engine.dispose()


def test_P1_P15_from_the_cli(harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import numpy as np

    from matcher.cli import main

    h = harness
    waiver = grant(director(h))
    face, still = tmp_path / "child.npy", tmp_path / "still.npy"
    np.save(face, CHILD)
    np.save(still, near(CHILD, 5))

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(["--target", h.target, "--token-file", str(h.data_dir / "client.token"), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, _ = cli(
        "waivers",
        "enroll",
        waiver.name,
        "--embedding",
        str(face),
        "--label",
        "MISSING-1",
        "--reason",
        "family photo",
    )
    assert code == 0 and "MISSING-1" in out
    code, out, _ = cli(
        "--json", "waivers", "search", waiver.name, "--embedding", str(still), "--reason", "CCTV"
    )
    assert code == 0 and json.loads(out)["results"][0]["matches"][0]["label"] == "MISSING-1"
    code, _, err = cli("waivers", "search", "waivers/none", "--embedding", str(still), "--reason", "CCTV")
    assert code == 1 and "WAIVER_REQUIRED" in err
