import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Embedding(_message.Message):
    __slots__ = ("values", "model")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    values: bytes
    model: str
    def __init__(self, values: _Optional[bytes] = ..., model: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("data", "face_box", "aligned_crop")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FACE_BOX_FIELD_NUMBER: _ClassVar[int]
    ALIGNED_CROP_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    face_box: FaceBox
    aligned_crop: bool
    def __init__(self, data: _Optional[bytes] = ..., face_box: _Optional[_Union[FaceBox, _Mapping]] = ..., aligned_crop: _Optional[bool] = ...) -> None: ...

class FaceBox(_message.Message):
    __slots__ = ("left", "top", "right", "bottom", "score")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    BOTTOM_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    left: float
    top: float
    right: float
    bottom: float
    score: float
    def __init__(self, left: _Optional[float] = ..., top: _Optional[float] = ..., right: _Optional[float] = ..., bottom: _Optional[float] = ..., score: _Optional[float] = ...) -> None: ...

class FaceInput(_message.Message):
    __slots__ = ("embedding", "image")
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    embedding: Embedding
    image: Image
    def __init__(self, embedding: _Optional[_Union[Embedding, _Mapping]] = ..., image: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class FaceTemplate(_message.Message):
    __slots__ = ("name", "model", "create_time", "face_box")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FACE_BOX_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    create_time: _timestamp_pb2.Timestamp
    face_box: FaceBox
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., face_box: _Optional[_Union[FaceBox, _Mapping]] = ...) -> None: ...

class EnrollFaceRequest(_message.Message):
    __slots__ = ("parent", "face", "reason")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    parent: str
    face: FaceInput
    reason: str
    def __init__(self, parent: _Optional[str] = ..., face: _Optional[_Union[FaceInput, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ListFaceTemplatesRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListFaceTemplatesResponse(_message.Message):
    __slots__ = ("face_templates",)
    FACE_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    face_templates: _containers.RepeatedCompositeFieldContainer[FaceTemplate]
    def __init__(self, face_templates: _Optional[_Iterable[_Union[FaceTemplate, _Mapping]]] = ...) -> None: ...

class SearchFacesRequest(_message.Message):
    __slots__ = ("cases", "probe", "reason", "top_k", "min_score")
    CASES_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedScalarFieldContainer[str]
    probe: FaceInput
    reason: str
    top_k: int
    min_score: float
    def __init__(self, cases: _Optional[_Iterable[str]] = ..., probe: _Optional[_Union[FaceInput, _Mapping]] = ..., reason: _Optional[str] = ..., top_k: _Optional[int] = ..., min_score: _Optional[float] = ...) -> None: ...

class FaceMatch(_message.Message):
    __slots__ = ("case", "subject", "face_template", "score")
    CASE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    FACE_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    case: str
    subject: str
    face_template: str
    score: float
    def __init__(self, case: _Optional[str] = ..., subject: _Optional[str] = ..., face_template: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class ProbeResult(_message.Message):
    __slots__ = ("face_box", "matches")
    FACE_BOX_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    face_box: FaceBox
    matches: _containers.RepeatedCompositeFieldContainer[FaceMatch]
    def __init__(self, face_box: _Optional[_Union[FaceBox, _Mapping]] = ..., matches: _Optional[_Iterable[_Union[FaceMatch, _Mapping]]] = ...) -> None: ...

class SearchFacesResponse(_message.Message):
    __slots__ = ("results", "min_score")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ProbeResult]
    min_score: float
    def __init__(self, results: _Optional[_Iterable[_Union[ProbeResult, _Mapping]]] = ..., min_score: _Optional[float] = ...) -> None: ...
