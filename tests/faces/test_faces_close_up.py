"""Close-up crops (issue 10): the detector also runs at 320 and 160, so a face that fills a small
crop or a large frame is found, and an already aligned 112x112 crop is embedded as it is, after
the gates that still mean something for it.

The synthetic detector sees a "face" as a bright 64x64 square of its input, as the real one has
its own range of face sizes: magnified into the 640x640 input, a close-up no longer looks like a
face to either. Real weights on insightface's own 112x112 Tom_Hanks_54745.png where ../shared
has them (skipped, saying why, where it does not).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import insightface
import numpy as np
import pytest

from matcher.faces import FaceError, FacePipeline, Reason
from matcher.faces import synthetic as syn
from matcher.faces.pipeline import detector_sizes

Encode = Callable[..., bytes]
TOM_HANKS = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"


def _close_up() -> np.ndarray:
    """A 160x160 crop, most of it one face (64 px): magnified into 640x640, the synthetic
    detector sees no face of its size in it, as SCRFD saw none in Tom Hanks."""
    image = np.full((160, 160, 3), 128, dtype=np.uint8)
    syn.paint(image, (96, 96), syn.face_texture(3))
    return image


def test_detector_sizes_are_fixed_and_few() -> None:
    assert detector_sizes((640, 640)) == [(640, 640), (320, 320), (160, 160)]
    assert detector_sizes((64, 64)) == [(64, 64), (32, 32)]


def test_every_detector_session_is_built_at_start_up(pipeline: FacePipeline, encode: Encode) -> None:
    pool = pipeline._detector._resolution_session_pool
    built = set(pool.snapshot())
    assert built == set(pipeline.detector_sizes)
    for side in (97, 112, 200, 333, 1000):  # uploads of any size add no session (no memory)
        with pytest.raises(FaceError):
            pipeline.embed_image(encode(np.full((side, side, 3), 128, np.uint8)), purpose="search")
    assert set(pool.snapshot()) == built


def test_close_up_crop_is_enrolled_with_its_face_box(pipeline: FacePipeline, encode: Encode) -> None:
    [face] = pipeline.embed_image(encode(_close_up()), purpose="enrol")
    assert face.box == (64.0, 64.0, 128.0, 128.0)
    scene = np.full((640, 640, 3), 128, dtype=np.uint8)
    syn.paint(scene, (320, 320), syn.face_texture(3))
    [same] = pipeline.embed_image(encode(scene), purpose="enrol")  # the same face, in a scene
    assert float(face.embedding @ same.embedding) > 0.99


def test_aligned_crop_is_embedded_as_it_is(pipeline: FacePipeline, encode: Encode) -> None:
    crop = syn.face_texture(4, size=112)
    [face] = pipeline.embed_image(encode(crop), purpose="enrol", aligned_crop=True)
    assert face.box == (0.0, 0.0, 112.0, 112.0)
    np.testing.assert_array_equal(face.embedding, pipeline.embed_crops([crop])[0])
    [probe] = pipeline.embed_image(encode(crop), purpose="search", aligned_crop=True)
    np.testing.assert_array_equal(probe.embedding, face.embedding)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (np.full((112, 112, 3), 128, np.uint8), Reason.NO_FACE),
        (np.full((112, 112, 3), round(syn.value_for_score(0.4)), np.uint8), Reason.FACE_LOW_SCORE),
        (syn.face_texture(4, size=100), Reason.ALIGNED_CROP_WRONG_SIZE),
        (syn.face_texture(4, size=224), Reason.ALIGNED_CROP_WRONG_SIZE),
    ],
    ids=["blank", "doubtful", "100px", "224px"],
)
def test_aligned_crop_still_passes_the_detector_gate_and_has_the_recognisers_size(
    pipeline: FacePipeline, encode: Encode, image: np.ndarray, reason: Reason
) -> None:
    with pytest.raises(FaceError) as caught:
        pipeline.embed_image(encode(image), purpose="enrol", aligned_crop=True)
    assert caught.value.reason is reason
    assert caught.value.details["image_size"] == [image.shape[1], image.shape[0]]


def test_aligned_crop_with_a_face_box_is_refused(pipeline: FacePipeline, encode: Encode) -> None:
    with pytest.raises(FaceError) as caught:
        pipeline.embed_image(
            encode(syn.face_texture(4, size=112)),
            purpose="enrol",
            aligned_crop=True,
            face_box=(0, 0, 112, 112),
        )
    assert caught.value.reason is Reason.FACE_BOX_INVALID


def test_real_close_up_tom_hanks_is_found_and_matches_its_aligned_self(real_pipeline: FacePipeline) -> None:
    data = TOM_HANKS.read_bytes()
    [detected] = real_pipeline.embed_image(data, purpose="enrol")
    [aligned] = real_pipeline.embed_image(data, purpose="enrol", aligned_crop=True)
    score = float(detected.embedding @ aligned.embedding)
    print(f"Tom Hanks 112x112: det {detected.det_score:.3f}, detected vs aligned {score:+.3f}")
    assert detected.det_score > 0.7
    assert float(detected.embedding @ aligned.embedding) > 0.85


@pytest.mark.parametrize("side", [448, 1000])
def test_real_face_filling_a_large_frame_is_found(
    real_pipeline: FacePipeline, encode: Encode, side: int
) -> None:
    small = cv2.imread(str(TOM_HANKS))
    assert small is not None, "OpenCV could not read the image"
    [reference] = real_pipeline.embed_image(TOM_HANKS.read_bytes(), purpose="enrol", aligned_crop=True)
    [face] = real_pipeline.embed_image(encode(cv2.resize(small, (side, side))), purpose="enrol")
    score = float(face.embedding @ reference.embedding)
    print(f"Tom Hanks at {side}x{side}: det {face.det_score:.3f}, vs aligned {score:+.3f}")
    assert min(face.box[2] - face.box[0], face.box[3] - face.box[1]) > side / 2
    assert float(face.embedding @ reference.embedding) > 0.85
