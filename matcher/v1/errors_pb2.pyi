from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    UNAUTHENTICATED_CALLER: _ClassVar[ErrorReason]
    CASE_NOT_FOUND: _ClassVar[ErrorReason]
    CASE_ALREADY_EXISTS: _ClassVar[ErrorReason]
    CASE_CLOSED: _ClassVar[ErrorReason]
    SUBJECT_NOT_FOUND: _ClassVar[ErrorReason]
    SUBJECT_ALREADY_EXISTS: _ClassVar[ErrorReason]
    SUBJECT_RELEASED: _ClassVar[ErrorReason]
    SUBJECT_ROLE_NOT_TARGETABLE: _ClassVar[ErrorReason]
    REASON_REQUIRED: _ClassVar[ErrorReason]
    EMBEDDING_WRONG_DIMENSION: _ClassVar[ErrorReason]
    EMBEDDING_NOT_FINITE: _ClassVar[ErrorReason]
    EMBEDDING_ZERO: _ClassVar[ErrorReason]
    MODEL_UNKNOWN: _ClassVar[ErrorReason]
    FIELD_INVALID: _ClassVar[ErrorReason]
    HOLD_INVALID: _ClassVar[ErrorReason]
    HOLD_NOT_FOUND: _ClassVar[ErrorReason]
    HOLD_NOT_ACTIVE: _ClassVar[ErrorReason]
    NOTHING_TO_HOLD: _ClassVar[ErrorReason]
    MESSAGE_TOO_LARGE: _ClassVar[ErrorReason]
    DEADLINE_REQUIRED: _ClassVar[ErrorReason]
    FACE_PIPELINE_UNAVAILABLE: _ClassVar[ErrorReason]
    PAGE_TOKEN_INVALID: _ClassVar[ErrorReason]
    NOT_READY: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
UNAUTHENTICATED_CALLER: ErrorReason
CASE_NOT_FOUND: ErrorReason
CASE_ALREADY_EXISTS: ErrorReason
CASE_CLOSED: ErrorReason
SUBJECT_NOT_FOUND: ErrorReason
SUBJECT_ALREADY_EXISTS: ErrorReason
SUBJECT_RELEASED: ErrorReason
SUBJECT_ROLE_NOT_TARGETABLE: ErrorReason
REASON_REQUIRED: ErrorReason
EMBEDDING_WRONG_DIMENSION: ErrorReason
EMBEDDING_NOT_FINITE: ErrorReason
EMBEDDING_ZERO: ErrorReason
MODEL_UNKNOWN: ErrorReason
FIELD_INVALID: ErrorReason
HOLD_INVALID: ErrorReason
HOLD_NOT_FOUND: ErrorReason
HOLD_NOT_ACTIVE: ErrorReason
NOTHING_TO_HOLD: ErrorReason
MESSAGE_TOO_LARGE: ErrorReason
DEADLINE_REQUIRED: ErrorReason
FACE_PIPELINE_UNAVAILABLE: ErrorReason
PAGE_TOKEN_INVALID: ErrorReason
NOT_READY: ErrorReason
