import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from matcher.v1 import faces_pb2 as _faces_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Camera(_message.Message):
    __slots__ = ("name", "description", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCameraRequest(_message.Message):
    __slots__ = ("camera_id", "camera", "reason")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    camera: Camera
    reason: str
    def __init__(self, camera_id: _Optional[str] = ..., camera: _Optional[_Union[Camera, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ListCamerasRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCamerasResponse(_message.Message):
    __slots__ = ("cameras",)
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    cameras: _containers.RepeatedCompositeFieldContainer[Camera]
    def __init__(self, cameras: _Optional[_Iterable[_Union[Camera, _Mapping]]] = ...) -> None: ...

class Zone(_message.Message):
    __slots__ = ("name", "description", "cameras")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    cameras: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., cameras: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateZoneRequest(_message.Message):
    __slots__ = ("zone_id", "zone", "reason")
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    zone_id: str
    zone: Zone
    reason: str
    def __init__(self, zone_id: _Optional[str] = ..., zone: _Optional[_Union[Zone, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class UpdateZoneCamerasRequest(_message.Message):
    __slots__ = ("name", "cameras", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    cameras: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, name: _Optional[str] = ..., cameras: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ListZonesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListZonesResponse(_message.Message):
    __slots__ = ("zones",)
    ZONES_FIELD_NUMBER: _ClassVar[int]
    zones: _containers.RepeatedCompositeFieldContainer[Zone]
    def __init__(self, zones: _Optional[_Iterable[_Union[Zone, _Mapping]]] = ...) -> None: ...

class SetOperatorZonesRequest(_message.Message):
    __slots__ = ("principal", "zones", "reason")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    principal: str
    zones: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, principal: _Optional[str] = ..., zones: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class SetOperatorZonesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegistrationOrder(_message.Message):
    __slots__ = ("name", "label", "legal_reference", "zones", "start_time", "end_time", "state", "face_template_count", "create_time")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[RegistrationOrder.State]
        ACTIVE: _ClassVar[RegistrationOrder.State]
        REVOKED: _ClassVar[RegistrationOrder.State]
        ENDED: _ClassVar[RegistrationOrder.State]
    STATE_UNSPECIFIED: RegistrationOrder.State
    ACTIVE: RegistrationOrder.State
    REVOKED: RegistrationOrder.State
    ENDED: RegistrationOrder.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FACE_TEMPLATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    legal_reference: str
    zones: _containers.RepeatedScalarFieldContainer[str]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    state: RegistrationOrder.State
    face_template_count: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., legal_reference: _Optional[str] = ..., zones: _Optional[_Iterable[str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[RegistrationOrder.State, str]] = ..., face_template_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateOrderRequest(_message.Message):
    __slots__ = ("order_id", "order", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    order: RegistrationOrder
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., order: _Optional[_Union[RegistrationOrder, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[RegistrationOrder]
    def __init__(self, orders: _Optional[_Iterable[_Union[RegistrationOrder, _Mapping]]] = ...) -> None: ...

class AmendOrderRequest(_message.Message):
    __slots__ = ("name", "legal_reference", "zones", "end_time", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    legal_reference: str
    zones: _containers.RepeatedScalarFieldContainer[str]
    end_time: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, name: _Optional[str] = ..., legal_reference: _Optional[str] = ..., zones: _Optional[_Iterable[str]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeOrderRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class EnrollOrderFaceRequest(_message.Message):
    __slots__ = ("parent", "face", "reason")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    parent: str
    face: _faces_pb2.FaceInput
    reason: str
    def __init__(self, parent: _Optional[str] = ..., face: _Optional[_Union[_faces_pb2.FaceInput, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...
