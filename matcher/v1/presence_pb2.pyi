import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Emergency(_message.Message):
    __slots__ = ("name", "title", "zones", "start_time", "end_time", "declared_by", "state", "end_reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    DECLARED_BY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    zones: _containers.RepeatedScalarFieldContainer[str]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    declared_by: str
    state: str
    end_reason: str
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., zones: _Optional[_Iterable[str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., declared_by: _Optional[str] = ..., state: _Optional[str] = ..., end_reason: _Optional[str] = ...) -> None: ...

class DeclareEmergencyRequest(_message.Message):
    __slots__ = ("emergency", "reason")
    EMERGENCY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    emergency: Emergency
    reason: str
    def __init__(self, emergency: _Optional[_Union[Emergency, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class EndEmergencyRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListEmergenciesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListEmergenciesResponse(_message.Message):
    __slots__ = ("emergencies",)
    EMERGENCIES_FIELD_NUMBER: _ClassVar[int]
    emergencies: _containers.RepeatedCompositeFieldContainer[Emergency]
    def __init__(self, emergencies: _Optional[_Iterable[_Union[Emergency, _Mapping]]] = ...) -> None: ...

class CountPeopleRequest(_message.Message):
    __slots__ = ("camera", "image", "reason")
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    camera: str
    image: bytes
    reason: str
    def __init__(self, camera: _Optional[str] = ..., image: _Optional[bytes] = ..., reason: _Optional[str] = ...) -> None: ...

class CountPeopleResponse(_message.Message):
    __slots__ = ("count", "emergency")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    EMERGENCY_FIELD_NUMBER: _ClassVar[int]
    count: int
    emergency: str
    def __init__(self, count: _Optional[int] = ..., emergency: _Optional[str] = ...) -> None: ...
