import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlateEntry(_message.Message):
    __slots__ = ("name", "subject", "plate", "pattern", "region", "create_time", "note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    subject: str
    plate: str
    pattern: str
    region: str
    create_time: _timestamp_pb2.Timestamp
    note: str
    def __init__(self, name: _Optional[str] = ..., subject: _Optional[str] = ..., plate: _Optional[str] = ..., pattern: _Optional[str] = ..., region: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class CreatePlateEntryRequest(_message.Message):
    __slots__ = ("parent", "plate_entry", "reason")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PLATE_ENTRY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    parent: str
    plate_entry: PlateEntry
    reason: str
    def __init__(self, parent: _Optional[str] = ..., plate_entry: _Optional[_Union[PlateEntry, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ListPlateEntriesRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListPlateEntriesResponse(_message.Message):
    __slots__ = ("plate_entries",)
    PLATE_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    plate_entries: _containers.RepeatedCompositeFieldContainer[PlateEntry]
    def __init__(self, plate_entries: _Optional[_Iterable[_Union[PlateEntry, _Mapping]]] = ...) -> None: ...

class DeletePlateEntryRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeletePlateEntryResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PlateRead(_message.Message):
    __slots__ = ("text", "confidences")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCES_FIELD_NUMBER: _ClassVar[int]
    text: str
    confidences: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, text: _Optional[str] = ..., confidences: _Optional[_Iterable[float]] = ...) -> None: ...

class MatchOptions(_message.Message):
    __slots__ = ("max_edits", "min_confidence", "lookalikes")
    MAX_EDITS_FIELD_NUMBER: _ClassVar[int]
    MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    LOOKALIKES_FIELD_NUMBER: _ClassVar[int]
    max_edits: int
    min_confidence: float
    lookalikes: bool
    def __init__(self, max_edits: _Optional[int] = ..., min_confidence: _Optional[float] = ..., lookalikes: _Optional[bool] = ...) -> None: ...

class CheckPlateReadRequest(_message.Message):
    __slots__ = ("cases", "read", "image", "plate_crop", "camera", "capture_time", "options", "reason")
    CASES_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PLATE_CROP_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedScalarFieldContainer[str]
    read: PlateRead
    image: bytes
    plate_crop: bytes
    camera: str
    capture_time: _timestamp_pb2.Timestamp
    options: MatchOptions
    reason: str
    def __init__(self, cases: _Optional[_Iterable[str]] = ..., read: _Optional[_Union[PlateRead, _Mapping]] = ..., image: _Optional[bytes] = ..., plate_crop: _Optional[bytes] = ..., camera: _Optional[str] = ..., capture_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., options: _Optional[_Union[MatchOptions, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class PlateEdit(_message.Message):
    __slots__ = ("kind", "position", "entry_char", "read_char", "description")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[PlateEdit.Kind]
        LOOKALIKE: _ClassVar[PlateEdit.Kind]
        SUBSTITUTION: _ClassVar[PlateEdit.Kind]
        INSERTION: _ClassVar[PlateEdit.Kind]
        DELETION: _ClassVar[PlateEdit.Kind]
    KIND_UNSPECIFIED: PlateEdit.Kind
    LOOKALIKE: PlateEdit.Kind
    SUBSTITUTION: PlateEdit.Kind
    INSERTION: PlateEdit.Kind
    DELETION: PlateEdit.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ENTRY_CHAR_FIELD_NUMBER: _ClassVar[int]
    READ_CHAR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    kind: PlateEdit.Kind
    position: int
    entry_char: str
    read_char: str
    description: str
    def __init__(self, kind: _Optional[_Union[PlateEdit.Kind, str]] = ..., position: _Optional[int] = ..., entry_char: _Optional[str] = ..., read_char: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class PlateHit(_message.Message):
    __slots__ = ("plate_entry", "case", "subject", "plate", "kind", "distance", "edits", "unknown_positions")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[PlateHit.Kind]
        EXACT: _ClassVar[PlateHit.Kind]
        LOOKALIKE: _ClassVar[PlateHit.Kind]
        EDITED: _ClassVar[PlateHit.Kind]
    KIND_UNSPECIFIED: PlateHit.Kind
    EXACT: PlateHit.Kind
    LOOKALIKE: PlateHit.Kind
    EDITED: PlateHit.Kind
    PLATE_ENTRY_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    plate_entry: str
    case: str
    subject: str
    plate: str
    kind: PlateHit.Kind
    distance: int
    edits: _containers.RepeatedCompositeFieldContainer[PlateEdit]
    unknown_positions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, plate_entry: _Optional[str] = ..., case: _Optional[str] = ..., subject: _Optional[str] = ..., plate: _Optional[str] = ..., kind: _Optional[_Union[PlateHit.Kind, str]] = ..., distance: _Optional[int] = ..., edits: _Optional[_Iterable[_Union[PlateEdit, _Mapping]]] = ..., unknown_positions: _Optional[_Iterable[int]] = ...) -> None: ...

class PlateBox(_message.Message):
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

class PlateReadResult(_message.Message):
    __slots__ = ("read", "confidences", "box", "hits", "too_uncertain", "hit", "hit_reference")
    READ_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCES_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    TOO_UNCERTAIN_FIELD_NUMBER: _ClassVar[int]
    HIT_FIELD_NUMBER: _ClassVar[int]
    HIT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    read: str
    confidences: _containers.RepeatedScalarFieldContainer[float]
    box: PlateBox
    hits: _containers.RepeatedCompositeFieldContainer[PlateHit]
    too_uncertain: bool
    hit: bool
    hit_reference: str
    def __init__(self, read: _Optional[str] = ..., confidences: _Optional[_Iterable[float]] = ..., box: _Optional[_Union[PlateBox, _Mapping]] = ..., hits: _Optional[_Iterable[_Union[PlateHit, _Mapping]]] = ..., too_uncertain: _Optional[bool] = ..., hit: _Optional[bool] = ..., hit_reference: _Optional[str] = ...) -> None: ...

class CheckPlateReadResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PlateReadResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PlateReadResult, _Mapping]]] = ...) -> None: ...

class StoredPlateHit(_message.Message):
    __slots__ = ("name", "hit_reference", "plate_entry", "subject", "plate", "read", "camera", "capture_time", "create_time", "match", "reported_by", "resume_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HIT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PLATE_ENTRY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    REPORTED_BY_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    hit_reference: str
    plate_entry: str
    subject: str
    plate: str
    read: str
    camera: str
    capture_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    match: PlateHit
    reported_by: str
    resume_token: str
    def __init__(self, name: _Optional[str] = ..., hit_reference: _Optional[str] = ..., plate_entry: _Optional[str] = ..., subject: _Optional[str] = ..., plate: _Optional[str] = ..., read: _Optional[str] = ..., camera: _Optional[str] = ..., capture_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., match: _Optional[_Union[PlateHit, _Mapping]] = ..., reported_by: _Optional[str] = ..., resume_token: _Optional[str] = ...) -> None: ...

class WatchPlateHitsRequest(_message.Message):
    __slots__ = ("parent", "resume_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    resume_token: str
    def __init__(self, parent: _Optional[str] = ..., resume_token: _Optional[str] = ...) -> None: ...

class ListPlateHitsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPlateHitsResponse(_message.Message):
    __slots__ = ("plate_hits", "next_page_token")
    PLATE_HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    plate_hits: _containers.RepeatedCompositeFieldContainer[StoredPlateHit]
    next_page_token: str
    def __init__(self, plate_hits: _Optional[_Iterable[_Union[StoredPlateHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
