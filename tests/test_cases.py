"""Cases and subjects over gRPC: creation, listing, and refusals that change nothing."""

from __future__ import annotations

import grpc
import pytest

from matcher.client import MatcherError
from matcher.v1 import cases_pb2
from tests.conftest import Harness, open_case_with_subject


def test_case_create_get_list_and_paging(harness: Harness) -> None:
    for i in range(7):
        harness.client.create_case(f"case-{i}", f"Case {i}", reason="new investigation")
    case = harness.client.get_case("case-3")
    assert case.name == "cases/case-3"
    assert case.state == cases_pb2.Case.OPEN
    assert case.create_time.ToDatetime().year == 2026
    page = harness.client.cases.ListCases(
        cases_pb2.ListCasesRequest(page_size=3),
        timeout=5,
        metadata=(("authorization", f"Bearer {harness.token()}"),),
    )
    assert [c.name for c in page.cases] == ["cases/case-0", "cases/case-1", "cases/case-2"]
    assert page.next_page_token
    assert [c.name for c in harness.client.list_cases()] == [f"cases/case-{i}" for i in range(7)]


def test_generated_ids_are_valid_names(harness: Harness) -> None:
    case = harness.client.create_case("", "Unnamed", reason="opened from a tip")
    case_id = case.name.removeprefix("cases/")
    subject = harness.client.create_subject(case_id, "", "suspect", reason="named in the tip")
    assert subject.name.startswith(case.name + "/subjects/")
    assert subject.label  # defaults to the id, never empty


def test_duplicate_case_is_already_exists_and_audited(harness: Harness) -> None:
    harness.client.create_case("dup", "First", reason="r")
    with pytest.raises(MatcherError) as error:
        harness.client.create_case("dup", "Second", reason="r")
    assert error.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.value.reason == "CASE_ALREADY_EXISTS"
    assert harness.client.get_case("dup").title == "First"
    refused = [r for r in harness.audit("case.create") if r.code == "CASE_ALREADY_EXISTS"]
    assert len(refused) == 1


@pytest.mark.parametrize("bad_id", ["UPPER", "-lead", "trail-", "a" * 64, "sp ace", "x/y"])
def test_invalid_case_id_is_invalid_argument(harness: Harness, bad_id: str) -> None:
    with pytest.raises(MatcherError) as error:
        harness.client.create_case(bad_id, "Bad", reason="r")
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.reason == "FIELD_INVALID"
    assert list(harness.client.list_cases()) == []


def test_P12_missing_reason_is_refused_and_changes_nothing(harness: Harness) -> None:
    with pytest.raises(MatcherError) as error:
        harness.client.create_case("c-9", "No reason", reason="   ")
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.reason == "REASON_REQUIRED"
    assert error.value.rule == "P12"
    assert list(harness.client.list_cases()) == []
    [record] = harness.audit("case.create")
    assert record.code == "REASON_REQUIRED"


def test_subject_needs_a_role(harness: Harness) -> None:
    harness.client.create_case("c-1", "Case", reason="r")
    request = cases_pb2.CreateSubjectRequest(
        parent="cases/c-1", subject_id="s", subject=cases_pb2.Subject(), reason="r"
    )
    with pytest.raises(grpc.RpcError) as error:
        harness.client.cases.CreateSubject(
            request, timeout=5, metadata=(("authorization", f"Bearer {harness.token()}"),)
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(harness.client.list_subjects("c-1")) == []


def test_subjects_of_closed_case_cannot_be_added(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.close_case("c-1", reason="charges filed")
    with pytest.raises(MatcherError) as error:
        harness.client.create_subject("c-1", "late", "suspect", reason="r")
    assert error.value.reason == "CASE_CLOSED"
    assert [s.name for s in harness.client.list_subjects("c-1")] == ["cases/c-1/subjects/poi-1"]


def test_unknown_case_is_not_found(harness: Harness) -> None:
    with pytest.raises(MatcherError) as error:
        harness.client.get_case("nope")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    assert error.value.reason == "CASE_NOT_FOUND"


def test_malformed_resource_name_is_invalid_argument(harness: Harness) -> None:
    with pytest.raises(grpc.RpcError) as error:
        harness.client.cases.GetCase(
            cases_pb2.GetCaseRequest(name="case/x"),
            timeout=5,
            metadata=(("authorization", f"Bearer {harness.token()}"),),
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cases/{case}" in (error.value.details() or "")
