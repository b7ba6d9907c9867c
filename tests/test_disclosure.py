"""P13 (Table 2): who may receive what, every decision recorded and audited once, one release each.

The expectations below are written out from the policy text independently of
``lifecycle.disclosure.TABLE_2``, so that a change to the table that drifts from the text fails.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lifecycle import models as m
from lifecycle.audit import OK, REFUSED, AuditLog
from lifecycle.cases import Lifecycle
from lifecycle.clock import ManualClock
from lifecycle.db import Database
from lifecycle.disclosure import LEGAL_BASES, RECIPIENT_KINDS, Decision, DisclosureDecider
from lifecycle.errors import Kind, PolicyError
from lifecycle.governance_models import Disclosure

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SUPERVISOR = "sup-1"

# --- Table 2, written out from the text ---------------------------------------------------------
LE = {"active_investigation", "prosecution", "law", "court_order"}
EXPECTED: dict[tuple[str, bool], set[str]] = {
    # "External Law Enforcement Agencies; Recognized external security organizations ...;
    # External entities associated with a criminal prosecution": video, biometric and derived
    # data, "in conjunction with an active criminal investigation / a criminal prosecution, as
    # required by law / by a court order".
    ("external_law_enforcement", True): LE,
    ("external_law_enforcement", False): LE,
    ("security_organisation", True): LE,
    ("security_organisation", False): LE,
    ("prosecution", True): LE,
    ("prosecution", False): LE,
    # "Note: this does not include private security firms".
    ("private_security", True): set(),
    ("private_security", False): set(),
    # "External Public Health Organizations ... Only with authorized third parties; Excludes
    # biometric data".
    ("public_health", True): set(),
    ("public_health", False): {"authorization"},
    # "External Emergency Response Organizations ... Only for the duration of an emergency;
    # Excludes biometric data".
    ("emergency_response", True): set(),
    ("emergency_response", False): {"emergency"},
    # "Third parties associated with a civil case or proceeding: We don't share, unless required
    # by a warrant, or subpoena".
    ("civil_party", True): set(),  # P13's first sentence: biometric data only to law enforcement
    ("civil_party", False): {"warrant", "subpoena"},
    # "The general public: ... We don't share any other current or historical data containing
    # PII except as required by law" (biometric data is never theirs).
    ("general_public", True): set(),
    ("general_public", False): {"law"},
}
KINDS = [*sorted({kind for kind, _ in EXPECTED}), "private_investigator"]
BASES = [*sorted(LEGAL_BASES), "", "gut_feeling"]


def expected_reason(kind: str, basis: str, biometric: bool) -> str:
    if (kind, biometric) not in EXPECTED:
        return "RECIPIENT_KIND_UNKNOWN"
    accepted = EXPECTED[(kind, biometric)]
    if not accepted:
        return "DISCLOSURE_NOT_PERMITTED"
    if not basis:
        return "LEGAL_BASIS_REQUIRED"
    if basis not in LEGAL_BASES:
        return "LEGAL_BASIS_UNKNOWN"
    return "" if basis in accepted else "LEGAL_BASIS_REQUIRED"


@dataclass
class World:
    db: Database
    clock: ManualClock
    audit: AuditLog
    lifecycle: Lifecycle
    decider: DisclosureDecider

    def decide(self, **overrides: object) -> Decision:
        request: dict[str, object] = {
            "actor": SUPERVISOR,
            "case_id": "c-1",
            "recipient_kind": "external_law_enforcement",
            "recipient_name": "County Sheriff",
            "legal_basis": "active_investigation",
            "legal_reference": "",
            "reason": "joint investigation of the burglary series",
            "includes_biometric": True,
        }
        request.update(overrides)
        return self.decider.decide(**request)  # type: ignore[arg-type]

    def audit_of(self, decision_id: str, action: str = "disclosure.decide") -> list[m.AuditRecord]:
        return [
            r for r in self.audit.records(action=action, limit=100_000) if r.resource.endswith(decision_id)
        ]


def add_templates(world: World, case_id: str, subject_id: str, n: int) -> list[str]:
    """Template rows as enrolment leaves them (ciphertext is opaque here: only ids are listed)."""
    with world.db.transaction() as session:
        subject = world.lifecycle.subject(session, case_id, subject_id)
        ids = [f"{subject_id}-t{i}" for i in range(n)]
        for template_id in ids:
            session.add(
                m.FaceTemplate(
                    id=template_id,
                    case_id=case_id,
                    subject_pk=subject.pk,
                    model="test",
                    dim=4,
                    nonce=b"n" * 12,
                    ciphertext=b"SECRET-EMBEDDING",
                    created_at=world.clock.now(),
                    created_by="inv-1",
                )
            )
    return ids


def make_world(path: Path) -> World:
    db = Database(f"sqlite:///{path / 'x.db'}")
    clock = ManualClock(START)
    audit = AuditLog(db, clock, key=b"k" * 32, anchor_path=None)
    lifecycle = Lifecycle(db, clock, audit)
    world = World(db, clock, audit, lifecycle, DisclosureDecider(db, clock, audit))
    lifecycle.create_case(SUPERVISOR, "c-1", "Burglary series", "opened for the test")
    lifecycle.create_subject(SUPERVISOR, "c-1", "poi-1", "POI-1", "suspect", "seen at two scenes")
    lifecycle.create_subject(SUPERVISOR, "c-1", "poi-2", "POI-2", "person_of_interest", "tip")
    lifecycle.create_subject(SUPERVISOR, "c-1", "wit-1", "W-1", "witness", "saw the van")
    add_templates(world, "c-1", "poi-1", 2)
    add_templates(world, "c-1", "poi-2", 1)
    lifecycle.create_case(SUPERVISOR, "c-closed", "Old case", "opened for the test")
    lifecycle.close_case(SUPERVISOR, "c-closed", "charges filed")
    return world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path)
    yield w
    assert w.audit.verify().ok
    w.db.dispose()


@pytest.fixture(scope="module")
def table_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = make_world(tmp_path_factory.mktemp("table2"))
    yield w
    assert w.audit.verify().ok
    w.db.dispose()


# --- the table ----------------------------------------------------------------------------------


def test_P13_table_covers_every_kind_of_the_text() -> None:
    assert {kind for kind, _ in EXPECTED} == RECIPIENT_KINDS


@pytest.mark.parametrize(("kind", "basis", "biometric"), list(itertools.product(KINDS, BASES, (True, False))))
def test_P13_table_2(table_world: World, kind: str, basis: str, biometric: bool) -> None:
    w = table_world
    with w.db.transaction() as session:
        rows_before = session.scalar(select(func.count()).select_from(Disclosure))
    decision = w.decide(
        recipient_kind=kind,
        legal_basis=basis,
        legal_reference="ref 2026-117",
        includes_biometric=biometric,
        basis_ends_at=w.clock.now() + timedelta(days=2),
    )
    reason = expected_reason(kind, basis, biometric)
    assert decision.allowed == (reason == ""), decision.message
    assert decision.reason == reason
    assert decision.rule == "P13"
    assert decision.message

    # Recorded once in the disclosures table ...
    with w.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Disclosure)) == (rows_before or 0) + 1
        row = session.get(Disclosure, decision.decision_id)
    assert row is not None
    assert (row.allowed, row.refusal_reason, row.recipient_kind) == (decision.allowed, reason, kind)
    assert (row.legal_basis, row.includes_biometric, row.actor) == (basis, biometric, SUPERVISOR)
    # ... and audited once, in the same transaction (same instant, same decision id).
    records = w.audit_of(decision.decision_id)
    assert len(records) == 1
    record = records[0]
    assert record.outcome == (OK if decision.allowed else REFUSED)
    assert record.code == reason
    assert record.at == row.decided_at
    assert record.resource == f"cases/c-1/disclosures/{decision.decision_id}"
    detail = json.loads(record.detail_json)
    assert detail["recipient_kind"] == kind
    assert detail["legal_basis"] == basis
    assert detail["includes_biometric"] is biometric


def test_P13_biometric_never_to_health_emergency_or_public_whatever_the_basis(world: World) -> None:
    for kind, basis in itertools.product(
        ("public_health", "emergency_response", "general_public"), LEGAL_BASES
    ):
        decision = world.decide(
            recipient_kind=kind,
            legal_basis=basis,
            legal_reference="r",
            basis_ends_at=START + timedelta(days=1),
        )
        assert (decision.allowed, decision.reason) == (False, "DISCLOSURE_NOT_PERMITTED")


def test_P13_civil_party_gets_nothing_without_warrant_or_subpoena(world: World) -> None:
    for basis in LEGAL_BASES - {"warrant", "subpoena"}:
        decision = world.decide(
            recipient_kind="civil_party",
            legal_basis=basis,
            legal_reference="r",
            includes_biometric=False,
            basis_ends_at=START + timedelta(days=1),
        )
        assert decision.reason == "LEGAL_BASIS_REQUIRED"
    subpoena = world.decide(
        recipient_kind="civil_party",
        legal_basis="subpoena",
        legal_reference="SUB-9",
        includes_biometric=False,
    )
    assert subpoena.allowed
    # Never biometric data, even with a subpoena: P13's first sentence is the stricter reading.
    biometric = world.decide(recipient_kind="civil_party", legal_basis="subpoena", legal_reference="SUB-9")
    assert (biometric.allowed, biometric.reason) == (False, "DISCLOSURE_NOT_PERMITTED")


# --- conditions of the bases --------------------------------------------------------------------


def test_P13_active_investigation_needs_an_open_case(world: World) -> None:
    closed = world.decide(case_id="c-closed")
    assert (closed.allowed, closed.reason) == (False, "CASE_NOT_ACTIVE")
    # A prosecution outlives the investigation.
    prosecution = world.decide(case_id="c-closed", legal_basis="prosecution", legal_reference="CR-2026-88")
    assert prosecution.allowed
    assert world.decide().allowed  # c-1 is open: its own reference


def test_P13_bases_other_than_the_investigation_cite_their_reference(world: World) -> None:
    for basis in ("prosecution", "law", "court_order"):
        decision = world.decide(legal_basis=basis, legal_reference="  ")
        assert decision.reason == "LEGAL_REFERENCE_REQUIRED"
        assert decision.error().kind is Kind.INVALID_ARGUMENT
    assert world.decide(legal_basis="court_order", legal_reference="Order 26-CV-1").allowed


def test_P13_emergency_only_while_it_lasts(world: World) -> None:
    ended = world.decide(
        recipient_kind="emergency_response",
        legal_basis="emergency",
        legal_reference="Declaration 2026-3",
        includes_biometric=False,
        basis_ends_at=START - timedelta(hours=1),
    )
    assert ended.reason == "EMERGENCY_NOT_ACTIVE"
    missing = world.decide(
        recipient_kind="emergency_response",
        legal_basis="emergency",
        legal_reference="Declaration 2026-3",
        includes_biometric=False,
    )
    assert missing.reason == "EMERGENCY_NOT_ACTIVE"
    naive = world.decide(
        recipient_kind="emergency_response",
        legal_basis="emergency",
        legal_reference="Declaration 2026-3",
        includes_biometric=False,
        basis_ends_at=datetime(2026, 3, 2),
    )
    assert naive.reason == "EMERGENCY_NOT_ACTIVE"
    ongoing = world.decide(
        recipient_kind="emergency_response",
        legal_basis="emergency",
        legal_reference="Declaration 2026-3",
        includes_biometric=False,
        basis_ends_at=START + timedelta(hours=6),
    )
    assert ongoing.allowed
    world.clock.advance(timedelta(hours=7))
    with pytest.raises(PolicyError) as error:
        world.decider.package(SUPERVISOR, "c-1", ongoing.decision_id)
    assert error.value.reason == "EMERGENCY_NOT_ACTIVE"
    refused = world.audit_of(ongoing.decision_id, "disclosure.package")
    assert [(r.outcome, r.code) for r in refused] == [(REFUSED, "EMERGENCY_NOT_ACTIVE")]


@pytest.mark.parametrize(
    ("overrides", "reason", "kind"),
    [
        ({"reason": "  "}, "REASON_REQUIRED", Kind.INVALID_ARGUMENT),
        ({"recipient_kind": "journalist"}, "RECIPIENT_KIND_UNKNOWN", Kind.INVALID_ARGUMENT),
        ({"recipient_name": ""}, "FIELD_INVALID", Kind.INVALID_ARGUMENT),
        ({"case_id": "nope"}, "CASE_NOT_FOUND", Kind.NOT_FOUND),
        ({"legal_basis": "hunch"}, "LEGAL_BASIS_UNKNOWN", Kind.INVALID_ARGUMENT),
        ({"recipient_kind": "private_security"}, "DISCLOSURE_NOT_PERMITTED", Kind.FAILED_PRECONDITION),
    ],
)
def test_P13_P16_malformed_requests_are_refused_recorded_and_audited(
    world: World, overrides: dict[str, object], reason: str, kind: Kind
) -> None:
    decision = world.decide(**overrides)
    assert (decision.allowed, decision.reason) == (False, reason)
    assert decision.error().kind is kind
    with pytest.raises(PolicyError):
        decision.raise_if_refused()
    assert world.decider.get(decision.decision_id) is not None
    assert [r.code for r in world.audit_of(decision.decision_id)] == [reason]


def test_P8_decisions_hold_no_biometric_content(world: World) -> None:
    decision = world.decide()
    package = world.decider.package(SUPERVISOR, "c-1", decision.decision_id)
    for record in world.audit.records(limit=100_000):
        assert "SECRET-EMBEDDING" not in record.detail_json
    assert "SECRET-EMBEDDING" not in json.dumps(package.manifest())


# --- packages -------------------------------------------------------------------------------------


def test_P13_package_lists_labels_counts_and_template_ids_stamped_with_the_decision(world: World) -> None:
    world.lifecycle.release_subject(SUPERVISOR, "c-1", "poi-2", "alibi confirmed")
    decision = world.decide(legal_basis="court_order", legal_reference="Order 26-CR-5")
    package = world.decider.package(SUPERVISOR, "c-1", decision.decision_id)
    manifest = package.manifest()
    assert manifest["decision"] == decision.decision_id
    assert manifest["case"] == "c-1"
    labels = {s["label"]: s for s in manifest["subjects"]}  # type: ignore[attr-defined]
    # The released subject's data awaits destruction (P2): it never leaves.
    assert set(labels) == {"POI-1", "W-1"}
    assert labels["POI-1"]["template_ids"] == ["poi-1-t0", "poi-1-t1"]
    assert labels["POI-1"]["template_count"] == 2
    assert manifest["counts"] == {"subjects": 2, "templates": 2, "plate_entries": 0, "case_plate_entries": 0}
    records = world.audit_of(decision.decision_id, "disclosure.package")
    assert [(r.outcome, r.count) for r in records] == [(OK, 2)]
    row = world.decider.get(decision.decision_id)
    assert row is not None and row.packaged_at == START


def test_P13_one_decision_releases_once(world: World) -> None:
    decision = world.decide()
    world.decider.package(SUPERVISOR, "c-1", decision.decision_id)
    with pytest.raises(PolicyError) as error:
        world.decider.package(SUPERVISOR, "c-1", decision.decision_id)
    assert error.value.reason == "DISCLOSURE_ALREADY_PACKAGED"


def test_P13_a_refusal_releases_nothing(world: World) -> None:
    refused = world.decide(recipient_kind="general_public")
    with pytest.raises(PolicyError) as error:
        world.decider.package(SUPERVISOR, "c-1", refused.decision_id)
    assert error.value.reason == "DISCLOSURE_REFUSED"
    with pytest.raises(PolicyError) as error:
        world.decider.package(SUPERVISOR, "c-1", "0123456789abcdef")
    assert (error.value.reason, error.value.kind) == ("DISCLOSURE_NOT_FOUND", Kind.NOT_FOUND)
    with pytest.raises(PolicyError) as error:
        world.decider.package(SUPERVISOR, "c-closed", world.decide().decision_id)
    assert error.value.reason == "DISCLOSURE_NOT_FOUND"  # a decision is bound to its case


def test_P13_non_biometric_release_lists_no_template_ids(world: World) -> None:
    decision = world.decide(
        recipient_kind="public_health",
        legal_basis="authorization",
        legal_reference="Mayor's approval 2026-14",
        includes_biometric=False,
    )
    package = world.decider.package(SUPERVISOR, "c-1", decision.decision_id)
    assert all(s.template_ids == () for s in package.subjects)
    assert world.audit_of(decision.decision_id, "disclosure.package")[0].count == 0


def test_P13_P3_investigation_closed_after_the_decision_releases_nothing(world: World) -> None:
    decision = world.decide()
    world.lifecycle.close_case(SUPERVISOR, "c-1", "investigation over")
    with pytest.raises(PolicyError) as error:
        world.decider.package(SUPERVISOR, "c-1", decision.decision_id)
    assert error.value.reason == "CASE_NOT_ACTIVE"


def test_P13_P4_closed_case_releases_only_what_a_legal_hold_keeps(world: World) -> None:
    prosecution = world.decide(legal_basis="prosecution", legal_reference="CR-2026-88")
    world.lifecycle.close_case(SUPERVISOR, "c-1", "charges filed")
    # Closed, no hold: everything awaits destruction; nothing is listed.
    assert world.decider.package(SUPERVISOR, "c-1", prosecution.decision_id).subjects == ()

    world.lifecycle.place_hold(
        SUPERVISOR,
        "c-1",
        authority_kind="court_order",
        authority="Order 26-CR-5",
        placed_by="Judge Doe",
        end_at=START + timedelta(days=90),
        reason="trial",
    )
    held = world.decide(legal_basis="prosecution", legal_reference="CR-2026-88")
    package = world.decider.package(SUPERVISOR, "c-1", held.decision_id)
    assert {s.label for s in package.subjects} == {"POI-1", "POI-2", "W-1"}
    assert package.counts["templates"] == 3
