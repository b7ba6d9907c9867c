"""Reconciliation of a replica's memory with the database (matcher.replication), in process.

Another replica's commits are stood in for by changing the system of record behind this
process's back (the rows another process would have written); the reconciliation must then make
the galleries equal to what the database says is matchable, and change nothing when this process
made every change itself.
"""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import Harness, unit

REASON = "reconcile test"


def _enrolled(h: Harness) -> None:
    for case in ("r-1", "r-2"):
        h.client.create_case(case, "Reconcile", reason=REASON)
        h.client.create_subject(case, "s-1", "suspect", label="S1", reason=REASON)
    h.client.enroll_face("r-1", "s-1", unit(1), reason=REASON)
    h.client.enroll_face("r-1", "s-1", unit(2), reason=REASON)
    h.client.enroll_face("r-2", "s-1", unit(3), reason=REASON)


def test_reconcile_changes_nothing_when_this_process_made_every_change(harness: Harness) -> None:
    _enrolled(harness)
    assert harness.app.faces.size() == 3
    assert harness.app.faces.reconcile() == (0, 0)
    assert harness.app.faces.size() == 3


def test_reconcile_adds_what_is_missing_once_and_drops_what_another_process_closed(
    harness: Harness,
) -> None:
    h = harness
    _enrolled(h)
    h.app.faces.basis_ended("r-1", None)  # as if this process had missed r-1's enrolments
    assert h.app.faces.size() == 1
    assert h.app.faces.reconcile() == (0, 2)
    assert h.app.faces.reconcile() == (0, 0)  # idempotent: nothing added twice
    assert h.app.faces.contains_vector(unit(1)) and h.app.faces.contains_vector(unit(2))
    with h.app.db.engine.begin() as connection:  # another process closes r-2
        connection.execute(text("UPDATE cases SET state = 'closed' WHERE id = 'r-2'"))
    assert h.app.faces.reconcile() == (1, 0)
    assert not h.app.faces.contains_vector(unit(3))
    assert h.app.faces.size() == 2
