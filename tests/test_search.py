"""Face search: exact answers, scoped to the named open cases, probes never kept (P7)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from matcher.client import MatcherError
from tests.conftest import Harness, near, open_case_with_subject, unit


def _enrol_gallery(
    h: Harness, case_id: str, subjects: int, per_subject: int, seed: int
) -> dict[str, np.ndarray]:
    h.client.create_case(case_id, "Case", reason="r")
    vectors = {}
    for s in range(subjects):
        sid = f"s-{s}"
        h.client.create_subject(case_id, sid, "suspect", reason="r")
        for t in range(per_subject):
            vector = unit(seed * 10_000 + s * 100 + t)
            template = h.client.enroll_face(case_id, sid, vector, reason="r")
            vectors[template.name] = vector
    return vectors


def test_search_finds_the_enrolled_subject(harness: Harness) -> None:
    open_case_with_subject(harness)
    face = unit(7)
    template = harness.client.enroll_face("c-1", "poi-1", face, reason="booking photo")
    harness.client.create_subject("c-1", "other", "suspect", reason="r")
    harness.client.enroll_face("c-1", "other", unit(8), reason="r")
    answer = harness.client.search_faces(["c-1"], near(face, 1), reason="still from CCTV, 4th st")
    [result] = answer.results
    assert [m.subject for m in result.matches] == ["cases/c-1/subjects/poi-1"]
    assert result.matches[0].face_template == template.name
    assert result.matches[0].score > 0.9
    assert answer.min_score == pytest.approx(0.35)
    [record] = harness.audit("faces.search")
    assert (record.resource, record.count, record.reason) == ("cases/c-1", 1, "still from CCTV, 4th st")


def test_search_top_k_equals_brute_force(harness: Harness) -> None:
    vectors = _enrol_gallery(harness, "big", subjects=20, per_subject=5, seed=3)
    names = list(vectors)
    matrix = np.stack([vectors[n] for n in names])
    for probe_seed in range(5):
        probe = near(vectors[names[probe_seed * 7]], probe_seed, noise=4.0)
        answer = harness.client.search_faces(["big"], probe, reason="r", top_k=8, min_score=-1.0)
        scores = matrix @ probe
        expected = [names[i] for i in np.argsort(-scores, kind="stable")[:8]]
        got = [m.face_template for m in answer.results[0].matches]
        assert got == expected
        assert [m.score for m in answer.results[0].matches] == pytest.approx(
            sorted(scores, reverse=True)[:8], abs=1e-5
        )


def test_search_never_returns_templates_of_cases_not_named(harness: Harness) -> None:
    face = unit(11)
    for case_id in ("alpha", "beta"):
        harness.client.create_case(case_id, case_id, reason="r")
        harness.client.create_subject(case_id, "s", "suspect", reason="r")
    harness.client.enroll_face("beta", "s", face, reason="r")  # The look-alike sits in beta only.
    harness.client.enroll_face("alpha", "s", unit(12), reason="r")
    only_alpha = harness.client.search_faces(["alpha"], face, reason="r", min_score=-1.0)
    assert {m.case for m in only_alpha.results[0].matches} == {"cases/alpha"}
    both = harness.client.search_faces(["alpha", "beta"], face, reason="r")
    assert both.results[0].matches[0].case == "cases/beta"
    assert harness.audit("faces.search")[-1].resource == "cases/alpha+1"


def test_search_threshold_filters_weak_matches(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    answer = harness.client.search_faces(["c-1"], unit(2), reason="r", min_score=0.5)
    assert list(answer.results[0].matches) == []
    assert harness.audit("faces.search")[-1].count == 0


def test_search_refuses_closed_unknown_and_unnamed_cases(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    harness.client.create_case("closed", "Closed", reason="r")
    harness.client.close_case("closed", reason="done")
    cases: list[tuple[list[str], grpc.StatusCode, str]] = [
        (["c-1", "closed"], grpc.StatusCode.FAILED_PRECONDITION, "CASE_CLOSED"),
        (["c-1", "ghost"], grpc.StatusCode.PERMISSION_DENIED, "CASE_NOT_ASSIGNED"),
        ([], grpc.StatusCode.PERMISSION_DENIED, "CASE_NOT_ASSIGNED"),  # must name its cases
        (["c-1", "c-1"], grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"),
    ]
    for names, code, reason in cases:
        with pytest.raises(MatcherError) as error:
            harness.client.search_faces(names, unit(1), reason="r")
        assert (error.value.code, error.value.reason) == (code, reason)
    refused = [r.code for r in harness.audit("faces.search")]
    assert refused == ["CASE_CLOSED", "CASE_NOT_ASSIGNED", "CASE_NOT_ASSIGNED", "FIELD_INVALID"]


@pytest.mark.parametrize(("top_k", "min_score"), [(101, 0.3), (-1, 0.3), (5, 1.5), (5, -2.0)])
def test_search_parameters_out_of_range(harness: Harness, top_k: int, min_score: float) -> None:
    open_case_with_subject(harness)
    with pytest.raises(MatcherError) as error:
        harness.client.search_faces(["c-1"], unit(1), reason="r", top_k=top_k, min_score=min_score)
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")


def test_P12_search_without_reason_is_refused(harness: Harness) -> None:
    open_case_with_subject(harness)
    with pytest.raises(MatcherError) as error:
        harness.client.search_faces(["c-1"], unit(1), reason="")
    assert error.value.reason == "REASON_REQUIRED"


def test_P7_probes_are_not_stored(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", unit(1), reason="r")
    before = harness.app.faces.size()
    probe = unit(99)
    for _ in range(3):
        harness.client.search_faces(["c-1"], probe, reason="r")
    assert harness.app.faces.size() == before
    assert not harness.app.faces.contains_vector(probe)
    assert harness.client.get_case("c-1").face_template_count == 1
    for record in harness.audit("faces.search"):
        assert "values" not in record.detail_json and len(record.detail_json) < 300
