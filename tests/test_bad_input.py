"""Issue 17: bad input gets a clear error, an audit record and loses nothing; no personal data in
the log or the audit detail (P7, P8, P16).

A NUL byte once passed validation and failed inside PostgreSQL: the answer was INTERNAL or
UNKNOWN, SQLAlchemy's error (with its ``[parameters: ...]``) went to the log with a reason, a
subject's label and a plate, and a refused role's call left no audit record and no notice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import cast

import grpc
import pytest

from matcher.client import MatcherClient, MatcherError, embedding
from matcher.v1 import faces_pb2, governance_pb2
from tests.conftest import Harness, open_case_with_subject, unit

LABEL = "Jane Q. Public"
PLATE = "KRW301"
REASON = "tip from a neighbour about the red van"


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() + (str(r.exc_info) if r.exc_info else "") for r in caplog.records)


def test_NUL_in_any_text_field_is_invalid_argument_audited_and_never_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    open_case_with_subject(harness)
    caplog.set_level(logging.DEBUG)
    attempts: list[Callable[[], object]] = [
        lambda: harness.client.create_subject("c-1", "s-2", "poi", label=f"{LABEL}\x00", reason=REASON),
        lambda: harness.client.create_case("c-2", "Title", reason=f"{REASON}\x00"),
        lambda: harness.client.add_plate("c-1", f"{PLATE}\x00", reason=REASON),
        lambda: harness.client.close_case("c-1", reason=f"{REASON}\x00"),
    ]
    for attempt in attempts:
        with pytest.raises(MatcherError) as error:
            attempt()
        assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
        assert "U+0000" in error.value.details
    refused = [r for r in harness.audit() if r.code == "FIELD_INVALID"]
    assert len(refused) == len(attempts)
    assert all("\x00" not in r.reason + r.resource + r.detail_json for r in refused)
    # Nothing changed, and nothing personal reached the log.
    assert harness.client.get_case("c-1").state == 1 and len(list(harness.client.list_subjects("c-1"))) == 1
    logged = _everything_logged(caplog)
    for secret in (LABEL, PLATE, REASON):
        assert secret not in logged


def test_P16_a_refused_role_with_NUL_in_its_reason_is_audited_and_noticed(harness: Harness) -> None:
    open_case_with_subject(harness)
    admin = harness.as_("local-admin")
    notices: list[governance_pb2.Notice] = []
    stream = admin.governance.WatchNotices(
        governance_pb2.WatchNoticesRequest(), timeout=20, metadata=admin._metadata
    )

    def listen() -> None:
        try:
            for notice in stream:
                notices.append(notice)
        except grpc.RpcError as ended:  # cancelled below
            assert ended.code() == grpc.StatusCode.CANCELLED

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(0.5)
    with pytest.raises(MatcherError) as error:
        harness.as_("local-auditor").close_case("c-1", reason="close it\x00now")
    assert error.value.code == grpc.StatusCode.PERMISSION_DENIED  # authorised before validation
    deadline = time.monotonic() + 10
    while not notices and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.cancel()
    [record] = [r for r in harness.audit("case.close") if r.actor == "local-auditor"]
    assert record.code == "ROLE_NOT_PERMITTED" and "\x00" not in record.reason
    assert notices and notices[0].principal == "principals/local-auditor"


def test_P8_refused_plate_reads_and_entries_never_reach_the_audit_log(harness: Harness) -> None:
    open_case_with_subject(harness)
    with pytest.raises(MatcherError):
        harness.client.check_plate(PLATE, confidences=[0.9] * 5, case_ids=["c-1"], reason=REASON)
    with pytest.raises(MatcherError):
        harness.client.add_plate("c-1", f"{PLATE}!!", reason=REASON)
    stored = "".join(r.detail_json + r.resource + r.code for r in harness.audit())
    assert PLATE not in stored


def test_a_huge_model_name_is_refused_with_a_bounded_error_and_record(harness: Harness) -> None:
    open_case_with_subject(harness)
    for size in (260_000, 9_000):
        request = faces_pb2.SearchFacesRequest(
            cases=["cases/c-1"],
            probe=faces_pb2.FaceInput(embedding=embedding(unit(1), model="m" * size)),
            reason="r",
        )
        with pytest.raises(grpc.RpcError) as error:
            harness.client.faces.SearchFaces(request, timeout=10, metadata=harness.client._metadata)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert len(error.value.details() or "") <= 1000
    for record in harness.audit("faces.search"):
        assert len(record.detail_json) < 2000 and len(record.resource) <= 300


def test_an_alert_id_beyond_64_bits_is_invalid_argument(harness: Harness) -> None:
    with pytest.raises(MatcherError) as error:
        harness.as_("local-operator").ack_alert("alerts/99999999999999999999999")
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")


def test_an_unnamed_enum_number_is_invalid_argument(harness: Harness) -> None:
    open_case_with_subject(harness)
    raw = MatcherClient(grpc.insecure_channel(harness.target), harness.token(), timeout=10)
    try:
        from matcher.v1 import cases_pb2

        # -1 names no Role: the stubs rightly refuse it, and the server must too.
        request = cases_pb2.CreateSubjectRequest(
            parent="cases/c-1",
            subject_id="s-9",
            subject=cases_pb2.Subject(role=cast("cases_pb2.Subject.Role", -1)),
            reason="r",
        )
        with pytest.raises(grpc.RpcError) as error:
            raw.cases.CreateSubject(request, timeout=10, metadata=raw._metadata)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "does not name" in (error.value.details() or "")
    finally:
        raw.close()
