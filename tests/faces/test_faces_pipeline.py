"""FacePipeline on the synthetic models: real insightface routing, real onnxruntime inference,
and embeddings that follow the image, so behaviour (not just shapes) is asserted."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from insightface.model_zoo import SCRFD, ArcFaceONNX, get_model

from matcher.faces import (
    FaceError,
    FacePipeline,
    ModelError,
    ModelMissingError,
    QualityGates,
    Reason,
)
from matcher.faces import synthetic as syn

Encode = Callable[..., bytes]
Canvas = Callable[..., np.ndarray]

# Ten face centres on the detector's 32-pixel grid, boxes 64 px apart.
TEN = [(x, y) for y in (160, 416) for x in (64, 192, 320, 448, 576)]


def _one_face(canvas: Canvas, encode: Encode, seed: int = 1, centre: tuple[int, int] = (320, 320)) -> bytes:
    image = canvas()
    syn.paint(image, centre, syn.face_texture(seed))
    return encode(image)


def _refused(pipeline: FacePipeline, data: bytes, reason: Reason, **kwargs: object) -> FaceError:
    kwargs.setdefault("purpose", "enrol")
    with pytest.raises(FaceError) as caught:
        pipeline.embed_image(data, **kwargs)  # type: ignore[arg-type]
    assert caught.value.reason is reason, caught.value
    return caught.value


# --- loading ---------------------------------------------------------------------------------


def test_insightface_routes_the_synthetic_models_to_its_real_classes(
    synthetic_models: dict[str, Path],
) -> None:
    detector = get_model(str(synthetic_models["det"]), providers=["CPUExecutionProvider"])
    recognizer = get_model(str(synthetic_models["rec"]), providers=["CPUExecutionProvider"])
    assert isinstance(detector, SCRFD) and detector.use_kps and detector._num_anchors == 2
    assert isinstance(recognizer, ArcFaceONNX)
    assert (recognizer.input_mean, recognizer.input_std) == (127.5, 127.5)


def test_model_identity_is_name_and_file_hash(
    pipeline: FacePipeline, synthetic_models: dict[str, Path]
) -> None:
    sha256 = hashlib.sha256(synthetic_models["rec"].read_bytes()).hexdigest()
    info = pipeline.recognizer
    assert (info.sha256, info.model_id) == (sha256, f"rec:{sha256[:16]}")
    assert info.embedding_dim == 512 and info.batched


def test_same_model_under_another_name_keeps_its_hash(
    synthetic_models: dict[str, Path], tmp_path: Path
) -> None:
    copy = shutil.copy(synthetic_models["rec"], tmp_path / "renamed.onnx")
    other = FacePipeline(synthetic_models["det"], copy)
    assert other.recognizer.sha256 == hashlib.sha256(Path(copy).read_bytes()).hexdigest()
    assert other.model_id.startswith("renamed:")


def test_missing_model_names_the_install_command(synthetic_models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="matcher models install --from DIR"):
        FacePipeline(synthetic_models["det"], tmp_path / "absent.onnx")


def test_swapped_models_are_refused(synthetic_models: dict[str, Path]) -> None:
    with pytest.raises(ModelError, match="not an SCRFD face detector"):
        FacePipeline(synthetic_models["rec"], synthetic_models["rec"])
    with pytest.raises(ModelError, match="not an ArcFace recogniser"):
        FacePipeline(synthetic_models["det"], synthetic_models["det"])


def test_a_file_that_is_not_onnx_is_refused(synthetic_models: dict[str, Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot be loaded"):
        FacePipeline(synthetic_models["det"], junk)


def test_dynamically_quantised_recogniser_is_detected(synthetic_models: dict[str, Path]) -> None:
    int8 = FacePipeline(synthetic_models["det"], synthetic_models["rec_int8"])
    assert not int8.recognizer.batched
    assert int8.model_id != FacePipeline(synthetic_models["det"], synthetic_models["rec"]).model_id


# --- embedding behaviour ---------------------------------------------------------------------


def test_one_face_is_found_where_it_was_painted(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode
) -> None:
    image = canvas()
    box = syn.paint(image, (320, 320), syn.face_texture(1))
    [face] = pipeline.embed_image(encode(image), purpose="enrol")
    assert face.box == pytest.approx(box, abs=0.5)
    assert face.det_score == pytest.approx(syn.score_for_value(syn.FACE_MEAN), abs=0.01)
    assert face.landmarks.shape == (5, 2)
    assert face.embedding.dtype == np.float32 and face.embedding.shape == (512,)
    assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-5)
    assert face.model_id == pipeline.model_id


def test_same_image_gives_the_same_embedding(pipeline: FacePipeline, canvas: Canvas, encode: Encode) -> None:
    data = _one_face(canvas, encode)
    first = pipeline.embed_image(data, purpose="enrol")[0].embedding
    second = pipeline.embed_image(data, purpose="enrol")[0].embedding
    assert np.array_equal(first, second)


def test_embedding_follows_the_face_not_its_position(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode
) -> None:
    here = pipeline.embed_image(_one_face(canvas, encode, seed=1, centre=(160, 160)), purpose="enrol")[0]
    there = pipeline.embed_image(_one_face(canvas, encode, seed=1, centre=(480, 416)), purpose="enrol")[0]
    other = pipeline.embed_image(_one_face(canvas, encode, seed=2, centre=(160, 160)), purpose="enrol")[0]
    assert float(here.embedding @ there.embedding) > 0.9999
    assert float(here.embedding @ other.embedding) < 0.5


def test_search_returns_every_face_with_its_box(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode
) -> None:
    image = canvas()
    boxes = [syn.paint(image, centre, syn.face_texture(seed)) for seed, centre in enumerate(TEN)]
    faces = pipeline.embed_image(encode(image), purpose="search")
    assert sorted(f.box for f in faces) == sorted(boxes)
    by_box = {f.box: f.embedding for f in faces}
    for seed, box in enumerate(boxes):
        alone = pipeline.embed_image(_one_face(canvas, encode, seed, TEN[seed]), purpose="enrol")[0]
        assert float(by_box[box] @ alone.embedding) > 0.9999


def test_batched_equals_one_by_one_for_the_fp32_model(pipeline: FacePipeline) -> None:
    crops = [syn.face_texture(seed, size=112) for seed in range(6)]
    batched = pipeline.embed_crops(crops)
    single = np.concatenate([pipeline.embed_crops([crop]) for crop in crops])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_int8_model_embeds_each_face_alone(synthetic_models: dict[str, Path]) -> None:
    """Dynamic quantisation shares one scale over the batch: batching would change embeddings."""
    int8 = FacePipeline(synthetic_models["det"], synthetic_models["rec_int8"])
    crops = [syn.face_texture(seed, size=112) for seed in range(6)]
    crops[0] = np.zeros((112, 112, 3), np.uint8)
    crops[0][:, 56:] = 255  # a high-contrast crop widens the batch's activation range
    through_pipeline = int8.embed_crops(crops)
    alone = np.concatenate([int8.embed_crops([crop]) for crop in crops])
    assert np.array_equal(through_pipeline, alone)
    one_batch = int8._recognizer.get_feat(crops)  # what a naive batched call would give
    one_batch /= np.linalg.norm(one_batch, axis=1, keepdims=True)
    assert not np.allclose(one_batch, alone, atol=1e-4)


def test_jpeg_upload_works(pipeline: FacePipeline, canvas: Canvas, encode: Encode) -> None:
    image = canvas()
    syn.paint(image, (320, 320), syn.face_texture(3))
    [face] = pipeline.embed_image(encode(image, ".jpg"), purpose="enrol")
    [exact] = pipeline.embed_image(encode(image), purpose="enrol")
    assert float(face.embedding @ exact.embedding) > 0.9  # JPEG blurs the random texture a little


def test_concurrent_calls_give_the_same_answers(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode
) -> None:
    images = [_one_face(canvas, encode, seed) for seed in range(8)]
    expected = [pipeline.embed_image(data, purpose="enrol")[0].embedding for data in images]
    with ThreadPoolExecutor(4) as pool:
        got = list(
            pool.map(lambda data: pipeline.embed_image(data, purpose="enrol")[0].embedding, images * 3)
        )
    for index, embedding in enumerate(got):
        assert np.array_equal(embedding, expected[index % len(images)])


# --- enrolment rules and refusals ------------------------------------------------------------


def test_ten_faces_are_refused_for_enrolment_with_all_boxes(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode
) -> None:
    image = canvas()
    for seed, centre in enumerate(TEN):
        syn.paint(image, centre, syn.face_texture(seed))
    error = _refused(pipeline, encode(image), Reason.MULTIPLE_FACES)
    assert len(error.details["faces"]) == 10
    assert all(face["rejected"] is None for face in error.details["faces"])
    assert "face_box" in error.message


def test_face_box_chooses_one_of_several(pipeline: FacePipeline, canvas: Canvas, encode: Encode) -> None:
    image = canvas()
    for seed, centre in enumerate(TEN):
        syn.paint(image, centre, syn.face_texture(seed))
    near_fourth = (420, 130, 470, 200)  # a rough box drawn by hand around the face at (448, 160)
    [face] = pipeline.embed_image(encode(image), purpose="enrol", face_box=near_fourth)
    assert face.box == (416.0, 128.0, 480.0, 192.0)
    alone = pipeline.embed_image(_one_face(canvas, encode, 3, TEN[3]), purpose="enrol")[0]
    assert float(face.embedding @ alone.embedding) > 0.9999


def test_face_box_matching_no_face_is_refused(pipeline: FacePipeline, canvas: Canvas, encode: Encode) -> None:
    error = _refused(pipeline, _one_face(canvas, encode), Reason.FACE_BOX_NOT_FOUND, face_box=(0, 0, 60, 60))
    assert error.details["best_iou"] < 0.3
    assert error.details["faces"][0]["box"] == [288.0, 288.0, 352.0, 352.0]


@pytest.mark.parametrize("box", [(10, 10, 5, 50), (0, 0, float("nan"), 4), (1, 2, 3)])
def test_malformed_face_box_is_refused(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode, box: tuple[float, ...]
) -> None:
    _refused(pipeline, _one_face(canvas, encode), Reason.FACE_BOX_INVALID, face_box=box)


def test_uniform_grey_image_has_no_face(pipeline: FacePipeline, canvas: Canvas, encode: Encode) -> None:
    error = _refused(pipeline, encode(canvas()), Reason.NO_FACE, purpose="search")
    assert error.details["faces"] == []


def test_photo_without_a_face_is_refused(pipeline: FacePipeline, encode: Encode) -> None:
    noise = np.random.default_rng(7).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    _refused(pipeline, encode(noise), Reason.NO_FACE)


def test_doubtful_face_is_reported_with_its_score(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode
) -> None:
    image = canvas()
    value = round(syn.value_for_score(0.4))
    syn.paint(image, (320, 320), np.full((64, 64, 3), value, np.uint8))
    error = _refused(pipeline, encode(image), Reason.FACE_LOW_SCORE, purpose="search")
    [reported] = error.details["faces"]
    assert reported["det_score"] == pytest.approx(syn.score_for_value(value), abs=0.01)
    assert reported["rejected"] == "FACE_LOW_SCORE"


def test_small_face_is_refused_with_its_size(pipeline: FacePipeline, canvas: Canvas, encode: Encode) -> None:
    image = canvas(320, 320)  # the detector sees it at 2x: a 32 px face looks like its 64 px
    syn.paint(image, (160, 160), syn.face_texture(1, size=32))
    error = _refused(pipeline, encode(image), Reason.FACE_TOO_SMALL)
    assert "32 px" in error.message
    assert error.details["faces"][0]["box"] == [144.0, 144.0, 176.0, 176.0]


def test_search_leaves_out_faces_that_fail_a_gate(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode
) -> None:
    image = canvas()
    syn.paint(image, (160, 160), syn.face_texture(1))
    syn.paint(image, (480, 480), np.full((64, 64, 3), round(syn.value_for_score(0.4)), np.uint8))
    [face] = pipeline.embed_image(encode(image), purpose="search")
    assert face.box == (128.0, 128.0, 192.0, 192.0)
    # ...but choosing the doubtful one explicitly is refused with its own reason.
    _refused(pipeline, encode(image), Reason.FACE_LOW_SCORE, face_box=(448, 448, 512, 512))


def test_gates_are_configurable(synthetic_models: dict[str, Path], canvas: Canvas, encode: Encode) -> None:
    strict = FacePipeline(
        synthetic_models["det"], synthetic_models["rec"], quality=QualityGates(min_face_px=80)
    )
    _refused(strict, _one_face(canvas, encode), Reason.FACE_TOO_SMALL)
    lenient = FacePipeline(
        synthetic_models["det"], synthetic_models["rec"], quality=QualityGates(min_det_score=0.3)
    )
    image = canvas()
    syn.paint(image, (320, 320), np.full((64, 64, 3), round(syn.value_for_score(0.4)), np.uint8))
    assert len(lenient.embed_image(encode(image), purpose="enrol")) == 1


def test_unknown_purpose_is_a_programming_error(
    pipeline: FacePipeline, canvas: Canvas, encode: Encode
) -> None:
    with pytest.raises(ValueError, match="purpose"):
        pipeline.embed_image(_one_face(canvas, encode), purpose="identify")  # type: ignore[arg-type]
