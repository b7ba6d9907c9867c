"""FaceService: enrolment and search of face templates, from embeddings or photos (P1, P7, P12)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifecycle.errors import Kind, PolicyError
from matcher.app import App
from matcher.embeddings import Vector, parse_embedding
from matcher.face_matching import FaceMatch, search_resource
from matcher.faces import FaceError
from matcher.faces.pipeline import Purpose
from matcher.model_loading import Unavailable
from matcher.transport import convert, names
from matcher.transport.calls import rpc
from matcher.transport.errors import image_refusal
from matcher.v1 import faces_pb2
from matcher.wiping import wiped

DEFAULT_TOP_K = 10


@dataclass(frozen=True)
class Probe:
    """One face to enrol or search: its L2-normalised vector, model and (for photos) box."""

    vector: Vector
    model: str
    box: faces_pb2.FaceBox | None = None


def _search_resource(request: faces_pb2.SearchFacesRequest) -> str:
    return search_resource([name.removeprefix("cases/") for name in request.cases])


def _box(box: tuple[float, float, float, float], score: float) -> faces_pb2.FaceBox:
    return faces_pb2.FaceBox(left=box[0], top=box[1], right=box[2], bottom=box[3], score=score)


def probes_of(app: App, face: faces_pb2.FaceInput, purpose: Purpose, what: str) -> list[Probe]:
    """The faces of a face input: its embedding, or every usable face of its photo."""
    which = face.WhichOneof("input")
    if which == "embedding":
        model = face.embedding.model or app.default_face_model
        dim = app.faces.model_dim(model)
        return [Probe(parse_embedding(face.embedding.values, dim), model)]
    if which == "image":
        return _photo_probes(app, face.image, purpose)
    raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"{what} needs an embedding or an image")


def _photo_probes(app: App, image: faces_pb2.Image, purpose: Purpose) -> list[Probe]:
    pipeline = app.pipeline
    if isinstance(pipeline, Unavailable):
        raise PolicyError(
            Kind.FAILED_PRECONDITION,
            "FACE_PIPELINE_UNAVAILABLE",
            f"this server takes embeddings only: {pipeline.why}",
        )
    box = None
    if image.HasField("face_box"):
        b = image.face_box
        box = (b.left, b.top, b.right, b.bottom)
    try:
        faces = pipeline.embed_image(
            image.data, purpose=purpose, face_box=box, aligned_crop=image.aligned_crop
        )
    except FaceError as error:
        raise image_refusal(str(error.reason), error.message, error.details, "faces") from None
    return [
        Probe(np.asarray(f.embedding, dtype=np.float32), f.model_id, _box(f.box, f.det_score)) for f in faces
    ]


class FaceService:
    def __init__(self, app: App) -> None:
        self.app = app

    @rpc(
        "face.enroll",
        lambda r: r.parent,
        cases=lambda r: [names.subject_ids(r.parent)[0]],
        audits_itself=True,
    )
    def EnrollFace(self, request: faces_pb2.EnrollFaceRequest, actor: str) -> faces_pb2.FaceTemplate:
        case_id, subject_id = names.subject_ids(request.parent)
        [probe] = probes_of(self.app, request.face, "enrol", "the face")
        with wiped(probe.vector):  # P18: the service keeps the encrypted row and the gallery's copy.
            row = self.app.faces.enroll(actor, case_id, subject_id, probe.vector, probe.model, request.reason)
        template = convert.face_template(row, subject_id)
        if probe.box is not None:
            template.face_box.CopyFrom(probe.box)
        return template

    @rpc(
        "face.list",
        lambda r: r.parent,
        cases=lambda r: [names.subject_ids(r.parent)[0]],
        count=lambda resp: len(resp.face_templates),
    )
    def ListFaceTemplates(
        self, request: faces_pb2.ListFaceTemplatesRequest, actor: str
    ) -> faces_pb2.ListFaceTemplatesResponse:
        case_id, subject_id = names.subject_ids(request.parent)
        rows = self.app.faces.templates(case_id, subject_id)
        return faces_pb2.ListFaceTemplatesResponse(
            face_templates=[convert.face_template(row, subject_id) for row in rows]
        )

    @rpc(
        "faces.search",
        _search_resource,
        cases=lambda r: [names.case_id(name) for name in r.cases],
        audits_itself=True,
    )
    def SearchFaces(self, request: faces_pb2.SearchFacesRequest, actor: str) -> faces_pb2.SearchFacesResponse:
        case_ids = [names.case_id(name) for name in request.cases]
        probes = probes_of(self.app, request.probe, "search", "the probe")
        min_score = (
            request.min_score if request.HasField("min_score") else self.app.settings.default_min_score
        )
        with wiped(*(p.vector for p in probes)):  # P7: the probes are used for this search only.
            results = self.app.faces.search(
                actor,
                case_ids,
                [p.vector for p in probes],
                probes[0].model,
                request.reason,
                request.top_k or DEFAULT_TOP_K,
                min_score,
            )
        return faces_pb2.SearchFacesResponse(
            min_score=min_score,
            results=[
                faces_pb2.ProbeResult(face_box=probe.box, matches=[_match(hit) for hit in matches])
                for probe, matches in zip(probes, results, strict=True)
            ],
        )


def _match(hit: FaceMatch) -> faces_pb2.FaceMatch:
    subject = names.subject_name(hit.case_id, hit.subject_id)
    return faces_pb2.FaceMatch(
        case=names.case_name(hit.case_id),
        subject=subject,
        face_template=f"{subject}/faceTemplates/{hit.template_id}",
        score=hit.score,
    )
