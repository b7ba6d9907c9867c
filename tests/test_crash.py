"""P3 under crashes: ``kill -9`` at every step of a purge, then a restart.

The server is a real subprocess that SIGKILLs itself at a fault point. After a restart the purge
completes before the server reports SERVING, the closed case's template never answers, and the
receipt is in the audit log exactly once. The KEK rotation's steps are fault points too (P18): a
purge killed in its rotation is not done and has no receipt; after the restart exactly one KEK
generation is left and every stored key is wrapped by it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from lifecycle import models as m
from matcher.client import MatcherError
from matcher.kek import KekGenerations, generation_files
from tests.conftest import BACKENDS, START, database_url, near, unit
from tests.serverproc import ServerProcess

FAULT_POINTS = [
    "case.after_close_commit",
    "purge.after_key_destroyed",
    "purge.after_rows_deleted",
    "purge.after_checkpoint",
    "kek.after_generation_written",
    "kek.after_rewrap",
    "kek.after_old_destroyed",
    "purge.after_kek_rotated",
    "purge.after_receipt",
]
# Killed here, the rotation has not finished: the purge must not be done, nor have a receipt.
BEFORE_ROTATION = {
    "case.after_close_commit",
    "purge.after_key_destroyed",
    "purge.after_rows_deleted",
    "purge.after_checkpoint",
    "kek.after_generation_written",
    "kek.after_rewrap",
    "kek.after_old_destroyed",
}
# Killed here, two KEK generations are on disk (the one to retire and the new one).
TWO_GENERATIONS = {"kek.after_generation_written", "kek.after_rewrap"}


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_path / "data"
    proc = ServerProcess(
        data_dir, database_url(request.param, data_dir), tmp_path / "clock", tmp_path / "server.log"
    )
    proc.set_clock(START)
    yield proc
    proc.stop()


def _purge_states(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        states = list(connection.execute(select(m.Purge.state)).scalars())
    engine.dispose()
    return states


def _generations_in_use(url: str) -> set[int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        wrapped = list(
            connection.execute(select(m.DataKey.wrapped).where(m.DataKey.subject_pk.is_(None))).scalars()
        )
    engine.dispose()
    return {KekGenerations.generation_of(blob) for blob in wrapped}


def _count(url: str, model: type, case_id: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(
            select(func.count()).select_from(model).where(model.case_id == case_id)  # type: ignore[attr-defined]
        ).scalar_one()
    engine.dispose()
    return int(value)


@pytest.mark.slow
@pytest.mark.parametrize("fault_point", FAULT_POINTS)
def test_P3_purge_survives_kill_9_at_every_step(server: ServerProcess, fault_point: str) -> None:
    server.start(fault_point=fault_point)
    server.wait_serving()
    face, kept = unit(1), unit(2)
    with server.client() as client:
        for case_id, vector in (("doomed", face), ("kept", kept)):
            client.create_case(case_id, "Case", reason="r")
            client.create_subject(case_id, "s", "suspect", reason="r")
            client.enroll_face(case_id, "s", vector, reason="r")
        client.enroll_face("doomed", "s", unit(3), reason="r")
        try:
            client.close_case("doomed", reason="closed before trial")
        except MatcherError as error:  # Killed before it could answer: the commit decides.
            assert error.code.name == "UNAVAILABLE"
    assert server.wait_exit() == -signal.SIGKILL, "the fault point was not reached"
    kek_file = server.data_dir / "keys" / "kek"
    if fault_point in BEFORE_ROTATION:
        assert m.PURGE_DONE not in _purge_states(server.database_url), "done before its KEK rotation"
    if fault_point in TWO_GENERATIONS:
        assert len(generation_files(kek_file)) == 2

    server.start()
    server.wait_serving()
    with server.client() as client:
        [purge] = client.list_purges("doomed")
        assert purge.state == purge.DONE, "the purge must complete before SERVING"
        receipts = list(server.client("local-auditor").audit_records(action="purge.receipt"))
        assert [(r.resource, r.count) for r in receipts] == [("cases/doomed", 2)]
        with pytest.raises(MatcherError) as closed:
            client.search_faces(["doomed"], face, reason="r")
        assert closed.value.reason == "CASE_CLOSED"
        assert client.search_faces(["kept"], near(kept, 1), reason="r").results[0].matches
        assert server.client("local-auditor").verify_audit().ok
    assert _count(server.database_url, m.FaceTemplate, "doomed") == 0
    assert _count(server.database_url, m.DataKey, "doomed") == 0
    assert _count(server.database_url, m.FaceTemplate, "kept") == 1
    [(generation, _)] = generation_files(kek_file).items()  # P18: the old generation is destroyed
    assert generation >= 1 and _generations_in_use(server.database_url) == {generation}
    assert not list(kek_file.parent.glob(".kek*")), "no half-written key file is left"
