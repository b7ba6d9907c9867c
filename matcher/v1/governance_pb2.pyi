import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from matcher.v1 import faces_pb2 as _faces_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Disclosure(_message.Message):
    __slots__ = ("name", "recipient_kind", "recipient_name", "legal_basis", "legal_reference", "includes_biometric", "allowed", "refusal_reason", "rule", "message", "decide_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_KIND_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    INCLUDES_BIOMETRIC_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    recipient_kind: str
    recipient_name: str
    legal_basis: str
    legal_reference: str
    includes_biometric: bool
    allowed: bool
    refusal_reason: str
    rule: str
    message: str
    decide_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., recipient_kind: _Optional[str] = ..., recipient_name: _Optional[str] = ..., legal_basis: _Optional[str] = ..., legal_reference: _Optional[str] = ..., includes_biometric: _Optional[bool] = ..., allowed: _Optional[bool] = ..., refusal_reason: _Optional[str] = ..., rule: _Optional[str] = ..., message: _Optional[str] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DecideDisclosureRequest(_message.Message):
    __slots__ = ("case", "recipient_kind", "recipient_name", "legal_basis", "legal_reference", "includes_biometric", "basis_end_time", "reason")
    CASE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_KIND_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    INCLUDES_BIOMETRIC_FIELD_NUMBER: _ClassVar[int]
    BASIS_END_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case: str
    recipient_kind: str
    recipient_name: str
    legal_basis: str
    legal_reference: str
    includes_biometric: bool
    basis_end_time: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, case: _Optional[str] = ..., recipient_kind: _Optional[str] = ..., recipient_name: _Optional[str] = ..., legal_basis: _Optional[str] = ..., legal_reference: _Optional[str] = ..., includes_biometric: _Optional[bool] = ..., basis_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class PackageDisclosureRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DisclosurePackage(_message.Message):
    __slots__ = ("disclosure", "manifest_json")
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_JSON_FIELD_NUMBER: _ClassVar[int]
    disclosure: str
    manifest_json: str
    def __init__(self, disclosure: _Optional[str] = ..., manifest_json: _Optional[str] = ...) -> None: ...

class ListDisclosuresRequest(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: str
    def __init__(self, case: _Optional[str] = ...) -> None: ...

class ListDisclosuresResponse(_message.Message):
    __slots__ = ("disclosures",)
    DISCLOSURES_FIELD_NUMBER: _ClassVar[int]
    disclosures: _containers.RepeatedCompositeFieldContainer[Disclosure]
    def __init__(self, disclosures: _Optional[_Iterable[_Union[Disclosure, _Mapping]]] = ...) -> None: ...

class Waiver(_message.Message):
    __slots__ = ("name", "rule", "scope", "justification", "reason_kind", "granted_by", "granted_by_title", "mayor_approval", "start_time", "end_time", "state")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    REASON_KIND_FIELD_NUMBER: _ClassVar[int]
    GRANTED_BY_FIELD_NUMBER: _ClassVar[int]
    GRANTED_BY_TITLE_FIELD_NUMBER: _ClassVar[int]
    MAYOR_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    rule: str
    scope: str
    justification: str
    reason_kind: str
    granted_by: str
    granted_by_title: str
    mayor_approval: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    state: str
    def __init__(self, name: _Optional[str] = ..., rule: _Optional[str] = ..., scope: _Optional[str] = ..., justification: _Optional[str] = ..., reason_kind: _Optional[str] = ..., granted_by: _Optional[str] = ..., granted_by_title: _Optional[str] = ..., mayor_approval: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[str] = ...) -> None: ...

class GrantWaiverRequest(_message.Message):
    __slots__ = ("waiver", "reason")
    WAIVER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    waiver: Waiver
    reason: str
    def __init__(self, waiver: _Optional[_Union[Waiver, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeWaiverRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListWaiversRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWaiversResponse(_message.Message):
    __slots__ = ("waivers",)
    WAIVERS_FIELD_NUMBER: _ClassVar[int]
    waivers: _containers.RepeatedCompositeFieldContainer[Waiver]
    def __init__(self, waivers: _Optional[_Iterable[_Union[Waiver, _Mapping]]] = ...) -> None: ...

class WatchNoticesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Notice(_message.Message):
    __slots__ = ("kind", "principal", "action", "reason", "message", "time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    kind: str
    principal: str
    action: str
    reason: str
    message: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[str] = ..., principal: _Optional[str] = ..., action: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTransparencyReportRequest(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TransparencyReport(_message.Message):
    __slots__ = ("json", "csv", "text")
    JSON_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    json: str
    csv: str
    text: str
    def __init__(self, json: _Optional[str] = ..., csv: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Complaint(_message.Message):
    __slots__ = ("name", "receive_time", "channel", "category", "summary", "recorded_by", "record_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    receive_time: _timestamp_pb2.Timestamp
    channel: str
    category: str
    summary: str
    recorded_by: str
    record_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., receive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[str] = ..., category: _Optional[str] = ..., summary: _Optional[str] = ..., recorded_by: _Optional[str] = ..., record_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordComplaintRequest(_message.Message):
    __slots__ = ("complaint",)
    COMPLAINT_FIELD_NUMBER: _ClassVar[int]
    complaint: Complaint
    def __init__(self, complaint: _Optional[_Union[Complaint, _Mapping]] = ...) -> None: ...

class ListComplaintsRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "category")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    category: str
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., category: _Optional[str] = ...) -> None: ...

class ListComplaintsResponse(_message.Message):
    __slots__ = ("complaints",)
    COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    complaints: _containers.RepeatedCompositeFieldContainer[Complaint]
    def __init__(self, complaints: _Optional[_Iterable[_Union[Complaint, _Mapping]]] = ...) -> None: ...

class EnrollWaiverFaceRequest(_message.Message):
    __slots__ = ("waiver", "face", "label", "reason")
    WAIVER_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    waiver: str
    face: _faces_pb2.FaceInput
    label: str
    reason: str
    def __init__(self, waiver: _Optional[str] = ..., face: _Optional[_Union[_faces_pb2.FaceInput, _Mapping]] = ..., label: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WaiverFace(_message.Message):
    __slots__ = ("name", "label", "model", "create_time", "face_box")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FACE_BOX_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    model: str
    create_time: _timestamp_pb2.Timestamp
    face_box: _faces_pb2.FaceBox
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., model: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., face_box: _Optional[_Union[_faces_pb2.FaceBox, _Mapping]] = ...) -> None: ...

class SearchWaiverFacesRequest(_message.Message):
    __slots__ = ("waiver", "probe", "reason", "top_k", "min_score")
    WAIVER_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    waiver: str
    probe: _faces_pb2.FaceInput
    reason: str
    top_k: int
    min_score: float
    def __init__(self, waiver: _Optional[str] = ..., probe: _Optional[_Union[_faces_pb2.FaceInput, _Mapping]] = ..., reason: _Optional[str] = ..., top_k: _Optional[int] = ..., min_score: _Optional[float] = ...) -> None: ...

class WaiverFaceMatch(_message.Message):
    __slots__ = ("face", "label", "score")
    FACE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    face: str
    label: str
    score: float
    def __init__(self, face: _Optional[str] = ..., label: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class WaiverProbeResult(_message.Message):
    __slots__ = ("face_box", "matches")
    FACE_BOX_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    face_box: _faces_pb2.FaceBox
    matches: _containers.RepeatedCompositeFieldContainer[WaiverFaceMatch]
    def __init__(self, face_box: _Optional[_Union[_faces_pb2.FaceBox, _Mapping]] = ..., matches: _Optional[_Iterable[_Union[WaiverFaceMatch, _Mapping]]] = ...) -> None: ...

class SearchWaiverFacesResponse(_message.Message):
    __slots__ = ("results", "min_score")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[WaiverProbeResult]
    min_score: float
    def __init__(self, results: _Optional[_Iterable[_Union[WaiverProbeResult, _Mapping]]] = ..., min_score: _Optional[float] = ...) -> None: ...
