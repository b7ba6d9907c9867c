"""Real weights on real photos (SCRFD-500MF + INT8 w600k_mbf from ../shared).

Skipped, with the reason, where the shared folder is absent. Scores are printed (run with -s)
so they can be compared with the SOURCE.md notes: same person min ~+0.55, different max ~+0.12.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import insightface
import numpy as np
import pytest

from matcher.faces import FaceError, FacePipeline, Reason

Photo = Callable[[str], bytes]

IDENTITIES = {
    "obama": ["obama.jpg", "obama2.jpg", "obama3.jpg"],
    "biden": ["biden.jpg", "biden2.jpg"],
    "kit_harington": ["kit_harington1.jpeg", "kit_harington2.jpeg"],
    "rose_leslie": ["rose_leslie1.jpg", "rose_leslie2.jpg"],
    "alex_lacamoire": ["alex_lacamoire1.jpg", "alex_lacamoire2.jpg"],
}


def _t1() -> bytes:
    return (Path(insightface.__file__).parent / "data" / "images" / "t1.jpg").read_bytes()


@pytest.fixture(scope="module")
def enrolled(real_pipeline: FacePipeline, reference_photo: Photo) -> dict[str, np.ndarray]:
    return {
        name: real_pipeline.embed_image(reference_photo(name), purpose="enrol")[0].embedding
        for names in IDENTITIES.values()
        for name in names
    }


def test_scrfd_finds_the_six_faces_of_t1(real_pipeline: FacePipeline) -> None:
    faces = real_pipeline.embed_image(_t1(), purpose="search")
    print("t1 det scores:", [round(f.det_score, 3) for f in faces])
    assert len(faces) == 6
    assert all(0.8 < f.det_score < 0.9 for f in faces)
    pairs = [float(a.embedding @ b.embedding) for a, b in itertools.combinations(faces, 2)]
    print(f"t1 15 different-person pairs: max {max(pairs):+.3f} mean {np.mean(pairs):+.3f}")
    assert max(pairs) < 0.35


def test_t1_is_refused_for_enrolment_listing_all_six(real_pipeline: FacePipeline) -> None:
    with pytest.raises(FaceError) as caught:
        real_pipeline.embed_image(_t1(), purpose="enrol")
    assert caught.value.reason is Reason.MULTIPLE_FACES
    # All six usable faces are listed (the 320 and 160 passes may add a doubtful candidate,
    # reported as FACE_LOW_SCORE and never used).
    assert len([f for f in caught.value.details["faces"] if f["rejected"] is None]) == 6


def test_same_person_scores_clearly_above_different_people(enrolled: dict[str, np.ndarray]) -> None:
    owner = {name: person for person, names in IDENTITIES.items() for name in names}
    same: list[tuple[float, str, str]] = []
    different: list[tuple[float, str, str]] = []
    for a, b in itertools.combinations(enrolled, 2):
        score = float(enrolled[a] @ enrolled[b])
        (same if owner[a] == owner[b] else different).append((score, a, b))
    for score, a, b in sorted(same):
        print(f"same      {a:22} {b:22} {score:+.3f}")
    mean = np.mean([score for score, _, _ in different])
    print(f"different ({len(different)} pairs): max {max(different)} mean {mean:+.3f}")
    assert len(same) == 7 and len(different) == 48
    assert min(same)[0] > 0.5
    assert max(different)[0] < 0.2
    assert min(same)[0] - max(different)[0] > 0.3


def test_two_people_are_obama_and_biden(
    real_pipeline: FacePipeline, reference_photo: Photo, enrolled: dict[str, np.ndarray]
) -> None:
    faces = sorted(
        real_pipeline.embed_image(reference_photo("two_people.jpg"), purpose="search"), key=lambda f: f.box[0]
    )
    assert len(faces) == 2
    left, right = faces
    scores = {
        side: (float(face.embedding @ enrolled["obama.jpg"]), float(face.embedding @ enrolled["biden.jpg"]))
        for side, face in (("left", left), ("right", right))
    }
    print(
        "two_people.jpg (vs obama.jpg, vs biden.jpg):",
        {k: tuple(round(v, 3) for v in s) for k, s in scores.items()},
    )
    assert scores["left"][0] > 0.5 > scores["left"][1]
    assert scores["right"][1] > 0.5 > scores["right"][0]


def test_int8_recogniser_embeds_faces_one_per_call(real_pipeline: FacePipeline) -> None:
    """The shared INT8 model's embeddings depend on the batch (see its SOURCE.md); the pipeline
    must therefore give each face of a group photo the embedding it would have alone."""
    assert not real_pipeline.recognizer.batched
    from matcher.faces.image import decode_image

    image = decode_image(_t1())
    crops = [real_pipeline.align(image, c.landmarks) for c in real_pipeline.detect(image)]
    alone = np.concatenate([real_pipeline.embed_crops([crop]) for crop in crops])
    assert np.array_equal(real_pipeline.embed_crops(crops), alone)
    batched = real_pipeline._recognizer.get_feat(crops)
    batched /= np.linalg.norm(batched, axis=1, keepdims=True)
    agreement = np.sum(batched * alone, axis=1)
    print("INT8 batched-vs-alone cosine per t1 face:", np.round(agreement, 4))
    assert agreement.min() < 0.999
