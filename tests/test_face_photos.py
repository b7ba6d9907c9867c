"""Photos in, templates out, through the real server: enrolment and search from images (issue 3).

The server runs generated ONNX models with SCRFD's and ArcFace's real signatures, so insightface's
own loading, detection, alignment and embedding run for real. Real weights on real photos are
exercised where ../shared has them, and skipped with the reason where it does not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import grpc
import numpy as np
import pytest

from matcher.client import MatcherError
from matcher.faces import synthetic as syn
from tests.conftest import Harness, open_case_with_subject, running_server

SHARED = Path(os.environ.get("MATCHER_SHARED_DIR", Path(__file__).resolve().parents[1] / ".." / "shared"))
CENTRES = [
    (96, 96),
    (320, 96),
    (544, 96),
    (96, 320),
    (320, 320),
    (544, 320),
    (96, 544),
    (320, 544),
    (544, 544),
]


def photo(*faces: tuple[int, tuple[int, int]], ext: str = ".png") -> bytes:
    """A grey 640x640 scene with synthetic faces (identity seed, centre)."""
    image = np.full((640, 640, 3), 128, dtype=np.uint8)
    for seed, centre in faces:
        syn.paint(image, centre, syn.face_texture(seed))
    ok, buffer = cv2.imencode(ext, image)
    assert ok
    return buffer.tobytes()


def _stored(h: Harness) -> int:
    return sum(c.face_template_count for c in h.client.list_cases())


def test_enrol_from_photo_and_search_each_face_of_a_still(face_harness: Harness) -> None:
    h = face_harness
    open_case_with_subject(h)
    h.client.create_subject("c-1", "poi-2", "suspect", reason="r")
    t1 = h.client.enroll_face_photo("c-1", "poi-1", photo((1, (320, 320))), reason="booking photo")
    h.client.enroll_face_photo("c-1", "poi-2", photo((2, (192, 192))), reason="booking photo")
    assert t1.model == h.app.pipeline.model_id  # type: ignore[union-attr]
    assert t1.face_box.right - t1.face_box.left == pytest.approx(syn.FACE, abs=2)
    still = photo((2, (96, 96)), (1, (544, 544)), (77, (320, 544)))  # 77: nobody enrolled
    answer = h.client.search_faces_photo(["c-1"], still, reason="CCTV still")
    by_box = {
        (round(r.face_box.left), round(r.face_box.top)): [m.subject for m in r.matches]
        for r in answer.results
    }
    assert by_box == {
        (64, 64): ["cases/c-1/subjects/poi-2"],
        (512, 512): ["cases/c-1/subjects/poi-1"],
        (288, 512): [],
    }
    [record] = h.audit("faces.search")
    assert record.count == 2 and json.loads(record.detail_json)["probes"] == 3


def test_model_identity_is_recorded_and_embeddings_of_other_models_never_compared(
    face_harness: Harness,
) -> None:
    h = face_harness
    open_case_with_subject(h)
    h.client.enroll_face_photo("c-1", "poi-1", photo((1, (320, 320))), reason="r")
    pipeline_model = h.app.pipeline.model_id  # type: ignore[union-attr]
    [template] = h.client.list_face_templates("c-1", "poi-1")
    assert template.model == pipeline_model
    face = h.app.pipeline.embed_image(photo((1, (320, 320))), purpose="enrol")[0].embedding  # type: ignore[union-attr]
    # The same numbers declared as another model's embedding find nothing: separate galleries.
    other = h.client.search_faces(["c-1"], face, reason="r", model="arcface-512", min_score=-1.0)
    assert list(other.results[0].matches) == []
    same = h.client.search_faces(["c-1"], face, reason="r", model=pipeline_model)
    assert same.results[0].matches[0].score > 0.999


def test_multiple_faces_for_enrolment_lists_boxes_then_face_box_chooses(face_harness: Harness) -> None:
    h = face_harness
    open_case_with_subject(h)
    group = photo(*[(seed, centre) for seed, centre in zip(range(10, 19), CENTRES, strict=True)])
    with pytest.raises(MatcherError) as error:
        h.client.enroll_face_photo("c-1", "poi-1", group, reason="r")
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "MULTIPLE_FACES")
    assert _stored(h) == 0
    template = h.client.enroll_face_photo("c-1", "poi-1", group, reason="r", face_box=(288, 288, 352, 352))
    assert template.face_box.left == pytest.approx(288, abs=2)
    answer = h.client.search_faces_photo(["c-1"], photo((14, (96, 480))), reason="r")
    assert [m.subject for m in answer.results[0].matches] == ["cases/c-1/subjects/poi-1"]


def _huge_png_header() -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + iend  # A complete, tiny file claiming 400 megapixels.


BAD_PHOTOS: dict[str, tuple[Callable[[], bytes], str]] = {
    "truncated-jpeg": (lambda: photo((1, (320, 320)), ext=".jpg")[:900], "IMAGE_TRUNCATED"),
    "zero-bytes": (lambda: b"", "IMAGE_EMPTY"),
    "one-pixel": (
        lambda: cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes(),
        "IMAGE_TOO_SMALL",
    ),
    "20000x20000": (_huge_png_header, "IMAGE_TOO_LARGE"),
    "no-face": (lambda: photo(), "NO_FACE"),
    "grey": (lambda: cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))[1].tobytes(), "NO_FACE"),
    "not-an-image": (lambda: b"GIF89a" + b"\x00" * 100, "IMAGE_UNSUPPORTED_FORMAT"),
}


@pytest.mark.parametrize("name", sorted(BAD_PHOTOS))
def test_bad_photos_are_refused_with_a_reason_and_nothing_stored(face_harness: Harness, name: str) -> None:
    h = face_harness
    open_case_with_subject(h)
    make, reason = BAD_PHOTOS[name]
    with pytest.raises(MatcherError) as error:
        h.client.enroll_face_photo("c-1", "poi-1", make(), reason="r")
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert _stored(h) == 0
    assert [r.code for r in h.audit("face.enroll")] == [reason]


def test_photo_is_refused_clearly_when_models_are_missing(tmp_path: Path, backend: str) -> None:
    with running_server(tmp_path / "data", backend) as h:
        open_case_with_subject(h)
        with pytest.raises(MatcherError) as error:
            h.client.enroll_face_photo("c-1", "poi-1", photo((1, (320, 320))), reason="r")
        assert error.value.reason == "FACE_PIPELINE_UNAVAILABLE"
        assert "matcher models install" in error.value.details
        h.client.enroll_face("c-1", "poi-1", np.ones(512, np.float32), reason="embeddings still work")


# --- real weights on real photos ---------------------------------------------------------------


def _real(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is absent: real weights and photos live in ../shared, never in the repo")
    return path


@pytest.fixture
def real_harness(tmp_path: Path, backend: str) -> Iterator[Harness]:
    detector = _real("models", "scrfd_500m", "det_500m.onnx")
    recognizer = _real("models", "w600k_mbf_int8", "mobilefacenet_int8.onnx")
    with running_server(tmp_path / "data", backend, face_detector=detector, face_recognizer=recognizer) as h:
        yield h


def test_real_photos_enrol_one_photo_find_the_person_in_another(real_harness: Harness) -> None:
    h = real_harness
    h.client.create_case("c-1", "Real photos", reason="r")
    for person in ("obama", "biden", "kit", "rose"):
        h.client.create_subject("c-1", person, "suspect", reason="r")
    for person, file in [
        ("obama", "obama.jpg"),
        ("biden", "biden.jpg"),
        ("kit", "kit_harington1.jpeg"),
        ("rose", "rose_leslie1.jpg"),
    ]:
        h.client.enroll_face_photo("c-1", person, _real("reference", "images", file).read_bytes(), reason="r")
    for person, file in [
        ("obama", "obama2.jpg"),
        ("biden", "biden2.jpg"),
        ("kit", "kit_harington2.jpeg"),
        ("rose", "rose_leslie2.jpg"),
    ]:
        answer = h.client.search_faces_photo(
            ["c-1"], _real("reference", "images", file).read_bytes(), reason="r"
        )
        [result] = answer.results
        assert result.matches, f"{file} matched nobody"
        assert result.matches[0].subject == f"cases/c-1/subjects/{person}"
        print(f"{file}: {person} {result.matches[0].score:+.3f}")
    two = h.client.search_faces_photo(
        ["c-1"], _real("reference", "images", "two_people.jpg").read_bytes(), reason="r"
    )
    ordered = sorted(two.results, key=lambda r: r.face_box.left)
    assert [r.matches[0].subject.rsplit("/", 1)[-1] for r in ordered] == ["obama", "biden"]
