"""FaceService: enrolment and search of face templates (P1, P7, P12)."""

from __future__ import annotations

from typing import Any

from lifecycle.errors import Kind, PolicyError
from matcher.embeddings import Vector, parse_embedding
from matcher.face_matching import search_resource
from matcher.transport import convert, names
from matcher.transport.calls import rpc
from matcher.v1 import faces_pb2, faces_pb2_grpc

DEFAULT_TOP_K = 10


def _search_resource(request: faces_pb2.SearchFacesRequest) -> str:
    return search_resource([name.removeprefix("cases/") for name in request.cases])


class FaceService(faces_pb2_grpc.FaceServiceServicer):
    def __init__(self, app: Any) -> None:
        self.app = app

    def _probe(self, face: faces_pb2.FaceInput, what: str) -> tuple[Vector, str]:
        """The L2-normalised vector and model of a face input."""
        which = face.WhichOneof("input")
        if which == "embedding":
            model = face.embedding.model or self.app.settings.default_face_model
            dim = self.app.faces.model_dim(model)
            return parse_embedding(face.embedding.values, dim), model
        if which == "image":
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                "FACE_PIPELINE_UNAVAILABLE",
                "this server has no face models installed, so it takes embeddings only; "
                "install them with 'matcher models install --from DIR'",
            )
        raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"{what} needs an embedding or an image")

    @rpc("face.enroll", lambda r: r.parent, audits_itself=True)
    def EnrollFace(self, request: faces_pb2.EnrollFaceRequest, actor: str) -> faces_pb2.FaceTemplate:
        case_id, subject_id = names.subject_ids(request.parent)
        vector, model = self._probe(request.face, "the face")
        row = self.app.faces.enroll(actor, case_id, subject_id, vector, model, request.reason)
        return convert.face_template(row, subject_id)

    @rpc("face.list", lambda r: r.parent, count=lambda resp: len(resp.face_templates))
    def ListFaceTemplates(
        self, request: faces_pb2.ListFaceTemplatesRequest, actor: str
    ) -> faces_pb2.ListFaceTemplatesResponse:
        case_id, subject_id = names.subject_ids(request.parent)
        rows = self.app.faces.templates(case_id, subject_id)
        return faces_pb2.ListFaceTemplatesResponse(
            face_templates=[convert.face_template(row, subject_id) for row in rows]
        )

    @rpc("faces.search", _search_resource, audits_itself=True)
    def SearchFaces(self, request: faces_pb2.SearchFacesRequest, actor: str) -> faces_pb2.SearchFacesResponse:
        case_ids = [names.case_id(name) for name in request.cases]
        vector, model = self._probe(request.probe, "the probe")
        min_score = (
            request.min_score if request.HasField("min_score") else self.app.settings.default_min_score
        )
        results = self.app.faces.search(
            actor,
            case_ids,
            [vector],
            model,
            request.reason,
            request.top_k or DEFAULT_TOP_K,
            min_score,
        )
        return faces_pb2.SearchFacesResponse(
            min_score=min_score,
            results=[
                faces_pb2.ProbeResult(
                    matches=[
                        faces_pb2.FaceMatch(
                            case=names.case_name(hit.case_id),
                            subject=names.subject_name(hit.case_id, hit.subject_id),
                            face_template=(
                                f"{names.subject_name(hit.case_id, hit.subject_id)}"
                                f"/faceTemplates/{hit.template_id}"
                            ),
                            score=hit.score,
                        )
                        for hit in matches
                    ]
                )
                for matches in results
            ],
        )
