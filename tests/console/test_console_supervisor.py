"""Supervisors' forms: assigning an investigator to a case, placing and lifting a legal hold (P4, P10)."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import START, open_case_with_subject
from tests.console.conftest import RunningConsole


def test_supervisor_assigns_an_investigator_and_places_and_lifts_a_hold(web: RunningConsole) -> None:
    h = web.harness
    open_case_with_subject(h, "c-1")
    admin, head = h.as_("local-admin"), h.as_("local-head")
    admin.create_principal("det-b", display_name="Det. B", department="local", reason="new hire")
    admin.grant_role("det-b", "investigator", reason="CID")
    head.revalidate("det-b", reason="yearly review")
    h.app.auth.issue("det-b", h.data_dir / "tokens" / "det-b.token")
    detective = web.http()
    detective.sign_in("det-b", h.token("det-b"))
    assert detective.get("/cases/c-1").status == 403

    supervisor = web.http()
    supervisor.sign_in("local-investigator", h.token())
    token = supervisor.get("/cases/c-1").csrf()
    assigned = supervisor.post(
        "/cases/c-1/assign", {"csrf": token, "principal": "det-b", "action": "assign", "reason": "joins"}
    )
    assert assigned.status == 303
    assert detective.get("/cases/c-1").status == 200

    until = (START + timedelta(days=90)).date().isoformat()
    hold = {"csrf": token, "authority_kind": "court-order", "placed_by": "Judge R.", "until": until}
    missing = supervisor.post("/cases/c-1/holds", {**hold, "authority": "", "reason": "preserve"})
    assert missing.status == 400 and "Policy rule P4" in missing.text
    placed = supervisor.post("/cases/c-1/holds", {**hold, "authority": "Order 26-CR-1", "reason": "preserve"})
    assert placed.status == 303
    [active] = h.client.list_legal_holds("c-1")
    page = supervisor.get("/cases/c-1").text
    assert "Order 26-CR-1" in page and "Judge R." in page
    hold_id = active.name.split("/")[-1]
    lifted = supervisor.post(f"/cases/c-1/holds/{hold_id}/lift", {"csrf": token, "reason": "appeal over"})
    assert lifted.status == 303
    assert [hold.state for hold in h.client.list_legal_holds("c-1")] == [2]  # LIFTED
    assert {r.action for r in h.audit() if r.actor == "local-investigator" and r.outcome == 1} >= {
        "case.assign",
        "hold.place",
        "hold.lift",
    }
