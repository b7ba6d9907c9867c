"""A refused photo's details reach the client and the CLI (issue 10).

The service sends what its detector saw (boxes, scores, the gate each face failed) with
MULTIPLE_FACES and friends. ``MatcherError.image`` keeps them, typed, and the CLI prints them, for
people and with ``--json``, so the investigator can pass one of the boxes as ``--face-box``. All
through the real server running the generated face models.
"""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import numpy as np
import pytest

from matcher.client import MatcherError
from matcher.faces import synthetic as syn
from matcher.status_details import SeenBox
from tests.conftest import Harness, open_case_with_subject
from tests.test_cli_faces import _cli
from tests.test_face_photos import CENTRES, photo
from tests.test_plate_images import _png, plate_harness, plate_models  # noqa: F401  (fixtures)

GROUP = [(seed, centre) for seed, centre in zip(range(10, 13), CENTRES[:3], strict=True)]


def test_multiple_faces_details_are_typed_and_one_box_enrols(face_harness: Harness) -> None:
    h = face_harness
    open_case_with_subject(h)
    with pytest.raises(MatcherError) as error:
        h.client.enroll_face_photo("c-1", "poi-1", photo(*GROUP), reason="r")
    image = error.value.image
    assert error.value.reason == "MULTIPLE_FACES" and image is not None
    assert image.kind == "faces" and image.image_size == (640, 640)
    assert len(image.usable) == 3 and all(isinstance(b, SeenBox) for b in image.boxes)
    assert image.total == 3
    centres = sorted(((b.box[0] + b.box[2]) / 2, (b.box[1] + b.box[3]) / 2) for b in image.usable)
    assert centres == sorted((float(x), float(y)) for _, (x, y) in GROUP)  # the faces painted
    assert image.thresholds["min_det_score"] == 0.5
    chosen = image.usable[1]
    template = h.client.enroll_face_photo("c-1", "poi-1", photo(*GROUP), reason="r", face_box=chosen.box)
    assert template.face_box.left == pytest.approx(chosen.box[0], abs=1)


def test_face_box_not_found_says_which_box_was_asked_and_its_best_overlap(face_harness: Harness) -> None:
    h = face_harness
    open_case_with_subject(h)
    with pytest.raises(MatcherError) as error:
        h.client.enroll_face_photo("c-1", "poi-1", photo(*GROUP), reason="r", face_box=(400, 400, 500, 500))
    image = error.value.image
    assert error.value.reason == "FACE_BOX_NOT_FOUND" and image is not None
    assert image.face_box == (400.0, 400.0, 500.0, 500.0)
    assert image.best_iou == 0.0 and len(image.boxes) == 3


def test_refusal_without_photo_details_has_none(face_harness: Harness) -> None:
    open_case_with_subject(face_harness)
    with pytest.raises(MatcherError) as error:
        face_harness.client.enroll_face("c-2", "poi-1", np.ones(512), reason="r")
    assert error.value.image is None and error.value.as_dict()["image"] is None


def test_cli_prints_the_boxes_and_one_of_them_works_as_face_box(
    face_harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    h = face_harness
    open_case_with_subject(h)
    group = tmp_path / "group.png"
    group.write_bytes(photo(*GROUP))
    enrol = ["enroll", "c-1", "poi-1", "--photo", str(group), "--reason", "booking photo"]
    code, out, err = _cli(h, capsys, *enrol)
    assert code == 1 and out == ""
    assert "MULTIPLE_FACES" in err and "choose one with --face-box" in err
    rows = [line.split() for line in err.splitlines() if line[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2", "3"] and {row[3] for row in rows} == {"usable"}
    code, out, _ = _cli(h, capsys, *enrol, "--face-box", rows[2][1])
    assert code == 0 and "faceTemplates" in out


def test_cli_json_refusal_carries_the_details_on_stdout(
    face_harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    h = face_harness
    open_case_with_subject(h)
    group = tmp_path / "group.png"
    group.write_bytes(photo(*GROUP))
    code, out, err = _cli(
        h, capsys, "--json", "enroll", "c-1", "poi-1", "--photo", str(group), "--reason", "r"
    )
    assert code == 1 and "MULTIPLE_FACES" in err
    refusal = json.loads(out)["error"]
    assert (refusal["code"], refusal["reason"]) == ("INVALID_ARGUMENT", "MULTIPLE_FACES")
    boxes = refusal["image"]["boxes"]
    assert len(boxes) == 3 and all(b["rejected"] is None and b["score"] > 0.5 for b in boxes)
    box = ",".join(f"{v:g}" for v in boxes[0]["box"])
    code, out, _ = _cli(
        h,
        capsys,
        "--json",
        "enroll",
        "c-1",
        "poi-1",
        "--photo",
        str(group),
        "--face-box",
        box,
        "--reason",
        "r",
    )
    assert code == 0 and json.loads(out)["name"].startswith("cases/c-1/subjects/poi-1/faceTemplates/")


def test_no_plate_details_are_typed_as_plates(plate_harness: Harness) -> None:  # noqa: F811
    open_case_with_subject(plate_harness)
    grey = _png(np.full((480, 640, 3), 128, dtype=np.uint8))
    with pytest.raises(MatcherError) as error:
        plate_harness.client.check_plate(image=grey, case_ids=["c-1"], reason="r")
    image = error.value.image
    assert error.value.reason == "NO_PLATE" and image is not None
    assert (image.kind, image.image_size, image.boxes) == ("plates", (640, 480), ())


def test_a_photo_with_hundreds_of_candidate_boxes_is_still_refused_with_its_details(
    face_harness: Harness,
) -> None:
    """A bright texture filling the frame gives the synthetic detector hundreds of candidates;
    listed in full, the refusal's details outgrew gRPC's 16 KiB metadata cap and the client got
    RESOURCE_EXHAUSTED ("received metadata size exceeds hard limit") instead of the refusal."""
    open_case_with_subject(face_harness)
    with pytest.raises(MatcherError) as error:
        face_harness.client.enroll_face_photo("c-1", "poi-1", _png(syn.face_texture(8, size=640)), reason="r")
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.reason == "MULTIPLE_FACES"
    image = error.value.image
    assert image is not None and len(image.boxes) == 32 and image.total > 32
    assert json.loads(error.value.metadata["faces"])["faces_total"] == image.total


def test_the_client_reads_refusal_details_without_importing_the_server() -> None:
    """The client library (and its typed refusal details) is what partners and consoles install:
    it must not pull in the service's transport, domain or models."""
    import subprocess
    import sys

    code = (
        "import sys, matcher.client, matcher.status_details; "
        "print(sorted(m for m in sys.modules if m.startswith(('lifecycle', 'matcher.transport', "
        "'matcher.server', 'matcher.app', 'matcher.faces', 'matcher.plates', 'onnxruntime'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
