"""P1: enrolment needs an open case and an active person of interest or suspect.

Each refusal has its own status code and reason, leaves an audit record, and stores nothing.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from matcher.client import MatcherError, embedding
from matcher.v1 import cases_pb2, faces_pb2
from tests.conftest import DIM, Harness, open_case_with_subject, unit


def _stored(h: Harness) -> int:
    return sum(c.face_template_count for c in h.client.list_cases())


def _refused(h: Harness, action: str, code: str) -> list:  # type: ignore[type-arg]
    return [r for r in h.audit(action) if r.code == code]


def test_P1_enrol_active_person_of_interest_and_suspect(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.create_subject("c-1", "sus-1", "suspect", reason="seen on camera")
    first = harness.client.enroll_face("c-1", "poi-1", unit(1), reason="booking photo")
    harness.client.enroll_face("c-1", "sus-1", unit(2), reason="booking photo")
    assert first.name.startswith("cases/c-1/subjects/poi-1/faceTemplates/")
    assert first.model == "arcface-512"
    assert harness.client.get_subject("c-1", "poi-1").face_template_count == 1
    assert [t.name for t in harness.client.list_face_templates("c-1", "poi-1")] == [first.name]
    records = harness.audit("face.enroll")
    assert [(r.resource, r.outcome, r.count) for r in records] == [
        ("cases/c-1/subjects/poi-1", 1, 1),
        ("cases/c-1/subjects/sus-1", 1, 1),
    ]


@pytest.mark.parametrize("role", ["witness", "victim"])
def test_P1_enrol_refuses_roles_that_may_not_be_targeted(harness: Harness, role: str) -> None:
    open_case_with_subject(harness, subject_id="person", role=role)
    with pytest.raises(MatcherError) as error:
        harness.client.enroll_face("c-1", "person", unit(1), reason="r")
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.reason == "SUBJECT_ROLE_NOT_TARGETABLE"
    assert error.value.rule == "P1"
    assert _stored(harness) == 0
    assert len(_refused(harness, "face.enroll", "SUBJECT_ROLE_NOT_TARGETABLE")) == 1


def test_P1_enrol_refuses_closed_case(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.close_case("c-1", reason="suspect convicted")
    with pytest.raises(MatcherError) as error:
        harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.reason == "CASE_CLOSED"
    assert _stored(harness) == 0
    assert len(_refused(harness, "face.enroll", "CASE_CLOSED")) == 1


def test_P1_enrol_refuses_released_subject(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.release_subject("c-1", "poi-1", reason="alibi confirmed")
    with pytest.raises(MatcherError) as error:
        harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.reason == "SUBJECT_RELEASED"
    assert _stored(harness) == 0


def test_P1_enrol_unknown_case_is_denied_without_revealing_it_and_unknown_subject_not_found(
    harness: Harness,
) -> None:
    open_case_with_subject(harness)
    harness.as_("local-admin")  # (other principals exist; the investigator is assigned c-1 only)
    supervisor_only = harness.client.create_case("other", "Not mine", reason="r")
    assert supervisor_only.name == "cases/other"
    with pytest.raises(MatcherError) as unknown:
        harness.client.enroll_face("ghost", "poi-1", unit(1), reason="r")
    with pytest.raises(MatcherError) as error:
        harness.client.enroll_face("c-1", "ghost", unit(1), reason="r")
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.NOT_FOUND, "SUBJECT_NOT_FOUND")
    assert (unknown.value.code, unknown.value.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "CASE_NOT_ASSIGNED",
    )
    assert len(_refused(harness, "face.enroll", "CASE_NOT_ASSIGNED")) == 1
    assert _stored(harness) == 0


def test_P12_enrol_without_reason_is_refused(harness: Harness) -> None:
    open_case_with_subject(harness)
    with pytest.raises(MatcherError) as error:
        harness.client.enroll_face("c-1", "poi-1", unit(1), reason="")
    assert error.value.reason == "REASON_REQUIRED"
    assert _stored(harness) == 0


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (np.ones(DIM - 1, dtype=np.float32).tobytes(), "EMBEDDING_WRONG_DIMENSION"),
        (np.ones(DIM + 1, dtype=np.float32).tobytes(), "EMBEDDING_WRONG_DIMENSION"),
        (b"\x00\x01\x02", "EMBEDDING_WRONG_DIMENSION"),
        (b"", "EMBEDDING_WRONG_DIMENSION"),
        (np.full(DIM, np.nan, dtype=np.float32).tobytes(), "EMBEDDING_NOT_FINITE"),
        (np.r_[np.ones(DIM - 1), np.inf].astype(np.float32).tobytes(), "EMBEDDING_NOT_FINITE"),
        (np.zeros(DIM, dtype=np.float32).tobytes(), "EMBEDDING_ZERO"),
    ],
    ids=["short", "long", "ragged", "empty", "nan", "inf", "zero"],
)
def test_malformed_embedding_is_invalid_argument(harness: Harness, values: bytes, reason: str) -> None:
    open_case_with_subject(harness)
    request = faces_pb2.EnrollFaceRequest(
        parent="cases/c-1/subjects/poi-1",
        face=faces_pb2.FaceInput(embedding=faces_pb2.Embedding(values=values)),
        reason="r",
    )
    with pytest.raises(MatcherError) as error:
        harness.client._call(harness.client.faces.EnrollFace, request)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.reason == reason
    assert _stored(harness) == 0
    assert len(_refused(harness, "face.enroll", reason)) == 1


def test_unknown_model_is_refused(harness: Harness) -> None:
    open_case_with_subject(harness)
    with pytest.raises(MatcherError) as error:
        harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r", model="other-model")
    assert error.value.reason == "MODEL_UNKNOWN"
    assert _stored(harness) == 0


def test_image_input_without_face_models_is_failed_precondition(harness: Harness) -> None:
    open_case_with_subject(harness)
    request = faces_pb2.EnrollFaceRequest(
        parent="cases/c-1/subjects/poi-1",
        face=faces_pb2.FaceInput(image=faces_pb2.Image(data=b"\xff\xd8\xff")),
        reason="r",
    )
    with pytest.raises(MatcherError) as error:
        harness.client._call(harness.client.faces.EnrollFace, request)
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.reason == "FACE_PIPELINE_UNAVAILABLE"
    assert "matcher models install" in error.value.details


def test_missing_face_is_invalid_argument(harness: Harness) -> None:
    open_case_with_subject(harness)
    request = faces_pb2.EnrollFaceRequest(parent="cases/c-1/subjects/poi-1", reason="r")
    with pytest.raises(MatcherError) as error:
        harness.client._call(harness.client.faces.EnrollFace, request)
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")


def test_oversized_message_is_resource_exhausted_and_audited(harness: Harness) -> None:
    open_case_with_subject(harness)
    request = faces_pb2.EnrollFaceRequest(
        parent="cases/c-1/subjects/poi-1",
        face=faces_pb2.FaceInput(embedding=embedding(np.ones(300_000, dtype=np.float32))),
        reason="r",
    )
    with pytest.raises(MatcherError) as error:
        harness.client._call(harness.client.faces.EnrollFace, request)
    assert error.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.value.reason == "MESSAGE_TOO_LARGE"
    assert _stored(harness) == 0
    assert len(_refused(harness, "face.enroll", "MESSAGE_TOO_LARGE")) == 1


def test_P16_unauthenticated_call_is_refused_and_audited(harness: Harness) -> None:
    open_case_with_subject(harness)
    stub_request = faces_pb2.EnrollFaceRequest(
        parent="cases/c-1/subjects/poi-1",
        face=faces_pb2.FaceInput(embedding=embedding(unit(1))),
        reason="r",
    )
    for metadata in [(), (("authorization", "Bearer wrong-token"),)]:
        with pytest.raises(grpc.RpcError) as error:
            harness.client.faces.EnrollFace(stub_request, timeout=5, metadata=metadata)
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    harness.service.failures.flush()  # recorded off the call path, by the failure ledger
    failures = harness.audit("auth.failure")
    assert [r.actor.split(":")[0] for r in failures] == ["anonymous", "token"]
    assert "wrong-token" not in "".join(r.actor + r.detail_json for r in failures)  # never the secret
    assert _stored(harness) == 0


def test_call_without_deadline_is_refused(harness: Harness) -> None:
    with pytest.raises(grpc.RpcError) as error:
        harness.client.cases.ListCases(
            cases_pb2.ListCasesRequest(), metadata=(("authorization", f"Bearer {harness.token()}"),)
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "deadline" in (error.value.details() or "")
    assert next(r.code for r in harness.audit("case.list")) == "DEADLINE_REQUIRED"
