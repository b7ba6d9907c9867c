"""Who may do what (P10, P11, P14, P16): the permission table, separation of duties, yearly
revalidation, lockout, and case refusals that do not reveal whether a case exists.

Runs the real engine over a real SQLite file and the real audit chain, driven by a manual clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lifecycle import access as a
from lifecycle.access import (
    ADMINISTRATOR,
    AUDITOR,
    CASE_SUPERVISOR,
    DEPARTMENT_HEAD,
    END_USER_ROLES,
    EXTERNAL_PARTNER,
    INVESTIGATOR,
    PERMISSIONS,
    ROLES,
    AccessControl,
    AccessDenied,
    AuditedRefusal,
    Notice,
)
from lifecycle.access_models import RoleGrant
from lifecycle.audit import REFUSED, AuditLog
from lifecycle.cases import Lifecycle
from lifecycle.clock import ManualClock
from lifecycle.db import Database
from lifecycle.errors import Kind, PolicyError
from lifecycle.models import AuditRecord

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ADMIN, HEAD, SUPERVISOR, DESIGNEE = "admin", "head", "supervisor", "designee"
DEPT = "police"

# The specification, written out independently of lifecycle/access.py: a change to the table
# there must be mirrored here, on purpose. "*" = every case, "a" = assigned cases only.
EXPECTED: dict[str, dict[str, str]] = {
    "case.create": {"case_supervisor": "*"},
    "case.get": {"case_supervisor": "*", "investigator": "a", "external_partner": "a"},
    "case.list": {"case_supervisor": "*", "investigator": "a", "external_partner": "a"},
    "case.close": {"case_supervisor": "*"},
    "case.assign": {"case_supervisor": "*"},
    "case.unassign": {"case_supervisor": "*"},
    "subject.create": {"case_supervisor": "*", "investigator": "a"},
    "subject.get": {"case_supervisor": "*", "investigator": "a", "external_partner": "a"},
    "subject.list": {"case_supervisor": "*", "investigator": "a", "external_partner": "a"},
    "subject.release": {"case_supervisor": "*", "investigator": "a"},
    "hold.place": {"case_supervisor": "*"},
    "hold.lift": {"case_supervisor": "*"},
    "hold.list": {"case_supervisor": "*", "investigator": "a", "auditor": "*"},
    "purge.list": {"case_supervisor": "*", "investigator": "a", "registry_officer": "o", "auditor": "*"},
    "face.enroll": {"investigator": "a"},
    "face.list": {"investigator": "a"},
    "faces.search": {"investigator": "a"},
    "plate.add": {"investigator": "a"},
    "plate.list": {"investigator": "a"},
    "plate.remove": {"investigator": "a"},
    "plates.check": {"investigator": "a", "camera_gateway": "*"},
    "plate.hits": {"investigator": "a"},
    "plate.hits.watch": {"investigator": "a"},
    "camera.create": {"administrator": "*"},
    "camera.list": {"administrator": "*", "registry_officer": "*"},
    "zone.create": {"administrator": "*"},
    "zone.update": {"administrator": "*"},
    "zone.list": {"administrator": "*", "registry_officer": "*"},
    "operator.zones": {"administrator": "*"},
    "order.create": {"registry_officer": "*"},
    "order.get": {"registry_officer": "*"},
    "order.list": {"registry_officer": "*"},
    "order.amend": {"registry_officer": "*"},
    "order.revoke": {"registry_officer": "*"},
    "order.enroll": {"registry_officer": "*"},
    "sightings.report": {"camera_gateway": "*"},
    "alerts.watch": {"alert_operator": "*"},
    "alert.ack": {"alert_operator": "*"},
    "audit.list": {"auditor": "*"},
    "audit.verify": {"auditor": "*"},
    "report.read": {"auditor": "*"},
    "notices.watch": {"administrator": "*", "auditor": "*"},
    "user.create": {"administrator": "*"},
    "user.grant_role": {"administrator": "*"},
    "user.revoke_role": {"administrator": "*"},
    "user.unlock": {"administrator": "*"},
    "user.revalidate": {"department_head": "*"},
    "head.approve": {"mayors_designee": "*"},
    "head.withdraw": {"mayors_designee": "*"},
    "designee.appoint": {"mayors_designee": "*"},
    "user.get": {"administrator": "*", "department_head": "*", "auditor": "*", "mayors_designee": "*"},
    "user.list": {"administrator": "*", "department_head": "*", "auditor": "*", "mayors_designee": "*"},
    "user.whoami": {
        role: "*"
        for role in (
            "administrator",
            "auditor",
            "department_head",
            "case_supervisor",
            "investigator",
            "registry_officer",
            "alert_operator",
            "health_official",
            "external_partner",
            "camera_gateway",
            "public_safety_director",
            "city_operations_director",
            "mayors_designee",
            "health_director",
        )
    },
    "complaint.record": {"auditor": "*"},
    "complaint.list": {"auditor": "*", "mayors_designee": "*"},
    "disclosure.decide": {"case_supervisor": "*"},
    "disclosure.package": {"case_supervisor": "*"},
    "disclosure.list": {"case_supervisor": "*", "auditor": "*"},
    "waiver.grant": {"public_safety_director": "*", "city_operations_director": "*"},
    "waiver.revoke": {"public_safety_director": "*", "city_operations_director": "*"},
    "waiver.list": {"public_safety_director": "*", "city_operations_director": "*", "auditor": "*"},
    "emergency.declare": {"health_director": "*"},
    "emergency.end": {"health_director": "*"},
    "emergency.list": {"health_director": "*", "health_official": "*", "auditor": "*"},
    "presence.count": {"health_official": "*"},
    "waiver.enroll": {"investigator": "*"},
    "waiver.search": {"investigator": "*"},
}
BIOMETRIC_ACTIONS = {
    "face.enroll",
    "face.list",
    "faces.search",
    "plate.add",
    "plate.list",
    "plates.check",
    "plate.hits",
    "plate.hits.watch",
}
REQUIRED_ACTIONS = {
    *("case.create", "case.get", "case.list", "case.close", "subject.create", "subject.get"),
    *("subject.list", "subject.release", "hold.place", "hold.lift", "hold.list", "purge.list"),
    *("face.enroll", "face.list", "faces.search", "audit.list", "audit.verify", "user.create"),
    *("user.grant_role", "user.revoke_role", "user.revalidate", "user.unlock", "case.assign"),
    *("report.read", "disclosure.decide", "waiver.grant", "notices.watch"),
}


@dataclass
class World:
    db: Database
    clock: ManualClock
    audit: AuditLog
    access: AccessControl
    lifecycle: Lifecycle
    notices: list[Notice] = field(default_factory=list)

    def person(self, pid: str, *roles: str, department: str = DEPT, revalidate: bool = True) -> str:
        """A principal holding ``roles``, approved by the department head unless told otherwise."""
        self.access.create_principal(ADMIN, pid, display_name=pid.title(), department=department)
        for role in roles:
            if role == a.MAYORS_DESIGNEE:
                self.access.appoint_designee(DESIGNEE, pid, reason="test set-up")
            else:
                self.access.grant_role(ADMIN, pid, role, reason="test set-up")
        if DEPARTMENT_HEAD in roles:
            self.access.approve_head(DESIGNEE, pid, reason="test set-up")
        if revalidate:
            self.access.revalidate(HEAD if department == DEPT else f"head-{department}", pid)
        return pid

    def records(self, action: str = "") -> list[AuditRecord]:
        return self.audit.records(action=action, limit=100_000)

    def refusals(self) -> list[AuditRecord]:
        return [r for r in self.records() if r.outcome == REFUSED]


def make_world(path: Path) -> World:
    db = Database(f"sqlite:///{path / 'x.db'}")
    clock = ManualClock(START)
    audit = AuditLog(db, clock, key=b"k" * 32, anchor_path=None)
    world = World(db, clock, audit, AccessControl(db, clock, audit), Lifecycle(db, clock, audit))
    world.access.on_notice(world.notices.append)
    assert world.access.bootstrap_administrator(ADMIN, display_name="Admin", department="itsa")
    assert world.access.bootstrap_designee(DESIGNEE, display_name="Designee", department="mayor")
    world.access.create_principal(ADMIN, HEAD, display_name="Head", department=DEPT)
    world.access.grant_role(ADMIN, HEAD, DEPARTMENT_HEAD)
    world.access.approve_head(DESIGNEE, HEAD, reason="department authorised")
    world.person(SUPERVISOR, CASE_SUPERVISOR)
    for case_id in ("c-1", "c-2"):
        world.lifecycle.create_case(SUPERVISOR, case_id, "Burglary series", "opened for the test")
    return world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path)
    yield w
    assert w.audit.verify().ok
    w.db.dispose()


# --- the permission table -------------------------------------------------------------------


@pytest.fixture(scope="module")
def table_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One principal per role (``only-<role>``); case-scoped ones are assigned case c-1."""
    w = make_world(tmp_path_factory.mktemp("table"))
    for role in sorted(ROLES):
        w.person(f"only-{role.replace('_', '-')}", role)
        if role in a.CASE_SCOPED_ROLES:
            w.access.assign_case(SUPERVISOR, f"only-{role.replace('_', '-')}", "c-1", reason="test set-up")
    yield w
    assert w.audit.verify().ok
    w.db.dispose()


def test_P10_permission_table_is_the_reviewed_specification() -> None:
    actual = {
        action: {role: {a.ANY: "*", a.ASSIGNED: "a", a.ORDERS: "o"}[scope] for role, scope in row.items()}
        for action, row in PERMISSIONS.items()
    }
    assert actual == EXPECTED
    assert set(PERMISSIONS) >= REQUIRED_ACTIONS


def test_P10_table_invariants_hold_independently_of_the_table() -> None:
    """The policy's sentences, checked against the table as properties."""
    for action, row in PERMISSIONS.items():
        if action == "user.whoami":  # Everybody may read their own account, and nothing else by it.
            continue
        roles = set(row)
        if ADMINISTRATOR in roles:  # administrators: users, configuration; never data
            configuration = ("user.", "camera.", "zone.", "operator.")
            assert action.startswith(configuration) or action == "notices.watch", action
        if AUDITOR in roles:  # auditors: the log and reports; never biometric data
            assert action not in BIOMETRIC_ACTIONS and not action.startswith(("face", "subject", "case.")), (
                action
            )
        if action.startswith("audit."):  # end users and administrators never audit
            assert roles == {AUDITOR}
        if a.HEALTH_OFFICIAL in roles:  # P6: presence during a declared emergency, never case data
            assert action in {"presence.count", "emergency.list"}, action
        if EXTERNAL_PARTNER in roles:  # P14: view-only
            assert action.endswith((".get", ".list")) and row[EXTERNAL_PARTNER] is a.ASSIGNED
    for action in BIOMETRIC_ACTIONS - {"plates.check"}:
        assert dict(PERMISSIONS[action]) == {INVESTIGATOR: a.ASSIGNED}
    # LPR reads: investigators in their cases; the camera network against every open watchlist.
    assert dict(PERMISSIONS["plates.check"]) == {INVESTIGATOR: a.ASSIGNED, a.CAMERA_GATEWAY: a.ANY}


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("action", sorted(PERMISSIONS))
def test_P10_P11_every_action_role_pair_follows_the_table(table_world: World, action: str, role: str) -> None:
    pid = f"only-{role.replace('_', '-')}"
    scope = EXPECTED[action].get(role)
    decision = table_world.access.authorize(pid, action, case_id="c-1")
    assert decision.allowed is (scope not in (None, "o")), decision.message
    assert bool(decision) is decision.allowed
    if scope == "o":  # orders only: naming a case is refused, the caseless listing keeps orders
        assert (decision.reason, decision.rule) == ("ROLE_NOT_PERMITTED", "P12")
        caseless = table_world.access.authorize(pid, action)
        assert caseless.allowed and caseless.orders and caseless.case_filter == frozenset()
        assert not caseless.may_see("c-1")
        return
    if scope is None:
        assert decision.reason == "ROLE_NOT_PERMITTED"
        # P10 across families, P11 without any role for it, P12 an end user of another duty.
        assert decision.rule in {"P10", "P11", "P12"}
        return
    assert decision.reason == ""
    if scope == "a":
        assert decision.case_filter == frozenset({"c-1"})
        other = table_world.access.authorize(pid, action, case_id="c-2")
        assert (other.allowed, other.reason) == (False, "CASE_NOT_ASSIGNED")
        caseless = table_world.access.authorize(pid, action)
        if action in a.LISTING_ACTIONS:  # a listing is allowed, filtered to the assigned cases
            assert caseless.allowed and caseless.case_filter == frozenset({"c-1"})
            assert caseless.may_see("c-1") and not caseless.may_see("c-2")
        else:  # anything else must name its case: no case named is no case allowed
            assert (caseless.allowed, caseless.reason) == (False, "CASE_NOT_ASSIGNED")
    else:
        assert decision.case_filter is None
        assert table_world.access.authorize(pid, action, case_id="c-2").allowed


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("action", ["case.delete", "", "CASE.CREATE", "faces.search ", "audit.*", "admin"])
def test_P11_unknown_actions_are_denied_by_default(table_world: World, action: str, role: str) -> None:
    decision = table_world.access.authorize(f"only-{role.replace('_', '-')}", action, case_id="c-1")
    assert (decision.allowed, decision.reason) == (False, "ROLE_NOT_PERMITTED")


def test_P16_refused_checks_are_audited_and_noticed(world: World) -> None:
    auditor = world.person("aud", AUDITOR)
    before = len(world.refusals())
    decision = world.access.authorize(
        auditor, "faces.search", case_ids=["c-1"], resource="cases/c-1", reason="curious", peer="ipv4:1.2.3.4"
    )
    assert not decision and decision.rule == "P10"  # an auditor never uses biometric data
    refusals = world.refusals()
    assert len(refusals) == before + 1
    record = refusals[-1]
    assert (record.actor, record.action, record.code, record.resource) == (
        auditor,
        "faces.search",
        "ROLE_NOT_PERMITTED",
        "cases/c-1",
    )
    assert '"peer":"ipv4:1.2.3.4"' in record.detail_json and '"rule":"P10"' in record.detail_json
    assert world.notices[-1].kind == "refusal" and world.notices[-1].principal_id == auditor
    # An allowed check writes nothing: the operation it guards records the access.
    count = len(world.records())
    assert world.access.authorize(auditor, "audit.list")
    assert len(world.records()) == count


def test_P11_unknown_principal_is_refused(world: World) -> None:
    for pid in ("nobody", "", "x" * 500, "system:lockout", "Robert'); DROP TABLE principals;--"):
        decision = world.access.authorize(pid, "case.get", case_id="c-1")
        assert (decision.allowed, decision.reason, decision.rule) == (False, "UNKNOWN_PRINCIPAL", "P11")


def test_decision_require_raises_access_denied(world: World) -> None:
    with pytest.raises(AccessDenied) as caught:
        world.access.authorize("nobody", "case.get").require()
    assert caught.value.reason == "UNKNOWN_PRINCIPAL"
    assert world.access.authorize(SUPERVISOR, "case.get").require().allowed


# --- P10 separation of duties ---------------------------------------------------------------


def _assert_p10_refusal(world: World, actor: str, pid: str, role: str) -> None:
    before = world.access.roles_of(pid)
    refusals = len(world.refusals())
    with pytest.raises(AuditedRefusal) as caught:
        world.access.grant_role(actor, pid, role, reason="asked for it")
    error = caught.value
    assert (error.kind, error.reason, error.rule) == (Kind.FAILED_PRECONDITION, "SEPARATION_OF_DUTIES", "P10")
    assert world.access.roles_of(pid) == before  # nothing changed
    records = world.refusals()
    assert len(records) == refusals + 1
    assert (records[-1].action, records[-1].code, records[-1].actor) == (
        "user.grant_role",
        "SEPARATION_OF_DUTIES",
        actor,
    )
    assert '"rule":"P10"' in records[-1].detail_json


@pytest.mark.parametrize("end_user_role", sorted(END_USER_ROLES))
def test_P10_administrator_never_becomes_an_end_user(world: World, end_user_role: str) -> None:
    world.person("ops", ADMINISTRATOR)
    world.person("user", end_user_role)
    _assert_p10_refusal(world, ADMIN, "ops", end_user_role)
    _assert_p10_refusal(world, ADMIN, "user", ADMINISTRATOR)


@pytest.mark.parametrize("end_user_role", sorted(END_USER_ROLES))
def test_P10_auditor_never_holds_an_end_user_role(world: World, end_user_role: str) -> None:
    world.person("aud", AUDITOR)
    world.person("user", end_user_role)
    _assert_p10_refusal(world, ADMIN, "aud", end_user_role)
    _assert_p10_refusal(world, ADMIN, "user", AUDITOR)


def test_P10_administrator_auditor_and_department_head_stay_apart(world: World) -> None:
    world.person("ops", ADMINISTRATOR)
    world.person("aud", AUDITOR)
    _assert_p10_refusal(world, ADMIN, "ops", AUDITOR)
    _assert_p10_refusal(world, ADMIN, "aud", ADMINISTRATOR)
    _assert_p10_refusal(world, ADMIN, "ops", DEPARTMENT_HEAD)
    _assert_p10_refusal(world, ADMIN, HEAD, ADMINISTRATOR)
    _assert_p10_refusal(world, ADMIN, HEAD, AUDITOR)
    # A department head may also be an end user (a commander who also supervises cases).
    world.access.grant_role(ADMIN, HEAD, CASE_SUPERVISOR)
    assert world.access.roles_of(HEAD) == {DEPARTMENT_HEAD, CASE_SUPERVISOR}


def test_P10_refused_whoever_asks(world: World) -> None:
    world.person("ops", ADMINISTRATOR)  # a second administrator
    world.person("inv", INVESTIGATOR)
    _assert_p10_refusal(world, "ops", "inv", ADMINISTRATOR)
    _assert_p10_refusal(world, "ops", ADMIN, INVESTIGATOR)  # not even for a fellow administrator
    # Nobody grants themselves anything.
    _assert_p10_refusal(world, "ops", "ops", ADMINISTRATOR)
    # A non-administrator may not grant at all (PERMISSION_DENIED), and that is audited too.
    with pytest.raises(AccessDenied) as caught:
        world.access.grant_role(SUPERVISOR, "inv", CASE_SUPERVISOR)
    assert caught.value.reason == "ROLE_NOT_PERMITTED"
    assert world.refusals()[-1].action == "user.grant_role"
    assert world.access.roles_of("inv") == {INVESTIGATOR}


def test_P10_conflicting_roles_written_behind_the_engine_are_refused_everything(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    with world.db.transaction() as session:  # e.g. a hand-edited database
        session.add(RoleGrant(principal_id=inv, role=ADMINISTRATOR, granted_by="dba", granted_at=START))
    for action in ("faces.search", "user.create", "case.get"):
        decision = world.access.authorize(inv, action, case_id="c-1")
        assert (decision.allowed, decision.reason, decision.rule) == (False, "SEPARATION_OF_DUTIES", "P10")
    # Revoking one of them restores the remaining role.
    world.access.revoke_role(ADMIN, inv, ADMINISTRATOR, reason="cleanup")
    assert world.access.authorize(inv, "faces.search", case_id="c-1")


def test_grant_is_idempotent_audited_and_revoke_drops_case_assignments(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    world.access.grant_role(ADMIN, inv, INVESTIGATOR)  # already held: no change
    assert [r.count for r in world.records("user.grant_role") if r.resource == "principals/inv"] == [1, 0]
    assert world.access.revoke_role(ADMIN, inv, INVESTIGATOR)
    assert world.access.assigned_cases(inv) == frozenset()
    assert world.access.authorize(inv, "faces.search", case_id="c-1").reason == "ROLE_NOT_PERMITTED"
    world.access.grant_role(ADMIN, inv, INVESTIGATOR)  # granted again: old cases do not come back
    assert world.access.authorize(inv, "faces.search", case_id="c-1").reason == "CASE_NOT_ASSIGNED"
    assert not world.access.revoke_role(ADMIN, inv, AUDITOR)
    with pytest.raises(AuditedRefusal) as caught:
        world.access.grant_role(ADMIN, inv, "superuser")
    assert caught.value.reason == "FIELD_INVALID"


# --- P11 yearly revalidation ----------------------------------------------------------------


def test_P11_end_user_needs_a_first_approval_by_the_department_head(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR, revalidate=False)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    decision = world.access.authorize(inv, "faces.search", case_id="c-1")
    assert (decision.allowed, decision.reason, decision.rule) == (False, "REVALIDATION_REQUIRED", "P11")
    world.access.revalidate(HEAD, inv, reason="yearly review")
    assert world.access.authorize(inv, "faces.search", case_id="c-1")
    record = world.records("user.revalidate")[-1]
    assert (record.actor, record.resource, record.outcome) == (HEAD, "principals/inv", "ok")


def test_P11_revalidation_expires_after_365_days(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    world.clock.advance(timedelta(days=365))
    assert world.access.authorize(inv, "faces.search", case_id="c-1")
    world.clock.advance(timedelta(days=1))  # 366 days after the approval
    decision = world.access.authorize(inv, "faces.search", case_id="c-1")
    assert (decision.allowed, decision.reason) == (False, "REVALIDATION_REQUIRED")
    # The account stops working for everything, not just biometric actions.
    assert world.access.authorize(inv, "case.get", case_id="c-1").reason == "REVALIDATION_REQUIRED"
    # The supervisor's approval expired too; the department head (not an end user) still works.
    world.access.revalidate(HEAD, inv)
    assert world.access.authorize(inv, "faces.search", case_id="c-1")


def test_P11_administrators_and_auditors_are_not_end_users(world: World) -> None:
    world.person("aud", AUDITOR, revalidate=False)
    world.clock.advance(timedelta(days=366))
    assert world.access.authorize(ADMIN, "user.create")
    assert world.access.authorize("aud", "audit.list")
    assert world.access.authorize(HEAD, "user.revalidate")


def test_P11_only_a_head_of_the_same_department_revalidates(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR, revalidate=False)
    world.access.create_principal(ADMIN, "head-fire", display_name="Fire chief", department="fire")
    world.access.grant_role(ADMIN, "head-fire", DEPARTMENT_HEAD)
    with pytest.raises(AuditedRefusal) as other_department:
        world.access.revalidate("head-fire", inv)
    with pytest.raises(AuditedRefusal) as unknown:
        world.access.revalidate("head-fire", "nobody")
    # A department head cannot tell another department's account from a missing one.
    assert (other_department.value.reason, other_department.value.kind) == (
        "PRINCIPAL_NOT_FOUND",
        Kind.NOT_FOUND,
    )
    assert other_department.value.message.replace("inv", "?") == unknown.value.message.replace("nobody", "?")
    with pytest.raises(AccessDenied) as not_a_head:
        world.access.revalidate(SUPERVISOR, inv)
    assert not_a_head.value.reason == "ROLE_NOT_PERMITTED"
    world.access.grant_role(ADMIN, HEAD, INVESTIGATOR)
    world.access.create_principal(ADMIN, "head-2", display_name="Deputy", department=DEPT)
    world.access.grant_role(ADMIN, "head-2", DEPARTMENT_HEAD)
    world.access.approve_head(DESIGNEE, "head-2", reason="deputy head")
    world.access.revalidate("head-2", HEAD)
    with pytest.raises(AuditedRefusal) as self_approval:
        world.access.revalidate(HEAD, HEAD)
    assert (self_approval.value.reason, self_approval.value.rule) == ("SEPARATION_OF_DUTIES", "P11")
    assert world.access.authorize(inv, "case.get", case_id="c-1").reason == "REVALIDATION_REQUIRED"
    codes = [r.code for r in world.refusals() if r.action == "user.revalidate"]
    assert codes == [
        "PRINCIPAL_NOT_FOUND",
        "PRINCIPAL_NOT_FOUND",
        "ROLE_NOT_PERMITTED",
        "SEPARATION_OF_DUTIES",
    ]


# --- P11 lockout ----------------------------------------------------------------------------


def _fail_at(world: World, pid: str, minutes: list[float]) -> list[bool]:
    start = world.clock.now()
    results = []
    for minute in minutes:
        world.clock.set(start + timedelta(minutes=minute))
        results.append(world.access.record_auth_failure(pid, owner=pid, peer="ipv4:10.0.0.9:5555"))
    return results


def test_P11_five_failures_within_15_minutes_lock_the_account(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    assert _fail_at(world, inv, [0, 3, 6, 9, 14.9]) == [False, False, False, False, True]
    decision = world.access.authorize(inv, "case.get", case_id="c-1")
    assert (decision.allowed, decision.reason, decision.rule) == (False, "ACCOUNT_LOCKED", "P11")
    assert world.notices[-2].kind == "lockout" and world.notices[-2].principal_id == inv
    lock = world.records("user.lock")
    assert len(lock) == 1 and lock[0].resource == "principals/inv" and lock[0].count == 5
    assert len(world.records("auth.failure")) == 5
    # Locked for ten minutes (CJIS AC-7), or until an administrator releases it first.
    world.clock.advance(timedelta(minutes=9, seconds=59))
    assert world.access.authorize(inv, "case.get", case_id="c-1").reason == "ACCOUNT_LOCKED"
    with pytest.raises(AccessDenied):
        world.access.unlock(SUPERVISOR, inv)
    world.access.unlock(ADMIN, inv, reason="called the help desk, identity checked")
    assert world.access.authorize(inv, "case.get", case_id="c-1")
    assert world.records("user.unlock")[-1].count == 1
    # The failures before the release do not count again: one more typo does not re-lock.
    assert _fail_at(world, inv, [1]) == [False]
    assert world.access.authorize(inv, "case.get", case_id="c-1")


def test_P11_a_lockout_ends_by_itself_after_ten_minutes(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    assert _fail_at(world, inv, [0, 1, 2, 3, 4]) == [False, False, False, False, True]
    world.clock.advance(timedelta(minutes=9))
    assert world.access.authorize(inv, "case.get", case_id="c-1").reason == "ACCOUNT_LOCKED"
    world.clock.advance(timedelta(minutes=1))
    assert world.access.authorize(inv, "case.get", case_id="c-1")
    # The failures that locked it do not count towards the next lockout.
    assert _fail_at(world, inv, [0]) == [False]


def test_P11_failures_without_an_owner_lock_nobody(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    for _ in range(10):  # presented as the investigator, but no credential of theirs
        assert world.access.record_auth_failure(inv, owner=None, why="unknown_token") is False
    assert world.access.authorize(inv, "case.get", case_id="c-1")
    assert world.records("user.lock") == []


def test_P11_break_glass_unlock_is_audited_with_the_operator(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    _fail_at(world, inv, [0, 1, 2, 3, 4])
    with pytest.raises(PolicyError):
        world.access.break_glass_unlock(inv, operator="root", reason=" ")
    world.access.break_glass_unlock(inv, operator="root", reason="only administrator locked out")
    assert world.access.authorize(inv, "case.get", case_id="c-1")
    record = world.records("user.unlock")[-1]
    assert record.actor == "system:break-glass:root" and record.count == 1


def test_P11_five_failures_spread_over_more_than_15_minutes_do_not_lock(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    assert _fail_at(world, inv, [0, 4, 8, 12, 16]) == [False] * 5
    assert world.access.authorize(inv, "case.list")
    assert world.records("user.lock") == []
    # The window slides: a sixth failure makes five within 13 minutes (4..17).
    assert _fail_at(world, inv, [1]) == [True]


def test_P11_failures_of_unknown_identities_are_recorded_but_lock_nothing(world: World) -> None:
    assert _fail_at(world, "ghost", [0, 1, 2, 3, 4, 5]) == [False] * 6
    assert _fail_at(world, "", [6]) == [False]
    records = world.records("auth.failure")
    assert [r.actor for r in records] == ["ghost"] * 6 + ["anonymous"]
    assert all(r.outcome == REFUSED and r.code == "UNAUTHENTICATED_CALLER" for r in records)


# --- case scoping ---------------------------------------------------------------------------


def test_P11_unassigned_case_refusal_is_indistinguishable_from_unknown_case(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    for action in ("faces.search", "face.enroll", "case.get", "subject.list"):
        unassigned = world.access.authorize(inv, action, case_id="c-2", resource="cases/c-2")
        unknown = world.access.authorize(inv, action, case_id="c-9", resource="cases/c-9")
        assert not unassigned and not unknown
        assert (
            (unassigned.reason, unassigned.rule)
            == (unknown.reason, unknown.rule)
            == ("CASE_NOT_ASSIGNED", "P11")
        )
        assert unassigned.message.replace("c-2", "X") == unknown.message.replace("c-9", "X")
        assert unassigned.case_filter == unknown.case_filter == frozenset()
    # The audit records differ only in the case named.
    last_two = world.refusals()[-2:]
    assert [r.code for r in last_two] == ["CASE_NOT_ASSIGNED"] * 2
    assert last_two[0].detail_json.replace("c-2", "X") == last_two[1].detail_json.replace("c-9", "X")
    # A search over several cases needs every one of them.
    assert world.access.authorize(inv, "faces.search", case_ids=["c-1"])
    assert world.access.authorize(inv, "faces.search", case_ids=["c-1", "c-2"]).reason == "CASE_NOT_ASSIGNED"


def test_P11_assignments_are_given_and_taken_by_supervisors(world: World) -> None:
    inv = world.person("inv", INVESTIGATOR)
    partner = world.person("county-sheriff", EXTERNAL_PARTNER)
    aud = world.person("aud", AUDITOR)
    with pytest.raises(AccessDenied):
        world.access.assign_case(
            inv, inv, "c-1", reason="test set-up"
        )  # investigators do not assign themselves
    with pytest.raises(AuditedRefusal) as ineligible:
        world.access.assign_case(SUPERVISOR, aud, "c-1", reason="test set-up")
    assert ineligible.value.reason == "ASSIGNEE_NOT_ELIGIBLE"
    with pytest.raises(AuditedRefusal) as missing:
        world.access.assign_case(SUPERVISOR, inv, "c-404", reason="test set-up")
    assert missing.value.reason == "CASE_NOT_FOUND"
    world.access.assign_case(SUPERVISOR, partner, "c-1", reason="sharing agreement 2026-7")
    assert world.access.authorize(partner, "case.get", case_id="c-1")
    assert not world.access.authorize(partner, "faces.search", case_id="c-1")  # P14 view-only
    world.access.assign_case(SUPERVISOR, inv, "c-1", reason="test set-up")
    assert world.access.authorize(inv, "face.enroll", case_id="c-1")
    assert world.access.unassign_case(SUPERVISOR, inv, "c-1", reason="moved to another unit")
    assert world.access.authorize(inv, "face.enroll", case_id="c-1").reason == "CASE_NOT_ASSIGNED"
    assert [r.action for r in world.records() if r.resource.startswith("cases/c-1/assignments/")][-3:] == [
        "case.assign",
        "case.assign",
        "case.unassign",
    ]


def test_P11_principals_are_created_only_by_administrators(world: World) -> None:
    with pytest.raises(AccessDenied):
        world.access.create_principal(SUPERVISOR, "friend", display_name="Friend", department=DEPT)
    with pytest.raises(AuditedRefusal) as duplicate:
        world.access.create_principal(ADMIN, SUPERVISOR, display_name="Again", department=DEPT)
    assert duplicate.value.reason == "PRINCIPAL_ALREADY_EXISTS"
    with pytest.raises(AuditedRefusal) as bad:
        world.access.create_principal(ADMIN, "has space", display_name="X", department=DEPT)
    assert bad.value.reason == "FIELD_INVALID"
    assert world.access.principal("friend") is None
    assert not world.access.bootstrap_administrator("second-root", display_name="Root", department="itsa")
    with world.db.transaction() as session:
        assert (
            session.scalars(select(RoleGrant).where(RoleGrant.principal_id == "second-root")).first() is None
        )
