"""P10, P11 (Section 3.4): no one person can make a working end user.

Outside testing found that the administrator alone could create a department head and an
investigator, and the new head, approved by nobody, approved the investigator, who then opened
cases and enrolled faces. Department-level access is granted by the Mayor's designee: a head's
approvals count only once a designee approved the head, and the designee is a duty of its own,
which an administrator can neither hold nor grant.
"""

from __future__ import annotations

import grpc
import pytest

from matcher.client import MatcherError
from tests.conftest import Harness, unit


def _refused(call: object) -> MatcherError:
    with pytest.raises(MatcherError) as error:
        call()  # type: ignore[operator]
    return error.value


def test_P11_the_administrator_alone_cannot_make_a_working_investigator(harness: Harness) -> None:
    admin = harness.as_("local-admin")
    admin.create_principal("head-2", display_name="New head", department="vice", reason="new unit")
    admin.create_principal("det-2", display_name="Detective", department="vice", reason="new hire")
    admin.grant_role("head-2", "department_head", reason="runs vice")
    admin.grant_role("det-2", "investigator", reason="vice detective")
    admin.grant_role("det-2", "case_supervisor", reason="vice detective")
    for principal in ("head-2", "det-2"):
        harness.app.auth.issue(principal, harness.data_dir / "tokens" / f"{principal}.token")
    head, detective = harness.as_("head-2"), harness.as_("det-2")

    # The unapproved head's approval does not count...
    refusal = _refused(lambda: head.revalidate("det-2", reason="yearly review"))
    assert (refusal.code, refusal.reason, refusal.rule) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "HEAD_NOT_APPROVED",
        "P11",
    )
    # ... so the detective cannot work.
    assert (
        _refused(lambda: detective.create_case("v-1", "Vice", reason="r")).reason == "REVALIDATION_REQUIRED"
    )
    # The administrator can neither approve the head nor make anyone a designee.
    assert (
        _refused(lambda: admin.approve_department_head("head-2", reason="r")).reason == "ROLE_NOT_PERMITTED"
    )
    assert (
        _refused(lambda: admin.grant_role("head-2", "mayors_designee", reason="r")).reason
        == "SEPARATION_OF_DUTIES"
    )
    admin.create_principal("puppet", display_name="Puppet", department="it", reason="r")
    assert (
        _refused(lambda: admin.grant_role("puppet", "mayors_designee", reason="r")).reason
        == "SEPARATION_OF_DUTIES"
    )
    assert _refused(lambda: admin.appoint_designee("puppet", reason="r")).reason == "ROLE_NOT_PERMITTED"

    # The second, independent duty: the Mayor's designee approves the head.
    designee = harness.as_("local-designee")
    approved = designee.approve_department_head("head-2", reason="vice unit authorised by the Mayor's office")
    assert approved.head_approved_by == "local-designee"
    head.revalidate("det-2", reason="yearly review")
    detective.create_case("v-1", "Vice", reason="r")
    detective.create_subject("v-1", "s-1", "suspect", reason="r")
    detective.enroll_face("v-1", "s-1", unit(3), reason="booking photo")

    # Withdrawn, the head's further approvals stop counting.
    designee.withdraw_department_head("head-2", reason="unit dissolved")
    assert _refused(lambda: head.revalidate("det-2", reason="again")).reason == "HEAD_NOT_APPROVED"
    actions = [r.action for r in harness.audit() if r.resource == "principals/head-2"]
    assert "head.approve" in actions and "head.withdraw" in actions


def test_P10_a_designee_holds_no_other_duty_and_appoints_nobody_with_one(harness: Harness) -> None:
    designee, admin = harness.as_("local-designee"), harness.as_("local-admin")
    assert (
        _refused(lambda: admin.grant_role("local-designee", "investigator", reason="r")).reason
        == "SEPARATION_OF_DUTIES"
    )
    assert (
        _refused(lambda: designee.appoint_designee("local-admin", reason="r")).reason
        == "SEPARATION_OF_DUTIES"
    )
    assert (
        _refused(lambda: designee.appoint_designee("local-designee", reason="r")).reason
        == "SEPARATION_OF_DUTIES"
    )
    assert (
        _refused(lambda: designee.search_faces(["c-1"], unit(1), reason="curious")).code
        == grpc.StatusCode.PERMISSION_DENIED
    )
    admin.create_principal("cto", display_name="CTO", department="mayor", reason="deputy designee")
    appointed = designee.appoint_designee("cto", reason="deputy while the designee is away")
    assert "mayors_designee" in appointed.roles


def test_P12_assigning_a_case_states_why(harness: Harness) -> None:
    harness.client.create_case("c-9", "Case", reason="r")
    refusal = _refused(lambda: harness.client.assign_case("c-9", "local-investigator", reason=" "))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "REASON_REQUIRED")
    [record] = [r for r in harness.audit("case.assign") if r.code == "REASON_REQUIRED"]
    assert record.resource == "cases/c-9/assignments/local-investigator"
