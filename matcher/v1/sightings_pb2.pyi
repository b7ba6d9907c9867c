import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from matcher.v1 import faces_pb2 as _faces_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sighting(_message.Message):
    __slots__ = ("camera", "capture_time", "faces", "image", "reason", "image_aligned_crop", "sighting_id")
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ALIGNED_CROP_FIELD_NUMBER: _ClassVar[int]
    SIGHTING_ID_FIELD_NUMBER: _ClassVar[int]
    camera: str
    capture_time: _timestamp_pb2.Timestamp
    faces: _containers.RepeatedCompositeFieldContainer[_faces_pb2.Embedding]
    image: bytes
    reason: str
    image_aligned_crop: bool
    sighting_id: str
    def __init__(self, camera: _Optional[str] = ..., capture_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., faces: _Optional[_Iterable[_Union[_faces_pb2.Embedding, _Mapping]]] = ..., image: _Optional[bytes] = ..., reason: _Optional[str] = ..., image_aligned_crop: _Optional[bool] = ..., sighting_id: _Optional[str] = ...) -> None: ...

class SightingResult(_message.Message):
    __slots__ = ("faces", "accepted", "duplicate")
    FACES_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    faces: int
    accepted: bool
    duplicate: bool
    def __init__(self, faces: _Optional[int] = ..., accepted: _Optional[bool] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class SightingRefusal(_message.Message):
    __slots__ = ("index", "reason")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    index: int
    reason: str
    def __init__(self, index: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class StreamSightingsSummary(_message.Message):
    __slots__ = ("sightings", "faces", "refused", "first_refusal", "accepted", "refusals", "duplicates")
    SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    FIRST_REFUSAL_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    sightings: int
    faces: int
    refused: int
    first_refusal: str
    accepted: int
    refusals: _containers.RepeatedCompositeFieldContainer[SightingRefusal]
    duplicates: int
    def __init__(self, sightings: _Optional[int] = ..., faces: _Optional[int] = ..., refused: _Optional[int] = ..., first_refusal: _Optional[str] = ..., accepted: _Optional[int] = ..., refusals: _Optional[_Iterable[_Union[SightingRefusal, _Mapping]]] = ..., duplicates: _Optional[int] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("name", "order", "person_label", "camera", "zones", "score", "capture_time", "create_time", "resume_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PERSON_LABEL_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    order: str
    person_label: str
    camera: str
    zones: _containers.RepeatedScalarFieldContainer[str]
    score: float
    capture_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    resume_token: str
    def __init__(self, name: _Optional[str] = ..., order: _Optional[str] = ..., person_label: _Optional[str] = ..., camera: _Optional[str] = ..., zones: _Optional[_Iterable[str]] = ..., score: _Optional[float] = ..., capture_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resume_token: _Optional[str] = ...) -> None: ...

class SubscribeAlertsRequest(_message.Message):
    __slots__ = ("resume_token",)
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resume_token: str
    def __init__(self, resume_token: _Optional[str] = ...) -> None: ...

class AckAlertRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class AckAlertResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
