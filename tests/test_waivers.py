"""P15 (Section 5.1): waivers are granted by two offices only, justified, temporary, and expire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.audit import OK, REFUSED, AuditLog
from lifecycle.cases import Lifecycle
from lifecycle.clock import ManualClock
from lifecycle.db import Database
from lifecycle.errors import Kind, PolicyError
from lifecycle.governance_models import Waiver
from lifecycle.waiver_searches import WaiverSearches
from lifecycle.waivers import NEVER_WAIVABLE, WAIVABLE_RULES, ScopeKind, WaiverRegistry

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DIRECTOR = "dir-ps"
DAY = timedelta(days=1)


@dataclass
class World:
    db: Database
    clock: ManualClock
    audit: AuditLog
    lifecycle: Lifecycle
    waivers: WaiverRegistry

    def grant(self, **overrides: object) -> Waiver:
        request: dict[str, object] = {
            "granted_by_title": "director_of_public_safety",
            "rule": "P1",
            "scope": "searches/missing-1",
            "justification": "abducted child: search for her outside any case",
            "reason_kind": "life",
            "start": START,
            "end": START + 3 * DAY,
            "mayor_approval": None,
        }
        request.update(overrides)
        actor = str(request.pop("actor", DIRECTOR))
        return self.waivers.grant(actor, **request)  # type: ignore[arg-type]

    def refused(self, **overrides: object) -> PolicyError:
        with pytest.raises(PolicyError) as error:
            self.grant(**overrides)
        return error.value

    def records(self, action: str) -> list[tuple[str, str]]:
        return [(r.outcome, r.code) for r in self.audit.records(action=action, limit=100_000)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    clock = ManualClock(START)
    audit = AuditLog(db, clock, key=b"k" * 32, anchor_path=None)
    lifecycle = Lifecycle(db, clock, audit)
    lifecycle.create_case("sup-1", "c-1", "Abduction", "opened for the test")
    lifecycle.create_subject("sup-1", "c-1", "vic-1", "V-1", "victim", "the child")
    lifecycle.create_subject("sup-1", "c-1", "poi-1", "POI-1", "suspect", "the driver")
    lifecycle.create_case("sup-1", "c-2", "Other", "opened for the test")
    registry = WaiverRegistry(db, clock, audit)
    WaiverSearches(lifecycle, registry)  # the scope kind whose waivers take effect (P1 searches)
    w = World(db, clock, audit, lifecycle, registry)
    yield w
    assert audit.verify().ok
    db.dispose()


# --- authority ----------------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["director_of_public_safety", "city_operations_director"])
def test_P15_granted_by_the_two_offices(world: World, title: str) -> None:
    waiver = world.grant(granted_by_title=title)
    assert (waiver.granted_by, waiver.granted_by_title) == (DIRECTOR, title)
    [record] = world.audit.records(action="waiver.grant")
    assert (record.outcome, record.actor, record.resource) == (OK, DIRECTOR, f"waivers/{waiver.id}")
    detail = json.loads(record.detail_json)
    assert detail["waived_rule"] == "P1"
    assert detail["rule"] == "P15"
    assert detail["granted_by_title"] == title
    assert detail["scope"] == "searches/missing-1"


@pytest.mark.parametrize("title", ["chief_of_police", "mayor", "", "Director of Public Safety"])
def test_P15_nobody_else_grants(world: World, title: str) -> None:
    error = world.refused(granted_by_title=title)
    assert (error.reason, error.kind) == ("WAIVER_AUTHORITY_REQUIRED", Kind.FAILED_PRECONDITION)
    assert world.records("waiver.grant") == [(REFUSED, "WAIVER_AUTHORITY_REQUIRED")]
    assert world.waivers.list() == []


def test_P15_an_anonymous_grant_is_refused(world: World) -> None:
    assert world.refused(actor="  ").reason == "WAIVER_AUTHORITY_REQUIRED"


# --- justification ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("justification", "reason_kind"),
    [("", "life"), ("   ", "safety"), ("convenience", "efficiency"), ("x", "")],
)
def test_P15_justified_by_life_safety_or_asset_protection(
    world: World, justification: str, reason_kind: str
) -> None:
    error = world.refused(justification=justification, reason_kind=reason_kind)
    assert error.reason == "WAIVER_JUSTIFICATION_REQUIRED"
    assert world.records("waiver.grant") == [(REFUSED, "WAIVER_JUSTIFICATION_REQUIRED")]


@pytest.mark.parametrize("reason_kind", ["life", "safety"])
def test_P15_each_reason_kind(world: World, reason_kind: str) -> None:
    assert world.grant(reason_kind=reason_kind).reason_kind == reason_kind


def test_P15_a_search_for_a_person_is_never_for_assets(world: World) -> None:
    error = world.refused(reason_kind="asset_protection")
    assert error.reason == "WAIVER_JUSTIFICATION_REQUIRED" and "life or safety" in error.message


# --- duration --------------------------------------------------------------------------------


def test_P15_less_than_30_days_needs_no_mayor(world: World) -> None:
    waiver = world.grant(end=START + 30 * DAY - timedelta(seconds=1))
    assert waiver.mayor_approval is None


@pytest.mark.parametrize("days", [30, 31, 90])
def test_P15_30_days_or_more_needs_the_mayor(world: World, days: int) -> None:
    error = world.refused(end=START + days * DAY)
    assert error.reason == "WAIVER_MAYOR_APPROVAL_REQUIRED"
    assert world.refused(end=START + days * DAY, mayor_approval="  ").reason == (
        "WAIVER_MAYOR_APPROVAL_REQUIRED"
    )
    waiver = world.grant(end=START + days * DAY, mayor_approval="Mayor's letter 2026-07")
    assert waiver.mayor_approval == "Mayor's letter 2026-07"
    detail = json.loads(world.audit.records(action="waiver.grant")[-1].detail_json)
    assert (detail["days"], detail["mayor_approval"]) == (days, "Mayor's letter 2026-07")


def test_P15_a_period_that_starts_later_is_measured_from_its_start(world: World) -> None:
    waiver = world.grant(start=START + 10 * DAY, end=START + 39 * DAY)
    assert waiver.end_at - waiver.start_at == 29 * DAY


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (START, START),  # empty
        (START + DAY, START),  # reversed
        (START - DAY, START + DAY),  # backdated
        (START.replace(tzinfo=None), START + DAY),  # a naive instant
    ],
)
def test_P15_period_must_be_forward_and_not_backdated(world: World, start: datetime, end: datetime) -> None:
    assert world.refused(start=start, end=end).reason == "WAIVER_PERIOD_INVALID"


def test_P15_start_defaults_to_now(world: World) -> None:
    assert world.grant(start=None).start_at == START


# --- expiry and revocation ------------------------------------------------------------------


def test_P15_waivers_expire_by_the_clock(world: World) -> None:
    waiver = world.grant(start=START + DAY, end=START + 3 * DAY)
    scope = "searches/missing-1"
    assert world.waivers.active("P1", scope) is None  # not yet
    assert [v.state for v in world.waivers.list()] == ["pending"]
    world.clock.advance(DAY)
    active = world.waivers.active("P1", scope)
    assert active is not None and active.id == waiver.id
    assert world.waivers.active("P5", scope) is None  # another rule
    assert world.waivers.active("P1", "searches/missing-2") is None  # another search
    world.clock.advance(2 * DAY - timedelta(microseconds=1))
    assert world.waivers.active("P1", scope) is not None
    world.clock.advance(timedelta(microseconds=1))
    assert world.waivers.active("P1", scope) is None  # [start, end)
    assert [v.state for v in world.waivers.list()] == ["expired"]
    # Asking about an earlier instant: the search's basis has ended now, and what is destroyed
    # stays destroyed, so nothing answers for it even then.
    assert world.waivers.active("P1", scope, at=START + 2 * DAY) is None


@pytest.mark.parametrize(
    ("scope", "rule"),
    [("cases/c-1", "P1"), ("cases/c-1/subjects/vic-1", "P1"), ("cases/c-1", "P12"), ("searches/s-1", "P5")],
)
def test_P15_a_waiver_that_nothing_applies_is_refused(world: World, scope: str, rule: str) -> None:
    """Issue 10: waivers were granted and listed, but nothing enforcing a rule looked one up."""
    error = world.refused(scope=scope, rule=rule)
    assert (error.reason, error.kind) == ("WAIVER_HAS_NO_EFFECT", Kind.FAILED_PRECONDITION)
    assert "P1 for searches/<id>" in error.message
    assert world.waivers.list() == []
    assert world.records("waiver.grant") == [(REFUSED, "WAIVER_HAS_NO_EFFECT")]


def test_P15_revoke_ends_a_waiver_and_is_audited(world: World) -> None:
    waiver = world.grant()
    world.clock.advance(timedelta(hours=1))
    world.waivers.revoke("dir-ops", waiver.id, "child found")
    assert world.waivers.active("P1", waiver.scope) is None
    assert world.waivers.active("P1", waiver.scope, at=START + timedelta(minutes=30)) is None  # ended now
    assert [v.state for v in world.waivers.list()] == ["revoked"]
    with pytest.raises(PolicyError) as error:
        world.waivers.revoke("dir-ops", waiver.id, "again")
    assert error.value.reason == "WAIVER_NOT_ACTIVE"
    with pytest.raises(PolicyError) as error:
        world.waivers.revoke("dir-ops", "nope", "typo")
    assert error.value.reason == "WAIVER_NOT_FOUND"
    with pytest.raises(PolicyError) as error:
        world.waivers.revoke("dir-ops", waiver.id, " ")
    assert error.value.reason == "REASON_REQUIRED"
    assert world.records("waiver.revoke") == [
        (OK, ""),
        (REFUSED, "WAIVER_NOT_ACTIVE"),
        (REFUSED, "WAIVER_NOT_FOUND"),
        (REFUSED, "REASON_REQUIRED"),
    ]


# --- what a waiver may never relax --------------------------------------------------------------


@pytest.mark.parametrize("rule", [*sorted(NEVER_WAIVABLE), "P99", ""])
def test_P15_only_table_1_conditions_are_waivable(world: World, rule: str) -> None:
    error = world.refused(rule=rule)
    assert (error.reason, error.kind) == ("WAIVER_RULE_NOT_WAIVABLE", Kind.FAILED_PRECONDITION)
    assert world.waivers.active(rule, "cases/c-1") is None


def test_P15_waivable_rules_are_table_1s() -> None:
    assert set(WAIVABLE_RULES) == {"P1", "P5", "P6", "P12"}
    assert not set(WAIVABLE_RULES) & set(NEVER_WAIVABLE)
    assert set(WAIVABLE_RULES) | set(NEVER_WAIVABLE) == {f"P{i}" for i in range(1, 19)}


@pytest.mark.parametrize(
    "scope", ["", "*", "cases/*", "cases", "searches/", "searches/S-1", "searches/s-1/faces/f-1", "zones/z-1"]
)
def test_P15_a_waiver_names_one_known_resource(world: World, scope: str) -> None:
    assert world.refused(scope=scope).reason == "WAIVER_SCOPE_INVALID"


def test_P15_unknown_resources_are_refused(world: World) -> None:
    error = world.refused(scope="orders/o-1", rule="P5")  # no kind registered for orders
    assert (error.reason, error.kind) == ("WAIVER_SCOPE_INVALID", Kind.INVALID_ARGUMENT)


def test_P15_a_search_scope_is_used_once(world: World) -> None:
    waiver = world.grant()
    taken = world.refused()
    assert (taken.reason, taken.kind) == ("WAIVER_SCOPE_INVALID", Kind.ALREADY_EXISTS)
    world.clock.advance(3 * DAY)
    world.lifecycle.due_sources[-1].expire_due()  # what the purge worker does at the end instant
    with world.db.reading() as session:
        [purge] = session.query(m.Purge).filter(m.Purge.waiver_id == waiver.id).all()
        assert purge.trigger == m.TRIGGER_WAIVER_ENDED
    assert world.waivers.active("P1", waiver.scope) is None
    gone = world.refused(start=None, end=START + 5 * DAY)
    assert (gone.reason, gone.kind) == ("WAIVER_SCOPE_PURGED", Kind.FAILED_PRECONDITION)


def test_P15_a_revoked_search_is_purged_in_the_revocation(world: World) -> None:
    waiver = world.grant()
    world.waivers.revoke("dir-ops", waiver.id, "found safe")
    with world.db.reading() as session:
        [purge] = session.query(m.Purge).filter(m.Purge.waiver_id == waiver.id).all()
        assert (purge.trigger, purge.requested_by) == (m.TRIGGER_WAIVER_REVOKED, "dir-ops")


def test_P15_other_collections_need_a_liveness_check(world: World) -> None:
    def order_alive(_session: Session, scope: str) -> bool | None:
        return {"orders/o-1": True, "orders/o-2": False}.get(scope)

    assert world.refused(scope="orders/o-1", rule="P5").reason == "WAIVER_SCOPE_INVALID"
    world.waivers.register_scope(ScopeKind("orders", order_alive, frozenset({"P5"})))
    assert world.grant(scope="orders/o-1", rule="P5").scope == "orders/o-1"
    assert world.waivers.active("P5", "orders/o-1") is not None
    assert world.refused(scope="orders/o-2", rule="P5").reason == "WAIVER_SCOPE_PURGED"
    assert world.refused(scope="orders/o-3", rule="P5").reason == "WAIVER_SCOPE_INVALID"
    assert world.refused(scope="orders/o-1", rule="P1").reason == "WAIVER_HAS_NO_EFFECT"
