"""Embeddings near float32's limit keep their direction (issue 17).

512 values of 3e38 are finite, but their norm (about 6.8e39) is not a float32: normalising in
float32 divided by infinity and stored an all-zero template that answered every search at score 0.
Cosine similarity does not depend on scale, so such an embedding must be stored, searched and
sighted as the direction it has, never as zeros.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from matcher.client import MatcherError
from matcher.v1 import faces_pb2
from tests.conftest import DIM, START, Harness, open_case_with_subject

HUGE = np.full(DIM, 3e38, dtype=np.float32)
SAME_DIRECTION = np.ones(DIM, dtype=np.float32)


def test_huge_finite_embedding_is_enrolled_as_its_direction_not_as_zeros(harness: Harness) -> None:
    open_case_with_subject(harness)
    template = harness.client.enroll_face("c-1", "poi-1", HUGE, reason="booking photo")
    answer = harness.client.search_faces(["c-1"], SAME_DIRECTION, reason="r", min_score=-1.0)
    [match] = answer.results[0].matches
    assert match.face_template == template.name
    assert match.score == pytest.approx(1.0, abs=1e-5)


def test_huge_finite_probe_searches_as_its_direction(harness: Harness) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", SAME_DIRECTION, reason="booking photo")
    answer = harness.client.search_faces(["c-1"], HUGE, reason="r")
    assert [m.score for m in answer.results[0].matches] == pytest.approx([1.0], abs=1e-5)


def test_huge_finite_sighting_face_raises_the_alert(harness: Harness) -> None:
    admin, registry = harness.as_("local-admin"), harness.as_("local-registry")
    admin.create_camera("cam-1", description="gate", reason="installed")
    admin.create_zone("park", ["cam-1"], description="Forest Park", reason="r")
    registry.create_order(
        "o-1",
        label="RI-o-1",
        legal_reference="Circuit Court order 26-PO-7",
        zones=["park"],
        start=START + timedelta(hours=1),
        end=START + timedelta(days=1),
        reason="protection order",
    )
    registry.enroll_order_face("o-1", SAME_DIRECTION, reason="photo from the order file")
    harness.clock.set(START + timedelta(hours=2))
    result = harness.as_("local-camera").report_sighting("cam-1", START + timedelta(hours=2), [HUGE])
    assert result.accepted  # the gateway is not told who matched (issue 17); the operator is:
    assert len(harness.app.individuals.pending_alerts("local-operator", frozenset({"park"}), None)) == 1


def test_all_zero_embedding_is_still_refused_after_the_float64_normalisation(harness: Harness) -> None:
    open_case_with_subject(harness)
    request = faces_pb2.SearchFacesRequest(
        cases=["cases/c-1"],
        probe=faces_pb2.FaceInput(embedding=faces_pb2.Embedding(values=np.zeros(DIM, "<f4").tobytes())),
        reason="r",
    )
    with pytest.raises(MatcherError) as error:
        harness.client._call(harness.client.faces.SearchFaces, request)
    assert error.value.reason == "EMBEDDING_ZERO"
