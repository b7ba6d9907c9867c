"""P17: the transparency report, computed from the audit log alone, per period, in three forms.

Every record counted here is written by the real operation, called over gRPC on a real server:
cases, subjects, enrolments and searches, plate checks from a camera gateway, an order, a
sighting that raises an alert and its acknowledgement, refusals, an authentication failure, the
purge worker's receipts, disclosures, waivers, holds and complaints. (The report once counted an
``alert.raise`` that no code wrote, and its test fed it that very name: one sighting that raised
one alert gave a report with no alerts.)
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import grpc
import pytest
from sqlalchemy import update

from lifecycle import models as m
from lifecycle.report import FIGURES, Report, build_report, build_reports
from matcher.client import MatcherClient, MatcherError
from tests.conftest import START, Harness, near, unit, wait_until

DAY = timedelta(days=1)
FACE, OTHER = unit(11), unit(12)
DIRECTOR = "dir-ps"


class World:
    """The principals of a small city, each a real account calling the real server."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.sup = h.client  # local-investigator: case supervisor and investigator
        self.admin = h.as_("local-admin")
        self.auditor = h.as_("local-auditor")
        self.camera = h.as_("local-camera")
        self.registry = h.as_("local-registry")
        self.operator = h.as_("local-operator")
        self.admin.create_principal(DIRECTOR, display_name="Director", department="local", reason="appointed")
        self.admin.grant_role(DIRECTOR, "public_safety_director", reason="the office")
        h.app.auth.issue(DIRECTOR, h.data_dir / "tokens" / f"{DIRECTOR}.token")
        self.director = h.as_(DIRECTOR)

    def purges_done(self, n: int) -> None:
        assert wait_until(
            lambda: len(done := self.sup.list_purges()) == n and all(p.state == p.DONE for p in done)
        ), "the purge worker did not finish"

    def alert_names(self) -> list[str]:
        return [alert.name for alert in self.operator.subscribe_alerts(timeout=1.5)]


@pytest.fixture
def world(harness: Harness) -> World:
    return World(harness)


def refused(call: object) -> MatcherError:
    with pytest.raises(MatcherError) as error:
        call()  # type: ignore[operator]
    return error.value


def populate(w: World) -> None:
    """Period A is [START, START+1d), period B is [START+1d, START+2d)."""
    h, sup = w.h, w.sup
    # --- period A ---
    w.admin.create_camera("cam-1", description="park gate", reason="installed")
    w.admin.create_zone("park", ["cam-1"], description="Forest Park", reason="protection zone")
    w.admin.set_operator_zones("local-operator", ["park"], reason="park desk")
    sup.create_case("c-1", "Burglary series", reason="three break-ins")
    sup.create_case("c-2", "Robbery", reason="one robbery")
    sup.create_subject("c-1", "poi-1", "suspect", label="POI-1", reason="seen at two scenes")
    sup.create_subject("c-1", "poi-2", "poi", label="POI-2", reason="tip")
    sup.create_subject("c-2", "wit-1", "witness", label="W-1", reason="saw it")
    sup.enroll_face("c-1", "poi-1", FACE, reason="booking photo")
    sup.enroll_face("c-1", "poi-1", near(FACE, 1), reason="second photo")
    sup.enroll_face("c-1", "poi-2", OTHER, reason="booking photo")
    hits = sup.search_faces(["c-1"], near(FACE, 2), reason="CCTV still", top_k=5)
    assert len(hits.results[0].matches) == 2  # poi-1's two templates
    assert not sup.search_faces(["c-1"], unit(99), reason="CCTV still").results[0].matches
    sup.add_plate("c-1", "AB 123 CD", subject_id="poi-1", reason="seen leaving")
    # A camera gateway learns only that its read hit (issue 17).
    assert w.camera.check_plate("AB123CD", camera="lpr-07", reason="hotlist").results[0].hit
    assert not w.camera.check_plate("ZZ9999", camera="lpr-07", reason="hotlist").results[0].hit
    assert w.camera.check_plate("AB123CD", camera="lpr-09", reason="hotlist").results[0].hit
    assert (
        len(sup.check_plate("AB123CD", case_ids=["c-1"], reason="manual").results[0].hits) == 1
    )  # no device
    # One order, one sighting raising one alert, another raising none, one acknowledgement.
    w.registry.create_order(
        "o-1",
        label="RI-1",
        legal_reference="Circuit Court 26-PO-1",
        zones=["park"],
        start=START,
        end=START + 10 * DAY,
        reason="order of protection",
    )
    w.registry.enroll_order_face("o-1", FACE, reason="photo from the order file")
    h.clock.set(START + timedelta(hours=1))
    # The gateway is told only that its sightings were accepted (issue 17); one raised an alert.
    assert w.camera.report_sighting("cam-1", h.clock.now(), [near(FACE, 3)]).accepted
    assert w.camera.report_sighting("cam-1", h.clock.now(), [OTHER]).accepted
    [alert] = w.alert_names()
    w.operator.ack_alert(alert)
    # Refusals, as the real operations record them.
    assert (
        refused(lambda: sup.create_subject("c-9", "x", "suspect", reason="typo")).reason == "CASE_NOT_FOUND"
    )
    assert (
        refused(lambda: w.auditor.search_faces(["c-1"], FACE, reason="curious")).reason
        == "ROLE_NOT_PERMITTED"
    )
    stranger = MatcherClient(grpc.insecure_channel(h.target), "not-a-token", timeout=10)
    try:
        assert refused(stranger.whoami).code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        stranger.close()
    assert wait_until(lambda: bool(h.audit("auth.failure")))  # recorded off the call path
    sup.release_subject("c-1", "poi-2", reason="alibi confirmed")
    w.purges_done(1)  # subject_released, 1 template
    allowed = sup.decide_disclosure(
        "c-1",
        recipient_kind="external_law_enforcement",
        recipient_name="County Sheriff",
        legal_basis="active_investigation",
        includes_biometric=True,
        reason="joint operation",
    )
    assert allowed.allowed
    sup.package_disclosure(allowed.name, reason="hand-over")
    public = sup.decide_disclosure(
        "c-1",
        recipient_kind="general_public",
        recipient_name="Reporter",
        legal_basis="law",
        legal_reference="Sunshine law",
        includes_biometric=True,
        reason="FOIA request",
    )
    assert not public.allowed
    w.director.grant_waiver(
        rule="P1",
        scope="searches/missing-1",
        justification="an abducted child",
        reason_kind="life",
        end=START + 10 * DAY,
        reason="life",
    )
    never = refused(
        lambda: w.director.grant_waiver(
            rule="P3", scope="cases/c-1", justification="j", reason_kind="life", end=START + DAY, reason="r"
        )
    )
    assert never.reason == "WAIVER_RULE_NOT_WAIVABLE"
    hold = sup.place_legal_hold(
        "c-2",
        authority_kind="court-order",
        authority="Order 1",
        placed_by="Judge",
        until=START + 10 * DAY,
        reason="appeal",
    )
    received = START
    w.auditor.record_complaint(received, "csb", "misuse", "camera used to watch a protest, not a crime")
    w.auditor.record_complaint(received, "web", "wrongful_match", "a neighbour was taken for somebody else")
    w.auditor.record_complaint(received, "phone", "misuse", "alerts sent to the wrong desk")
    personal = refused(
        lambda: w.auditor.record_complaint(received, "email", "privacy", "write to me at x@y.org")
    )
    assert personal.reason == "COMPLAINT_PERSONAL_DATA"
    # --- period B: starts exactly at the boundary ---
    h.clock.set(START + DAY)
    sup.lift_legal_hold("c-2", hold.name.rsplit("/", 1)[-1], reason="appeal withdrawn")
    sup.close_case("c-1", reason="charges filed")
    w.purges_done(2)  # case_closed: poi-1's 2 templates and the plate
    assert not sup.search_faces(["c-2"], FACE, reason="CCTV still").results[0].matches
    h.clock.set(START + 2 * DAY - timedelta(microseconds=1))
    sup.close_case("c-2", reason="suspect identified")
    w.purges_done(3)
    h.clock.set(START + 2 * DAY)  # outside both periods
    w.registry.revoke_order("o-1", reason="order vacated")
    w.purges_done(4)


PERIOD_A = {
    "cases_opened": 2,
    "subjects_added": 3,
    "subjects_released": 1,
    "enrolments": 3,
    "templates_enrolled": 3,
    "face_searches": 2,
    "face_probes": 2,
    "face_hits": 2,
    "plate_entries_added": 1,
    "plate_checks": 4,
    "plate_reads": 4,
    "plate_hits": 3,
    "sightings": 2,
    "alerts": 1,  # one sighting raised one alert
    "alerts_acknowledged": 1,
    "orders_created": 1,
    "purges": 1,
    "templates_destroyed": 1,
    "holds_placed": 1,
    "disclosure_decisions": 2,
    "disclosures_allowed": 1,
    "disclosures_refused": 1,
    "disclosures_released": 1,
    "waivers_granted": 1,
    "waivers_refused": 1,
    "complaints": 3,
    # subject.create CASE_NOT_FOUND, faces.search ROLE_NOT_PERMITTED, auth.failure, disclosure,
    # waiver, complaint
    "refusals": 6,
    "authentication_failures": 1,
    "cameras_registered": 1,
    "cameras_reporting": 2,
}
PERIOD_B = {
    "cases_closed": 2,
    "holds_lifted": 1,
    "face_searches": 1,
    "face_probes": 1,
    "purges": 2,
    "templates_destroyed": 2,
    "plate_entries_destroyed": 1,
}


def figures(report: Report, expected: dict[str, int]) -> dict[str, int]:
    """The report's figures, with every figure not in ``expected`` required to be zero."""
    return {
        key: report.figures.get(key, 0) for key, _ in FIGURES if report.figures.get(key, 0) or key in expected
    }


def test_P17_counts_per_period_from_the_real_operations(world: World) -> None:
    populate(world)
    audit = world.h.app.audit
    a, b = build_reports(audit, [START, START + DAY, START + 2 * DAY])
    assert figures(a, PERIOD_A) == PERIOD_A
    assert figures(b, PERIOD_B) == PERIOD_B
    assert a.chain_verified is True and b.chain_verified is True

    assert a.purges_by_trigger == {"subject_released": {"purges": 1, "templates": 1, "plate_entries": 0}}
    assert b.purges_by_trigger == {"case_closed": {"purges": 2, "templates": 2, "plate_entries": 1}}
    assert a.refusals_by_reason == {
        "CASE_NOT_FOUND": 1,
        "ROLE_NOT_PERMITTED": 1,
        "UNAUTHENTICATED_CALLER": 1,
        "DISCLOSURE_NOT_PERMITTED": 1,
        "WAIVER_RULE_NOT_WAIVABLE": 1,
        "COMPLAINT_PERSONAL_DATA": 1,
    }
    assert a.disclosures_by_recipient_kind == {
        "external_law_enforcement": {"allowed": 1, "released": 1},
        "general_public": {"refused": 1},
    }
    assert a.waivers_by_rule == {"P1": 1}
    assert a.complaints_by_category == {"misuse": 2, "wrongful_match": 1}
    assert a.camera_actions == {"camera.create": 1}
    assert a.operations_by_action["faces.search"] == {"ok": 2, "refused": 1}
    # Every record of a period is counted once, none from outside it.
    assert a.records + b.records == sum(1 for r in audit.records(limit=100_000) if r.at < START + 2 * DAY)
    assert a.last_seq is not None and b.first_seq == a.last_seq + 1
    # The order's end falls in the next period: an order revoked, its purge with the alert.
    later = build_report(audit, START + 2 * DAY, START + 3 * DAY)
    assert (later.figures.get("orders_ended"), later.purges_by_trigger["order_revoked"]["purges"]) == (1, 1)


def test_P17_one_sighting_one_alert_is_one_alert_not_its_acknowledgements(world: World) -> None:
    """Issue 10: the figure counted acknowledgements (and an action nobody wrote), not alerts."""
    h = world.h
    world.admin.create_camera("cam-1", description="gate", reason="installed")
    world.admin.create_zone("park", ["cam-1"], description="park", reason="zone")
    world.admin.set_operator_zones("local-operator", ["park"], reason="desk")
    world.registry.create_order(
        "o-1",
        label="RI-1",
        legal_reference="26-PO-1",
        zones=["park"],
        start=START,
        end=START + DAY,
        reason="order",
    )
    world.registry.enroll_order_face("o-1", FACE, reason="photo")
    h.clock.set(START + timedelta(hours=1))
    assert world.camera.report_sighting("cam-1", h.clock.now(), [near(FACE, 3)]).accepted
    assert len(world.alert_names()) == 1
    period = (START, START + DAY)
    assert build_report(h.app.audit, *period).figures.get("alerts") == 1  # before anyone acknowledges
    for name in world.alert_names():
        world.operator.ack_alert(name)
        world.operator.ack_alert(name)  # twice: still one acknowledgement
    report = build_report(h.app.audit, *period)
    assert (report.figures.get("alerts"), report.figures.get("alerts_acknowledged")) == (1, 1)
    served = json.loads(world.auditor.transparency_report(*period).json)
    assert served["figures"]["alerts"] == 1 and served["figures"]["alerts_acknowledged"] == 1


def test_P17_period_is_half_open(world: World) -> None:
    populate(world)
    audit = world.h.app.audit
    boundary = build_report(audit, START + DAY, START + DAY + timedelta(microseconds=1))
    # Exactly at START+1d: the hold lift (and nothing else) belongs to period B, not A.
    assert boundary.figures.get("holds_lifted") == 1
    whole = build_report(audit, START, START + 2 * DAY)
    a, b = build_reports(audit, [START, START + DAY, START + 2 * DAY])
    for key, _ in FIGURES:
        if key != "cameras_reporting":  # distinct devices do not add up across periods
            assert whole.figures.get(key, 0) == a.figures.get(key, 0) + b.figures.get(key, 0), key
    empty = build_report(audit, START - DAY, START)
    assert (empty.records, empty.first_seq, empty.figures.get("cases_opened", 0)) == (0, None, 0)


def test_P17_database_alone_gives_the_same_figures_without_verification(world: World) -> None:
    populate(world)
    from_log = build_report(world.h.app.audit, START, START + 2 * DAY)
    from_db = build_report(world.h.app.db, START, START + 2 * DAY)
    assert from_db.chain_verified is None
    assert from_db.to_dict()["figures"] == from_log.to_dict()["figures"]
    assert from_db.refusals_by_reason == from_log.refusals_by_reason


def test_P16_P17_a_report_from_an_edited_log_says_so(world: World) -> None:
    populate(world)
    with world.h.app.db.transaction() as session:
        session.execute(update(m.AuditRecord).where(m.AuditRecord.seq == 3).values(count=99))
    report = build_report(world.h.app.audit, START, START + DAY)
    assert report.chain_verified is False
    assert "CHAIN VERIFICATION FAILED" in report.to_text()


def test_P17_three_renderings(world: World) -> None:
    populate(world)
    report = build_report(world.h.app.audit, START, START + DAY)

    as_json = json.loads(report.to_json())
    assert as_json["period"] == {"start": START.isoformat(), "end": (START + DAY).isoformat()}
    assert as_json["figures"]["face_hits"] == 2
    assert list(as_json["figures"]) == [key for key, _ in FIGURES]  # every figure, zeros included
    assert as_json["audit"]["chain_verified"] is True
    assert as_json["purges_by_trigger"]["subject_released"]["templates"] == 1
    assert as_json["disclosures_by_recipient_kind"]["general_public"] == {"refused": 1}
    assert as_json["complaints_by_category"] == {"misuse": 2, "wrongful_match": 1}

    rows = list(csv.reader(io.StringIO(report.to_csv())))
    assert rows[0] == ["section", "key", "subkey", "value"]
    assert ["figures", "plate_hits", "", "3"] in rows
    assert ["figures", "complaints", "", "3"] in rows
    assert ["complaints_by_category", "misuse", "", "2"] in rows
    assert ["purges_by_trigger", "subject_released", "templates", "1"] in rows
    assert ["refusals_by_reason", "UNAUTHENTICATED_CALLER", "", "1"] in rows
    assert ["disclosures_by_recipient_kind", "external_law_enforcement", "released", "1"] in rows
    assert ["audit", "chain_verified", "", "True"] in rows

    text = report.to_text()
    assert "transparency report (P17)" in text
    lines = text.splitlines()
    assert any(line.split() == ["Face", "search", "hits", "2"] for line in lines)
    assert any(line.split() == ["Alerts", "raised", "1"] for line in lines)
    assert any(line.split() == ["subject_released", "1", "1", "0"] for line in lines)
    assert any(line.split() == ["wrongful_match", "1"] for line in lines)
    assert "chain verified" in text


def test_P8_P17_the_report_names_nobody(world: World) -> None:
    populate(world)
    report = build_report(world.h.app.audit, START, START + 2 * DAY)
    secrets = ("POI-1", "poi-1", "RI-1", "County Sheriff", "Reporter", "lpr-07", "cam-1", "AB123CD", DIRECTOR)
    for rendering in (report.to_json(), report.to_csv(), report.to_text()):
        for name in (*secrets, "local-investigator", "protest", "neighbour"):
            assert name not in rendering


def test_P17_period_must_be_forward_and_aware(world: World) -> None:
    audit = world.h.app.audit
    with pytest.raises(ValueError):
        build_report(audit, START, START)
    with pytest.raises(ValueError):
        build_report(audit, START.replace(tzinfo=None), START + DAY)
    with pytest.raises(ValueError):
        build_reports(audit, [START])


def test_P17_complaints_from_the_cli_are_recorded_listed_audited_and_counted(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    from matcher.cli import main

    def cli(principal: str, *args: str) -> tuple[int, str, str]:
        token = str(harness.data_dir / "tokens" / f"{principal}.token")
        code = main(["--target", harness.target, "--token-file", token, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    record = ("complaints", "record", "--received", "2026-03-01T08:00Z", "--channel", "csb", "--category")
    code, out, _ = cli("local-auditor", *record, "privacy", "--summary", "kept footage too long")
    assert code == 0 and "complaints/" in out and "privacy" in out
    # Somebody's phone number is personal data: refused, with what to do.
    code, _, err = cli("local-auditor", *record, "privacy", "--summary", "call 314 555 0199 back")
    assert code == 1 and "COMPLAINT_PERSONAL_DATA" in err and "without personal data" in err
    code, _, err = cli("local-auditor", *record, "gossip", "--summary", "a real complaint here")
    assert code == 1 and "FIELD_INVALID" in err and "misuse" in err
    # Only the auditors record: an investigator (whose conduct a complaint may concern) may not.
    code, _, err = cli("local-investigator", *record, "misuse", "--summary", "seen misused")
    assert code == 1 and "ROLE_NOT_PERMITTED" in err
    code, out, _ = cli("local-auditor", "--json", "complaints", "list", "--category", "privacy")
    [listed] = json.loads(out)
    assert (listed["channel"], listed["summary"]) == ("csb", "kept footage too long")
    assert cli("local-designee", "complaints", "list")[0] == 0  # compiles the public report
    records = [r.code for r in harness.audit("complaint.record")]
    assert records == ["", "COMPLAINT_PERSONAL_DATA", "FIELD_INVALID", "ROLE_NOT_PERMITTED"]
    assert all("footage" not in r.detail_json + r.reason for r in harness.audit("complaint.record"))
    code, out, _ = cli("local-auditor", "report", "--from", "2026-03-01T00:00Z", "--to", "2026-03-02T00:00Z")
    assert code == 0 and any(line.split() == ["Complaints", "1"] for line in out.splitlines())
    assert any(line.split() == ["privacy", "1"] for line in out.splitlines())
