import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Case(_message.Message):
    __slots__ = ("name", "title", "state", "create_time", "close_time", "close_reason", "face_template_count", "plate_entry_count")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Case.State]
        OPEN: _ClassVar[Case.State]
        CLOSED: _ClassVar[Case.State]
    STATE_UNSPECIFIED: Case.State
    OPEN: Case.State
    CLOSED: Case.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    FACE_TEMPLATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PLATE_ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    state: Case.State
    create_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    close_reason: str
    face_template_count: int
    plate_entry_count: int
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., state: _Optional[_Union[Case.State, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_reason: _Optional[str] = ..., face_template_count: _Optional[int] = ..., plate_entry_count: _Optional[int] = ...) -> None: ...

class CreateCaseRequest(_message.Message):
    __slots__ = ("case_id", "case", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    case: Case
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., case: _Optional[_Union[Case, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetCaseRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListCasesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: Case.State
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[Case.State, str]] = ...) -> None: ...

class ListCasesResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[Case]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CloseCaseRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Subject(_message.Message):
    __slots__ = ("name", "label", "role", "state", "create_time", "release_time", "release_reason", "face_template_count", "plate_entry_count")
    class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ROLE_UNSPECIFIED: _ClassVar[Subject.Role]
        PERSON_OF_INTEREST: _ClassVar[Subject.Role]
        SUSPECT: _ClassVar[Subject.Role]
        WITNESS: _ClassVar[Subject.Role]
        VICTIM: _ClassVar[Subject.Role]
    ROLE_UNSPECIFIED: Subject.Role
    PERSON_OF_INTEREST: Subject.Role
    SUSPECT: Subject.Role
    WITNESS: Subject.Role
    VICTIM: Subject.Role
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Subject.State]
        ACTIVE: _ClassVar[Subject.State]
        RELEASED: _ClassVar[Subject.State]
    STATE_UNSPECIFIED: Subject.State
    ACTIVE: Subject.State
    RELEASED: Subject.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RELEASE_TIME_FIELD_NUMBER: _ClassVar[int]
    RELEASE_REASON_FIELD_NUMBER: _ClassVar[int]
    FACE_TEMPLATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PLATE_ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    role: Subject.Role
    state: Subject.State
    create_time: _timestamp_pb2.Timestamp
    release_time: _timestamp_pb2.Timestamp
    release_reason: str
    face_template_count: int
    plate_entry_count: int
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., role: _Optional[_Union[Subject.Role, str]] = ..., state: _Optional[_Union[Subject.State, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_reason: _Optional[str] = ..., face_template_count: _Optional[int] = ..., plate_entry_count: _Optional[int] = ...) -> None: ...

class CreateSubjectRequest(_message.Message):
    __slots__ = ("parent", "subject_id", "subject", "reason")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    parent: str
    subject_id: str
    subject: Subject
    reason: str
    def __init__(self, parent: _Optional[str] = ..., subject_id: _Optional[str] = ..., subject: _Optional[_Union[Subject, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetSubjectRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListSubjectsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSubjectsResponse(_message.Message):
    __slots__ = ("subjects", "next_page_token")
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    next_page_token: str
    def __init__(self, subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReleaseSubjectRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class LegalHold(_message.Message):
    __slots__ = ("name", "authority_kind", "authority", "placed_by", "create_time", "end_time", "state", "lift_time", "lift_reason")
    class AuthorityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        AUTHORITY_KIND_UNSPECIFIED: _ClassVar[LegalHold.AuthorityKind]
        COURT_ORDER: _ClassVar[LegalHold.AuthorityKind]
        STATUTE: _ClassVar[LegalHold.AuthorityKind]
    AUTHORITY_KIND_UNSPECIFIED: LegalHold.AuthorityKind
    COURT_ORDER: LegalHold.AuthorityKind
    STATUTE: LegalHold.AuthorityKind
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[LegalHold.State]
        ACTIVE: _ClassVar[LegalHold.State]
        LIFTED: _ClassVar[LegalHold.State]
        EXPIRED: _ClassVar[LegalHold.State]
    STATE_UNSPECIFIED: LegalHold.State
    ACTIVE: LegalHold.State
    LIFTED: LegalHold.State
    EXPIRED: LegalHold.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHORITY_KIND_FIELD_NUMBER: _ClassVar[int]
    AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    PLACED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LIFT_TIME_FIELD_NUMBER: _ClassVar[int]
    LIFT_REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    authority_kind: LegalHold.AuthorityKind
    authority: str
    placed_by: str
    create_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    state: LegalHold.State
    lift_time: _timestamp_pb2.Timestamp
    lift_reason: str
    def __init__(self, name: _Optional[str] = ..., authority_kind: _Optional[_Union[LegalHold.AuthorityKind, str]] = ..., authority: _Optional[str] = ..., placed_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[LegalHold.State, str]] = ..., lift_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lift_reason: _Optional[str] = ...) -> None: ...

class PlaceLegalHoldRequest(_message.Message):
    __slots__ = ("parent", "legal_hold", "reason")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    parent: str
    legal_hold: LegalHold
    reason: str
    def __init__(self, parent: _Optional[str] = ..., legal_hold: _Optional[_Union[LegalHold, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class LiftLegalHoldRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListLegalHoldsRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListLegalHoldsResponse(_message.Message):
    __slots__ = ("legal_holds",)
    LEGAL_HOLDS_FIELD_NUMBER: _ClassVar[int]
    legal_holds: _containers.RepeatedCompositeFieldContainer[LegalHold]
    def __init__(self, legal_holds: _Optional[_Iterable[_Union[LegalHold, _Mapping]]] = ...) -> None: ...

class Purge(_message.Message):
    __slots__ = ("name", "case", "subject", "trigger", "state", "request_time", "complete_time", "face_template_count", "held_until", "plate_entry_count", "order", "alert_count", "waiver")
    class Trigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TRIGGER_UNSPECIFIED: _ClassVar[Purge.Trigger]
        CASE_CLOSED: _ClassVar[Purge.Trigger]
        SUBJECT_RELEASED: _ClassVar[Purge.Trigger]
        ORDER_ENDED: _ClassVar[Purge.Trigger]
        ORDER_REVOKED: _ClassVar[Purge.Trigger]
        WAIVER_ENDED: _ClassVar[Purge.Trigger]
        WAIVER_REVOKED: _ClassVar[Purge.Trigger]
    TRIGGER_UNSPECIFIED: Purge.Trigger
    CASE_CLOSED: Purge.Trigger
    SUBJECT_RELEASED: Purge.Trigger
    ORDER_ENDED: Purge.Trigger
    ORDER_REVOKED: Purge.Trigger
    WAIVER_ENDED: Purge.Trigger
    WAIVER_REVOKED: Purge.Trigger
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Purge.State]
        PENDING: _ClassVar[Purge.State]
        KEY_DESTROYED: _ClassVar[Purge.State]
        ROWS_DELETED: _ClassVar[Purge.State]
        CHECKPOINTED: _ClassVar[Purge.State]
        DONE: _ClassVar[Purge.State]
        KEK_ROTATED: _ClassVar[Purge.State]
    STATE_UNSPECIFIED: Purge.State
    PENDING: Purge.State
    KEY_DESTROYED: Purge.State
    ROWS_DELETED: Purge.State
    CHECKPOINTED: Purge.State
    DONE: Purge.State
    KEK_ROTATED: Purge.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    FACE_TEMPLATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    HELD_UNTIL_FIELD_NUMBER: _ClassVar[int]
    PLATE_ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    ALERT_COUNT_FIELD_NUMBER: _ClassVar[int]
    WAIVER_FIELD_NUMBER: _ClassVar[int]
    name: str
    case: str
    subject: str
    trigger: Purge.Trigger
    state: Purge.State
    request_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    face_template_count: int
    held_until: _timestamp_pb2.Timestamp
    plate_entry_count: int
    order: str
    alert_count: int
    waiver: str
    def __init__(self, name: _Optional[str] = ..., case: _Optional[str] = ..., subject: _Optional[str] = ..., trigger: _Optional[_Union[Purge.Trigger, str]] = ..., state: _Optional[_Union[Purge.State, str]] = ..., request_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., face_template_count: _Optional[int] = ..., held_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., plate_entry_count: _Optional[int] = ..., order: _Optional[str] = ..., alert_count: _Optional[int] = ..., waiver: _Optional[str] = ...) -> None: ...

class ListPurgesRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListPurgesResponse(_message.Message):
    __slots__ = ("purges",)
    PURGES_FIELD_NUMBER: _ClassVar[int]
    purges: _containers.RepeatedCompositeFieldContainer[Purge]
    def __init__(self, purges: _Optional[_Iterable[_Union[Purge, _Mapping]]] = ...) -> None: ...
