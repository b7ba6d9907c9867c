"""Every audit action name, in one typed place (P16, P17).

An audit record's ``action`` says what happened; the permission table (``lifecycle.access``) is
keyed by the same names, and the transparency report (``lifecycle.report``) counts records by
them. When a writer and the report spelled a name each on their own, they drifted: the report
counted an ``alert.raise`` that nothing wrote, so the alerts raised were never counted. Writers and
the report now name actions through this enum, and ``tests/test_actions.py`` checks that every
action the code writes, authorises or counts is a member, and that every member the report counts
is written somewhere.

A ``StrEnum``: a member *is* its string, so records, the table and the wire keep plain names.
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class Action(StrEnum):
    ALERT_ACK = "alert.ack"
    ALERTS_WATCH = "alerts.watch"
    AUDIT_LIST = "audit.list"
    AUDIT_VERIFY = "audit.verify"
    AUTH_FAILURE = "auth.failure"
    CAMERA_CREATE = "camera.create"
    CAMERA_LIST = "camera.list"
    CASE_ASSIGN = "case.assign"
    CASE_CLOSE = "case.close"
    CASE_CREATE = "case.create"
    CASE_GET = "case.get"
    CASE_LIST = "case.list"
    CASE_UNASSIGN = "case.unassign"
    COMPLAINT_LIST = "complaint.list"
    COMPLAINT_RECORD = "complaint.record"
    DESIGNEE_APPOINT = "designee.appoint"
    DISCLOSURE_DECIDE = "disclosure.decide"
    DISCLOSURE_LIST = "disclosure.list"
    DISCLOSURE_PACKAGE = "disclosure.package"
    EMERGENCY_DECLARE = "emergency.declare"
    EMERGENCY_END = "emergency.end"
    EMERGENCY_LIST = "emergency.list"
    FACE_ENROLL = "face.enroll"
    FACE_LIST = "face.list"
    FACES_SEARCH = "faces.search"
    HEAD_APPROVE = "head.approve"
    HEAD_WITHDRAW = "head.withdraw"
    HOLD_LIFT = "hold.lift"
    HOLD_LIST = "hold.list"
    HOLD_PLACE = "hold.place"
    NOTICES_WATCH = "notices.watch"
    OPERATOR_ZONES = "operator.zones"
    ORDER_AMEND = "order.amend"
    ORDER_CREATE = "order.create"
    ORDER_END = "order.end"
    ORDER_ENROLL = "order.enroll"
    ORDER_GET = "order.get"
    ORDER_LIST = "order.list"
    ORDER_REVOKE = "order.revoke"
    PLATE_ADD = "plate.add"
    PLATE_LIST = "plate.list"
    PLATE_REMOVE = "plate.remove"
    PLATES_CHECK = "plates.check"
    PLATE_HITS = "plate.hits"
    PLATE_HITS_EXPIRE = "plate.hits.expire"
    PLATE_HITS_WATCH = "plate.hits.watch"
    PRESENCE_COUNT = "presence.count"
    PURGE_LIST = "purge.list"
    PURGE_RECEIPT = "purge.receipt"
    REPORT_READ = "report.read"
    SIGHTINGS_REPORT = "sightings.report"
    SUBJECT_CREATE = "subject.create"
    SUBJECT_GET = "subject.get"
    SUBJECT_LIST = "subject.list"
    SUBJECT_RELEASE = "subject.release"
    USER_CREATE = "user.create"
    USER_GET = "user.get"
    USER_GRANT_ROLE = "user.grant_role"
    USER_LIST = "user.list"
    USER_LOCK = "user.lock"
    USER_REVALIDATE = "user.revalidate"
    USER_REVOKE_ROLE = "user.revoke_role"
    USER_UNLOCK = "user.unlock"
    USER_WHOAMI = "user.whoami"
    WAIVER_END = "waiver.end"
    WAIVER_ENROLL = "waiver.enroll"
    WAIVER_GRANT = "waiver.grant"
    WAIVER_LIST = "waiver.list"
    WAIVER_REVOKE = "waiver.revoke"
    WAIVER_SEARCH = "waiver.search"
    ZONE_CREATE = "zone.create"
    ZONE_LIST = "zone.list"
    ZONE_UPDATE = "zone.update"
