"""Close-up and aligned face crops through the real server and the CLI (issue 10).

Edge devices and NVRs send a face cropped close, or already aligned to 112x112. The server runs
the generated ONNX models (SCRFD's and ArcFace's signatures, real insightface and onnxruntime).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import cv2
import grpc
import numpy as np
import pytest

from matcher.cli import main
from matcher.client import MatcherError
from matcher.faces import synthetic as syn
from tests.conftest import START, Harness, open_case_with_subject
from tests.test_cli_faces import _cli


def _png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def _close_up(seed: int) -> bytes:
    """A 160x160 crop, most of it one face (the 640x640 pass alone saw no face in it)."""
    image = np.full((160, 160, 3), 128, dtype=np.uint8)
    syn.paint(image, (96, 96), syn.face_texture(seed))
    return _png(image)


def _stored(h: Harness) -> int:
    return sum(c.face_template_count for c in h.client.list_cases())


def test_close_up_crop_enrols_and_finds_the_same_face_in_a_scene(face_harness: Harness) -> None:
    h = face_harness
    open_case_with_subject(h)
    template = h.client.enroll_face_photo("c-1", "poi-1", _close_up(5), reason="NVR crop")
    assert (template.face_box.left, template.face_box.right) == pytest.approx((64, 128), abs=1)
    scene = np.full((640, 640, 3), 128, dtype=np.uint8)
    syn.paint(scene, (192, 448), syn.face_texture(5))
    answer = h.client.search_faces_photo(["c-1"], _png(scene), reason="CCTV still")
    assert [m.subject for m in answer.results[0].matches] == ["cases/c-1/subjects/poi-1"]


def test_aligned_crop_is_enrolled_and_searched_as_it_is(face_harness: Harness) -> None:
    h = face_harness
    open_case_with_subject(h)
    crop = _png(syn.face_texture(6, size=112))
    template = h.client.enroll_face_photo("c-1", "poi-1", crop, reason="edge crop", aligned_crop=True)
    assert (template.face_box.right, template.face_box.bottom) == (112, 112)
    answer = h.client.search_faces_photo(["c-1"], crop, reason="edge crop", aligned_crop=True)
    [match] = answer.results[0].matches
    assert match.face_template == template.name and match.score == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (syn.face_texture(6, size=96), "ALIGNED_CROP_WRONG_SIZE"),
        (np.full((112, 112, 3), 128, np.uint8), "NO_FACE"),
    ],
    ids=["96px", "blank"],
)
def test_aligned_crop_refusals_are_invalid_argument_audited_and_store_nothing(
    face_harness: Harness, image: np.ndarray, reason: str
) -> None:
    h = face_harness
    open_case_with_subject(h)
    with pytest.raises(MatcherError) as error:
        h.client.enroll_face_photo("c-1", "poi-1", _png(image), reason="r", aligned_crop=True)
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert _stored(h) == 0
    assert [r.code for r in h.audit("face.enroll")] == [reason]


def test_cli_aligned_crop_flag(
    face_harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    h = face_harness
    open_case_with_subject(h)
    crop = tmp_path / "crop.png"
    crop.write_bytes(_png(syn.face_texture(7, size=112)))
    enrol = ["enroll", "c-1", "poi-1", "--photo", str(crop), "--reason", "edge crop"]
    code, out, _ = _cli(h, capsys, *enrol, "--aligned-crop")
    assert code == 0 and "faceTemplates" in out
    code, out, _ = _cli(
        h,
        capsys,
        "--json",
        "search",
        "--case",
        "c-1",
        "--photo",
        str(crop),
        "--aligned-crop",
        "--reason",
        "r",
    )
    assert code == 0
    [result] = json.loads(out)["results"]
    assert [m["subject"] for m in result["matches"]] == ["cases/c-1/subjects/poi-1"]


def test_camera_reports_an_aligned_crop_and_the_order_alerts(
    face_harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    h = face_harness
    admin, registry = h.as_("local-admin"), h.as_("local-registry")
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
    crop = _png(syn.face_texture(8, size=112))
    registry.enroll_order_face("o-1", photo=crop, reason="photo from the order file", aligned_crop=True)
    h.clock.set(START + timedelta(hours=2))
    camera = h.as_("local-camera")
    at = START + timedelta(hours=2)
    # Without the flag the 112x112 texture is no single face to the detector; with it, it is one.
    result = camera.report_sighting("cam-1", at, image=crop, aligned_crop=True)
    assert (result.faces, result.accepted) == (1, True)  # the gateway is not told who (issue 17)
    assert len(h.app.individuals.pending_alerts("local-operator", frozenset({"park"}), None)) == 1
    with pytest.raises(MatcherError) as error:
        camera.report_sighting("cam-1", at, image=_png(syn.face_texture(8, size=100)), aligned_crop=True)
    assert error.value.reason == "ALIGNED_CROP_WRONG_SIZE"
    path = tmp_path / "crop.png"
    path.write_bytes(crop)
    token = h.data_dir / "tokens" / "local-camera.token"
    args = ["sighting", "cam-1", "--photo", str(path), "--aligned-crop", "--at", at.isoformat()]
    code = main(
        ["--target", h.target, "--token-file", str(token), *args, "--reason", "exclusion-zone monitoring"]
    )
    assert code == 0 and "accepted: 1 face(s) checked" in capsys.readouterr().out
