"""P13, P15, P16, P17 through the real server: sharing decisions, waivers, notices, the report."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import grpc
import pytest

from matcher.cli import main
from matcher.client import MatcherClient, MatcherError
from tests.conftest import START, Harness, open_case_with_subject, unit, wait_until


def _director(h: Harness) -> MatcherClient:
    admin = h.as_("local-admin")
    admin.create_principal(
        "dir-ps", display_name="Director of Public Safety", department="dps", reason="office"
    )
    admin.grant_role("dir-ps", "public_safety_director", reason="appointed")
    h.app.auth.issue("dir-ps", h.data_dir / "tokens" / "dir-ps.token")
    return h.as_("dir-ps")


def test_P13_disclosure_decided_by_table_2_recorded_either_way(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    allowed = harness.client.decide_disclosure(
        "c-1",
        recipient_kind="external_law_enforcement",
        recipient_name="County Sheriff",
        legal_basis="active_investigation",
        includes_biometric=True,
        reason="joint task force",
    )
    assert allowed.allowed and allowed.rule == "P13"
    refused = harness.client.decide_disclosure(
        "c-1",
        recipient_kind="general_public",
        recipient_name="Press",
        legal_basis="law",
        legal_reference="RSMo 610",
        includes_biometric=True,
        reason="records request",
    )
    assert (refused.allowed, refused.refusal_reason) == (False, "DISCLOSURE_NOT_PERMITTED")
    manifest = json.loads(harness.client.package_disclosure(allowed.name, reason="hand over").manifest_json)
    assert manifest["case"] == "c-1" or manifest.get("case_id") == "c-1"
    assert "embedding" not in json.dumps(manifest) and "values" not in json.dumps(manifest)
    with pytest.raises(MatcherError) as error:
        harness.client.package_disclosure(refused.name, reason="try anyway")
    assert error.value.reason == "DISCLOSURE_REFUSED"
    decided = harness.audit("disclosure.decide")
    assert [r.outcome for r in decided] == [1, 2]  # OK, REFUSED: both recorded
    assert len(harness.as_("local-auditor").list_disclosures("c-1")) == 2


def test_P15_waivers_only_from_the_directors_and_shorter_than_30_days(harness: Harness) -> None:
    open_case_with_subject(harness)
    director = _director(harness)
    end = harness.clock.now() + timedelta(days=10)
    waiver = director.grant_waiver(
        rule="P1",
        scope="searches/missing-1",
        justification="a missing witness, believed in danger",
        reason_kind="safety",
        end=end,
        reason="emergency protection",
    )
    assert waiver.state == "active" and waiver.granted_by_title == "director_of_public_safety"
    with pytest.raises(MatcherError) as error:
        director.grant_waiver(
            rule="P1",
            scope="searches/missing-2",
            justification="j",
            reason_kind="safety",
            end=harness.clock.now() + timedelta(days=45),
            reason="r",
        )
    assert error.value.reason == "WAIVER_MAYOR_APPROVAL_REQUIRED"
    with pytest.raises(MatcherError) as error:
        director.grant_waiver(
            rule="P3",
            scope="cases/c-1",
            justification="j",
            reason_kind="safety",
            end=end,
            reason="keep the data",
        )
    assert error.value.reason == "WAIVER_RULE_NOT_WAIVABLE"  # destruction is never waived
    with pytest.raises(MatcherError) as error:
        harness.client.grant_waiver(
            rule="P1",
            scope="searches/missing-3",
            justification="j",
            reason_kind="safety",
            end=end,
            reason="r",
        )
    assert error.value.code == grpc.StatusCode.PERMISSION_DENIED
    harness.clock.advance(timedelta(days=11))
    assert [w.state for w in harness.as_("local-auditor").list_waivers()] == ["expired"]


def test_P16_unauthorised_attempts_reach_the_designee_at_once(harness: Harness) -> None:
    seen: list[str] = []

    def watch() -> None:
        for notice in harness.as_("local-admin").watch_notices(timeout=3):
            seen.append(f"{notice.principal} {notice.action} {notice.reason}")

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert wait_until(lambda: bool(harness.audit("notices.watch")))
    with pytest.raises(MatcherError):
        harness.client.verify_audit()  # an investigator may not audit
    assert wait_until(lambda: bool(seen))
    watcher.join()
    assert seen == ["principals/local-investigator audit.verify ROLE_NOT_PERMITTED"]


def test_P17_transparency_report_from_the_audit_log(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    harness.client.search_faces(["c-1"], unit(1), reason="r")
    harness.client.close_case("c-1", reason="done")
    assert wait_until(lambda: all(p.state == p.DONE for p in harness.client.list_purges("c-1")))
    harness.clock.advance(timedelta(hours=1))
    auditor = harness.as_("local-auditor")
    report = auditor.transparency_report(START, START + timedelta(days=1))
    data = json.loads(report.json)
    figures = data["figures"]
    assert (figures["cases_opened"], figures["cases_closed"], figures["subjects_added"]) == (1, 1, 1)
    assert (figures["templates_enrolled"], figures["face_searches"], figures["face_hits"]) == (1, 1, 1)
    assert (figures["purges"], figures["templates_destroyed"]) == (1, 1)
    assert data["purges_by_trigger"]["case_closed"]["templates"] == 1
    assert "Face search hits" in report.text and "chain verified" in report.text
    assert report.csv.splitlines()[0].startswith("section")
    token = str(harness.data_dir / "tokens" / "local-auditor.token")
    code = main(
        [
            "--target",
            harness.target,
            "--token-file",
            token,
            "report",
            "--from",
            "2026-03-01T00:00Z",
            "--to",
            "2026-03-02T00:00Z",
            "--format",
            "csv",
        ]
    )
    assert code == 0 and "section" in capsys.readouterr().out
    with pytest.raises(MatcherError) as error:
        harness.client.transparency_report(START, START + timedelta(days=1))
    assert error.value.code == grpc.StatusCode.PERMISSION_DENIED  # investigators do not read reports
