"""P17: the transparency report, computed from the audit log alone, per period, in three forms.

The log is written by the real operations (Lifecycle, the purge worker, access control, the
disclosure decider, the waiver registry) and, for the engines that need a gallery or a plate
index, by ``AuditLog.append`` with exactly the action names and fields those engines write.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from lifecycle import models as m
from lifecycle.access import AccessControl
from lifecycle.audit import REFUSED, AuditLog
from lifecycle.cases import Lifecycle
from lifecycle.clock import ManualClock
from lifecycle.db import Database
from lifecycle.disclosure import DisclosureDecider
from lifecycle.errors import PolicyError
from lifecycle.purge import PurgeWorker
from lifecycle.report import FIGURES, Report, build_report, build_reports
from lifecycle.waivers import WaiverRegistry
from matcher.kek import KekGenerations
from matcher.kek_rotation import KekRotation

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SUP, INV = "sup-1", "inv-1"


@dataclass
class World:
    db: Database
    clock: ManualClock
    audit: AuditLog
    lifecycle: Lifecycle
    worker: PurgeWorker
    access: AccessControl
    disclosures: DisclosureDecider
    waivers: WaiverRegistry

    def enroll(self, case_id: str, subject_id: str, n: int) -> None:
        """What FaceMatching.enroll leaves: template rows and one ``face.enroll`` record."""
        with self.db.transaction() as session:
            subject = self.lifecycle.targetable_subject(session, case_id, subject_id)
            ids = [f"{subject_id}-{i}" for i in range(n)]
            for template_id in ids:
                session.add(
                    m.FaceTemplate(
                        id=template_id,
                        case_id=case_id,
                        subject_pk=subject.pk,
                        model="test",
                        dim=4,
                        nonce=b"n" * 12,
                        ciphertext=b"c",
                        created_at=self.clock.now(),
                        created_by=INV,
                    )
                )
            self.audit.append(
                session,
                actor=INV,
                action="face.enroll",
                resource=f"cases/{case_id}/subjects/{subject_id}",
                reason="booking photo",
                count=n,
                detail={"templates": ids, "model": "test", "rule": "P1"},
            )

    def search(self, case_id: str, probes: int, hits: int) -> None:
        """The record FaceMatching.search writes."""
        self.audit.record(
            actor=INV,
            action="faces.search",
            resource=f"cases/{case_id}",
            reason="CCTV still",
            count=hits,
            detail={"cases": [case_id], "probes": probes, "top_k": 5, "min_score": 0.5, "model": "test"},
        )

    def check_plate(self, camera: str, reads: int, hits: int) -> None:
        """The record PlateWatchlists.check writes."""
        self.audit.record(
            actor="lpr-gateway" if camera else INV,
            action="plates.check",
            resource="cases",
            reason="hotlist",
            count=hits,
            detail={"cases": "all open", "camera": camera, "reads": reads},
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    clock = ManualClock(START)
    audit = AuditLog(db, clock, key=b"k" * 32, anchor_path=None)
    lifecycle = Lifecycle(db, clock, audit)
    w = World(
        db,
        clock,
        audit,
        lifecycle,
        PurgeWorker(lifecycle, KekRotation(db, KekGenerations.load(tmp_path / "keys" / "kek"))),
        AccessControl(db, clock, audit),
        DisclosureDecider(db, clock, audit),
        WaiverRegistry(db, clock, audit),
    )
    yield w
    db.dispose()


def populate(w: World) -> None:
    """Period A is [START, START+1d), period B is [START+1d, START+2d)."""
    lc = w.lifecycle
    # --- period A ---
    lc.create_case(SUP, "c-1", "Burglary series", "three break-ins")
    lc.create_case(SUP, "c-2", "Robbery", "one robbery")
    lc.create_subject(SUP, "c-1", "poi-1", "POI-1", "suspect", "seen at two scenes")
    lc.create_subject(SUP, "c-1", "poi-2", "POI-2", "person_of_interest", "tip")
    lc.create_subject(SUP, "c-2", "wit-1", "W-1", "witness", "saw it")
    w.enroll("c-1", "poi-1", 2)
    w.enroll("c-1", "poi-2", 1)
    w.search("c-1", probes=2, hits=3)
    w.search("c-1", probes=1, hits=0)
    w.check_plate("lpr-07", reads=2, hits=1)
    w.check_plate("lpr-07", reads=1, hits=0)
    w.check_plate("lpr-09", reads=3, hits=2)
    w.check_plate("", reads=1, hits=1)  # an investigator's manual check: no device
    w.audit.record(actor=INV, action="plate.add", resource="cases/c-1/plateEntries/p1", reason="r", count=1)
    w.audit.record(actor="admin", action="camera.create", resource="cameras/lpr-07", reason="installed")
    w.audit.record(actor="system:alerts", action="alert.raise", resource="orders/o-1", reason="sighting")
    # Refusals, as the real operations record them.
    try:
        lc.create_subject(INV, "c-9", "x", "X", "suspect", "typo")
    except PolicyError as error:
        lc.refuse(INV, "subject.create", "cases/c-9/subjects/x", error, "typo")
    w.audit.record(
        actor=INV,
        action="faces.search",
        resource="cases/c-2",
        reason="r",
        outcome=REFUSED,
        code="CASE_CLOSED",
    )
    w.access.record_auth_failure("mallory", peer="ipv4:10.0.0.9")
    lc.release_subject(SUP, "c-1", "poi-2", "alibi confirmed")
    w.worker.run_due()  # purge.receipt, subject_released, 1 template
    allowed = w.disclosures.decide(
        SUP, "c-1", "external_law_enforcement", "County Sheriff", "active_investigation", "", "joint op", True
    )
    w.disclosures.package(SUP, "c-1", allowed.decision_id)
    w.disclosures.decide(SUP, "c-1", "general_public", "Reporter", "law", "", "FOIA", True)
    w.waivers.grant(
        "dir-ps",
        granted_by_title="director_of_public_safety",
        rule="P1",
        scope="cases/c-1",
        justification="life",
        reason_kind="life",
        start=None,
        end=START + 2 * DAY,
    )
    with pytest.raises(PolicyError):
        w.waivers.grant(
            "dir-ps",
            granted_by_title="chief",
            rule="P1",
            scope="cases/c-1",
            justification="j",
            reason_kind="life",
            start=None,
            end=START + 2 * DAY,
        )
    hold = lc.place_hold(
        SUP,
        "c-2",
        authority_kind="court_order",
        authority="Order 1",
        placed_by="Judge",
        end_at=START + 10 * DAY,
        reason="appeal",
    )
    # --- period B: starts exactly at the boundary ---
    w.clock.set(START + DAY)
    lc.lift_hold(SUP, "c-2", hold.id, "appeal withdrawn")
    lc.close_case(SUP, "c-1", "charges filed")
    w.worker.run_due()  # purge.receipt, case_closed, poi-1's 2 templates
    w.search("c-2", probes=1, hits=1)
    w.clock.set(START + 2 * DAY - timedelta(microseconds=1))
    lc.close_case(SUP, "c-2", "suspect identified")
    w.worker.run_due()
    w.clock.set(START + 2 * DAY)  # outside both periods
    w.search("c-2", probes=9, hits=9)


PERIOD_A = {
    "cases_opened": 2,
    "subjects_added": 3,
    "subjects_released": 1,
    "enrolments": 2,
    "templates_enrolled": 3,
    "face_searches": 2,
    "face_probes": 3,
    "face_hits": 3,
    "plate_entries_added": 1,
    "plate_checks": 4,
    "plate_reads": 7,
    "plate_hits": 4,
    "alerts": 1,
    "purges": 1,
    "templates_destroyed": 1,
    "holds_placed": 1,
    "disclosure_decisions": 2,
    "disclosures_allowed": 1,
    "disclosures_refused": 1,
    "disclosures_released": 1,
    "waivers_granted": 1,
    "waivers_refused": 1,
    # subject.create CASE_NOT_FOUND, faces.search CASE_CLOSED, auth.failure, disclosure, waiver
    "refusals": 5,
    "authentication_failures": 1,
    "cameras_registered": 1,
    "cameras_reporting": 2,
}
PERIOD_B = {
    "cases_closed": 2,
    "holds_lifted": 1,
    "face_searches": 1,
    "face_probes": 1,
    "face_hits": 1,
    "purges": 2,
    "templates_destroyed": 2,
}


def figures(report: Report, expected: dict[str, int]) -> dict[str, int]:
    """The report's figures, with every figure not in ``expected`` required to be zero."""
    return {
        key: report.figures.get(key, 0) for key, _ in FIGURES if report.figures.get(key, 0) or key in expected
    }


def test_P17_counts_per_period_from_the_real_operations(world: World) -> None:
    populate(world)
    a, b = build_reports(world.audit, [START, START + DAY, START + 2 * DAY])
    assert figures(a, PERIOD_A) == PERIOD_A
    assert figures(b, PERIOD_B) == PERIOD_B
    assert a.chain_verified is True and b.chain_verified is True

    assert a.purges_by_trigger == {"subject_released": {"purges": 1, "templates": 1, "plate_entries": 0}}
    assert b.purges_by_trigger == {
        "case_closed": {"purges": 2, "templates": 2, "plate_entries": 0},
    }
    assert a.refusals_by_reason == {
        "CASE_NOT_FOUND": 1,
        "CASE_CLOSED": 1,
        "UNAUTHENTICATED_CALLER": 1,
        "DISCLOSURE_NOT_PERMITTED": 1,
        "WAIVER_AUTHORITY_REQUIRED": 1,
    }
    assert a.disclosures_by_recipient_kind == {
        "external_law_enforcement": {"allowed": 1, "released": 1},
        "general_public": {"refused": 1},
    }
    assert a.waivers_by_rule == {"P1": 1}
    assert a.alerts_by_action == {"alert.raise": 1}
    assert a.camera_actions == {"camera.create": 1}
    assert a.operations_by_action["faces.search"] == {"ok": 2, "refused": 1}
    # Every record of a period is counted once, none from outside it.
    assert a.records + b.records == sum(
        1 for r in world.audit.records(limit=100_000) if r.at < START + 2 * DAY
    )
    assert a.last_seq is not None and b.first_seq == a.last_seq + 1


def test_P17_period_is_half_open(world: World) -> None:
    populate(world)
    boundary = build_report(world.audit, START + DAY, START + DAY + timedelta(microseconds=1))
    # Exactly at START+1d: the hold lift and the case closure belong to period B, not A.
    assert boundary.figures.get("holds_lifted") == 1
    assert boundary.figures.get("cases_closed") == 1
    whole = build_report(world.audit, START, START + 2 * DAY)
    a, b = build_reports(world.audit, [START, START + DAY, START + 2 * DAY])
    for key, _ in FIGURES:
        if key != "cameras_reporting":  # distinct devices do not add up across periods
            assert whole.figures.get(key, 0) == a.figures.get(key, 0) + b.figures.get(key, 0), key
    later = build_report(world.audit, START + 2 * DAY, START + 3 * DAY)
    assert later.figures.get("face_hits") == 9
    empty = build_report(world.audit, START - DAY, START)
    assert (empty.records, empty.first_seq, empty.figures.get("cases_opened", 0)) == (0, None, 0)


def test_P17_database_alone_gives_the_same_figures_without_verification(world: World) -> None:
    populate(world)
    from_log = build_report(world.audit, START, START + 2 * DAY)
    from_db = build_report(world.db, START, START + 2 * DAY)
    assert from_db.chain_verified is None
    assert from_db.to_dict()["figures"] == from_log.to_dict()["figures"]
    assert from_db.refusals_by_reason == from_log.refusals_by_reason


def test_P16_P17_a_report_from_an_edited_log_says_so(world: World) -> None:
    populate(world)
    with world.db.transaction() as session:
        session.execute(update(m.AuditRecord).where(m.AuditRecord.seq == 3).values(count=99))
    report = build_report(world.audit, START, START + DAY)
    assert report.chain_verified is False
    assert "CHAIN VERIFICATION FAILED" in report.to_text()


def test_P17_three_renderings(world: World) -> None:
    populate(world)
    report = build_report(world.audit, START, START + DAY)

    as_json = json.loads(report.to_json())
    assert as_json["period"] == {"start": START.isoformat(), "end": (START + DAY).isoformat()}
    assert as_json["figures"]["face_hits"] == 3
    assert list(as_json["figures"]) == [key for key, _ in FIGURES]  # every figure, zeros included
    assert as_json["audit"]["chain_verified"] is True
    assert as_json["purges_by_trigger"]["subject_released"]["templates"] == 1
    assert as_json["disclosures_by_recipient_kind"]["general_public"] == {"refused": 1}

    rows = list(csv.reader(io.StringIO(report.to_csv())))
    assert rows[0] == ["section", "key", "subkey", "value"]
    assert ["figures", "plate_hits", "", "4"] in rows
    assert ["figures", "complaints", "", "0"] in rows
    assert ["purges_by_trigger", "subject_released", "templates", "1"] in rows
    assert ["refusals_by_reason", "UNAUTHENTICATED_CALLER", "", "1"] in rows
    assert ["disclosures_by_recipient_kind", "external_law_enforcement", "released", "1"] in rows
    assert ["audit", "chain_verified", "", "True"] in rows

    text = report.to_text()
    assert "transparency report (P17)" in text
    lines = text.splitlines()
    assert any(line.split() == ["Face", "search", "hits", "3"] for line in lines)
    assert any(line.split() == ["subject_released", "1", "1", "0"] for line in lines)
    assert "chain verified" in text


def test_P8_P17_the_report_names_nobody(world: World) -> None:
    populate(world)
    report = build_report(world.audit, START, START + 2 * DAY)
    for rendering in (report.to_json(), report.to_csv(), report.to_text()):
        for name in ("POI-1", "poi-1", "County Sheriff", "Reporter", "mallory", "lpr-07", SUP, INV, "dir-ps"):
            assert name not in rendering


def test_P17_period_must_be_forward_and_aware(world: World) -> None:
    with pytest.raises(ValueError):
        build_report(world.audit, START, START)
    with pytest.raises(ValueError):
        build_report(world.audit, START.replace(tzinfo=None), START + DAY)
    with pytest.raises(ValueError):
        build_reports(world.audit, [START])
