"""Every refusal in words a person understands, with the policy rule behind it.

The service refuses with a gRPC status and a machine-readable reason (a name of
``matcher.v1.ErrorReason``) and, where a rule of the policy decided, that rule's id. People at a
crime center's desk should not have to read either: each page of the console shows the rule's
title, what the refusal means and what to do about it, all from this one table. A test checks
that every ErrorReason of ``protos/matcher/v1/errors.proto`` has an entry here, so a reason added
to the contract cannot reach a person as a bare code.

``RULES`` restates the rules of ``POLICY.md`` in a sentence each; ``REASONS`` gives, per reason,
the rule it usually comes from (the service's own ``rule`` metadata wins when it names one) and
the explanation. Calls that fail without a reason (the service down, a deadline passed) are
explained by their gRPC code in ``CODES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# The policy's rules (POLICY.md), one sentence each, as a person would put them.
RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "P1": "Only an active person of interest or suspect of an open case may be targeted.",
        "P2": "When someone stops being a person of interest, their biometric data is destroyed.",
        "P3": "When a case ends, all of its biometric data and watchlist plates are destroyed.",
        "P4": "Only a recorded legal hold, citing its authority and with an end date, delays destruction.",
        "P5": "A registered individual is matched only in the zones and the period of a court order.",
        "P6": "Health and human services may detect that people are present, never who they are.",
        "P7": "Faces and plates that match nothing are not kept.",
        "P8": "Where and when a person was identified is biometric data too; the audit log never holds it.",
        "P9": "Surveillance data is kept 30 days, 90 only by the Director of Public Safety's decision.",
        "P10": "Administrators, auditors and users of the data are different people.",
        "P11": "Only approved accounts work; department heads approve their users every year.",
        "P12": "Every search, enrolment and change must say why it is made.",
        "P13": "Data leaves the system only to whom Table 2 of the policy allows.",
        "P14": "Outside systems connect only securely, and partners only view.",
        "P15": "Exceptions to the policy are temporary and granted only by the two directors.",
        "P16": "Everything is recorded in a tamper-evident log; unauthorised attempts are reported.",
        "P17": "The system reports how it is used and how well it works.",
        "P18": "The data is encrypted and protected like the city's other sensitive systems.",
    }
)


@dataclass(frozen=True)
class Explanation:
    """What a refusal means and what to do, and the rule it usually comes from (or none)."""

    rule: str | None
    words: str


def _e(rule: str | None, words: str) -> Explanation:
    assert rule is None or rule in RULES, f"unknown rule {rule}"
    return Explanation(rule, words)


_PHOTO = "Choose another photo, or a better copy of this one."

REASONS: Final[Mapping[str, Explanation]] = MappingProxyType(
    {
        "ERROR_REASON_UNSPECIFIED": _e(None, "The service refused without saying why."),
        # Identity and permissions.
        "UNAUTHENTICATED_CALLER": _e(
            "P11",
            "The service did not recognise your credentials. Check the token (or certificate) and sign "
            "in again; five wrong attempts in 15 minutes lock the account.",
        ),
        "UNKNOWN_PRINCIPAL": _e("P11", "This account is not registered with the service."),
        "ACCOUNT_LOCKED": _e(
            "P11",
            "This account is locked after repeated failed sign-ins. An administrator must release it.",
        ),
        "REVALIDATION_REQUIRED": _e(
            "P11",
            "Your department head has not approved this account in the last 365 days. Ask them to "
            "revalidate it.",
        ),
        "ROLE_NOT_PERMITTED": _e("P10", "None of your roles allows this action."),
        "CASE_NOT_ASSIGNED": _e(
            "P10",
            "This case is not assigned to you (or does not exist). A case supervisor can assign it.",
        ),
        "SEPARATION_OF_DUTIES": _e(
            "P10",
            "This would let one person hold roles that must stay apart, or approve themselves.",
        ),
        "PRINCIPAL_NOT_FOUND": _e(None, "There is no such account (or it belongs to another department)."),
        "PRINCIPAL_ALREADY_EXISTS": _e(None, "An account with this id already exists."),
        "ASSIGNEE_NOT_ELIGIBLE": _e(
            "P10", "This person holds no role that works on cases (investigator or partner)."
        ),
        "HEAD_NOT_APPROVED": _e(
            "P11",
            "Your standing as head of your department has not been approved by the Mayor's designee, "
            "so your approvals of accounts do not count yet. Ask the designee to approve you.",
        ),
        "DATABASE_UNAVAILABLE": _e(
            None, "The service cannot reach its database just now: nothing was done. Try again shortly."
        ),
        # Cases and subjects.
        "CASE_NOT_FOUND": _e(None, "There is no case with this id."),
        "CASE_ALREADY_EXISTS": _e(None, "A case with this id already exists. Choose another id."),
        "CASE_CLOSED": _e(
            "P3", "The case is closed: nothing may be enrolled in it or searched against it any more."
        ),
        "CASE_NOT_ACTIVE": _e(
            "P13", "The case is closed, so an active investigation can no longer justify sharing."
        ),
        "SUBJECT_NOT_FOUND": _e(None, "There is no such subject in this case."),
        "SUBJECT_ALREADY_EXISTS": _e(None, "A subject with this id already exists in the case."),
        "SUBJECT_RELEASED": _e(
            "P2", "This subject was released: they may no longer be targeted, and their data is destroyed."
        ),
        "SUBJECT_ROLE_NOT_TARGETABLE": _e(
            "P1",
            "Only persons of interest and suspects may be enrolled; witnesses and victims never are.",
        ),
        "REASON_REQUIRED": _e("P12", "Say why you are doing this: the reason is recorded in the audit log."),
        "FIELD_INVALID": _e(None, "A field of the form is missing or out of range; see the message."),
        "PAGE_TOKEN_INVALID": _e(None, "The page link is stale. Start the listing again."),
        # Legal holds.
        "HOLD_INVALID": _e(
            "P4", "A legal hold needs its authority (court order or statute), who placed it and a future end."
        ),
        "HOLD_NOT_FOUND": _e(None, "There is no such legal hold on this case."),
        "HOLD_NOT_ACTIVE": _e("P4", "This legal hold was already lifted or has ended."),
        "NOTHING_TO_HOLD": _e("P4", "Nothing of this case is left to hold: its data is already destroyed."),
        # Service.
        "MESSAGE_TOO_LARGE": _e(None, "The upload is larger than the service accepts. Send a smaller file."),
        "DEADLINE_REQUIRED": _e(None, "The call carried no time limit (a fault of the console)."),
        "NOT_READY": _e(
            "P3", "The service is finishing pending destructions before it serves. Try again in a moment."
        ),
        "REQUEST_MALFORMED": _e(None, "The service could not read the request (a fault of the console)."),
        "TOO_MANY_CALLS": _e(
            None, "You have too many requests running at once. Wait for them, then try again."
        ),
        "REQUEST_BODY_TIMEOUT": _e(None, "The request did not reach the service in time. Try again."),
        "INTERNAL_ERROR": _e(
            None, "The service failed while doing this. Try again, or tell an administrator."
        ),
        # Embeddings (from scripts; the console sends photos).
        "EMBEDDING_WRONG_DIMENSION": _e(None, "The face template has the wrong length for the model."),
        "EMBEDDING_NOT_FINITE": _e(None, "The face template holds invalid numbers."),
        "EMBEDDING_ZERO": _e(None, "The face template is empty (all zeros)."),
        "MODEL_UNKNOWN": _e(None, "The face template comes from a model this service does not use."),
        # Photos.
        "FACE_PIPELINE_UNAVAILABLE": _e(
            None, "The service has no face models installed, so it cannot read photos. Tell an administrator."
        ),
        "IMAGE_EMPTY": _e(None, "The file is empty. " + _PHOTO),
        "IMAGE_UNSUPPORTED_FORMAT": _e(None, "This is not a JPEG or PNG image. Only photos are accepted."),
        "IMAGE_UNDECODABLE": _e(None, "The image data is damaged and cannot be read. " + _PHOTO),
        "IMAGE_TRUNCATED": _e(None, "The file ends before the image does (an incomplete copy). " + _PHOTO),
        "IMAGE_TOO_LARGE": _e(None, "The image is larger than the service accepts. Send a smaller one."),
        "IMAGE_TOO_SMALL": _e(None, "The image is too small to hold a usable face. " + _PHOTO),
        "NO_FACE": _e(None, "No face was found in this photo. " + _PHOTO),
        "FACE_TOO_SMALL": _e(
            None, "The face is too small to be recognised reliably. Use a closer or larger photo."
        ),
        "FACE_LOW_SCORE": _e(
            None, "The detector is not confident this is a face (blurred, turned away or covered)."
        ),
        "MULTIPLE_FACES": _e(
            "P1", "The photo shows several faces; enrol only the person of interest. Pick their face below."
        ),
        "FACE_BOX_INVALID": _e(None, "The chosen face area is not a valid box. Pick a face again."),
        "FACE_BOX_NOT_FOUND": _e(None, "No detected face is where you pointed. Pick one of the boxes shown."),
        "ALIGNED_CROP_WRONG_SIZE": _e(
            None, "An aligned face crop must be exactly 112 by 112 pixels. Send the whole photo instead."
        ),
        # Plates.
        "PLATE_EMPTY": _e(None, "The plate has no letters or digits."),
        "PLATE_TOO_LONG": _e(None, "This is longer than any licence plate."),
        "PLATE_BAD_CHARACTER": _e(None, "Plates hold only letters and digits (and ? or * in patterns)."),
        "PATTERN_ONLY_WILDCARDS": _e("P7", "A pattern of wildcards only would match every vehicle."),
        "CONFIDENCE_LENGTH_MISMATCH": _e(None, "There must be one confidence per plate character."),
        "CONFIDENCE_OUT_OF_RANGE": _e(None, "Confidences are numbers between 0 and 1."),
        "POLICY_MAX_EDITS_OUT_OF_RANGE": _e(None, "Allowed differences must be between 0 and 3."),
        "POLICY_CONFIDENCE_OUT_OF_RANGE": _e(None, "The minimum confidence must be between 0 and 1."),
        "PLATE_ENTRY_NOT_FOUND": _e(None, "There is no such plate on this case's watchlist."),
        "NO_PLATE": _e(None, "No licence plate was found in the image."),
        "PLATE_READER_UNAVAILABLE": _e(None, "The service has no plate-reading models installed."),
        "READ_TOO_UNCERTAIN": _e(
            "P8",
            "Too little of this plate was read with confidence to check it against the watchlists: "
            "read it again, or allow fewer differences.",
        ),
        "PLATE_CHECKS_SUSPENDED": _e(
            "P16",
            "Too many unreadable plates came from this account in a short time, so its plate "
            "checks are paused for a few minutes and the Mayor's designee has been told: have the "
            "camera checked.",
        ),
        "WAIVER_REQUIRED": _e(
            "P1",
            "A face may be searched for outside an open criminal case only under an active waiver of "
            "the Director of Public Safety or the City Operations Director. This waiver does not exist, "
            "is for something else, has not started, or has ended (and its data is destroyed).",
        ),
        "WAIVER_HAS_NO_EFFECT": _e(
            "P15",
            "Nothing in this service would apply a waiver of this rule to this kind of resource, so it "
            "is not recorded. A waiver of P1 for searches/<id> (a missing person) takes effect.",
        ),
        "COMPLAINT_PERSONAL_DATA": _e(
            "P17",
            "The complaint's summary seems to name someone (a contact, a number, a plate or an id). "
            "Describe the concern without personal data; the complaint's file stays with its office.",
        ),
        "ENTRY_ID_OUT_OF_RANGE": _e(
            None, "This watchlist entry's number is out of range; list the watchlist again and use its id."
        ),
        # Registered individuals.
        "CAMERA_NOT_FOUND": _e(None, "There is no such camera."),
        "CAMERA_ALREADY_EXISTS": _e(None, "A camera with this id already exists."),
        "ZONE_NOT_FOUND": _e(None, "There is no such zone."),
        "ZONE_ALREADY_EXISTS": _e(None, "A zone with this id already exists."),
        "ORDER_NOT_FOUND": _e(None, "There is no such order."),
        "ORDER_ALREADY_EXISTS": _e(None, "An order with this id already exists."),
        "ORDER_INVALID": _e("P5", "An order needs its legal reference, its zones and a period ending later."),
        "ORDER_NOT_ACTIVE": _e("P5", "The order was revoked or its period ended: its data is destroyed."),
        "CAPTURE_TIME_IN_FUTURE": _e(None, "The camera's clock is ahead of the service's: fix the camera."),
        "ALERT_NOT_FOUND": _e(
            "P8", "This alert no longer exists (acknowledged elsewhere, or destroyed with its order)."
        ),
        # Sharing.
        "RECIPIENT_KIND_UNKNOWN": _e("P13", "Table 2 does not know this kind of recipient."),
        "LEGAL_BASIS_UNKNOWN": _e("P13", "Table 2 does not know this legal basis."),
        "LEGAL_BASIS_REQUIRED": _e("P13", "Table 2 requires another legal basis for this recipient."),
        "LEGAL_REFERENCE_REQUIRED": _e("P13", "Cite the court order, warrant, subpoena or law."),
        "DISCLOSURE_NOT_PERMITTED": _e("P13", "Table 2 never allows this data to go to this recipient."),
        "EMERGENCY_NOT_ACTIVE": _e("P13", "The emergency this sharing relied on is over."),
        "DISCLOSURE_NOT_FOUND": _e(None, "There is no such disclosure decision."),
        "DISCLOSURE_REFUSED": _e("P13", "This disclosure was refused, so nothing can be released."),
        "DISCLOSURE_ALREADY_PACKAGED": _e("P13", "This disclosure was already released once."),
        # Waivers.
        "WAIVER_AUTHORITY_REQUIRED": _e(
            "P15", "Only the Director of Public Safety or the City Operations Director may grant waivers."
        ),
        "WAIVER_JUSTIFICATION_REQUIRED": _e("P15", "A waiver must be justified by life, safety or assets."),
        "WAIVER_RULE_NOT_WAIVABLE": _e("P15", "Destruction and the safeguards can never be waived."),
        "WAIVER_PERIOD_INVALID": _e("P15", "A waiver's period must start before it ends and end later."),
        "WAIVER_MAYOR_APPROVAL_REQUIRED": _e(
            "P15", "A waiver of 30 days or more needs the Mayor's approval."
        ),
        "WAIVER_SCOPE_INVALID": _e("P15", "A waiver applies to one existing case or order."),
        "WAIVER_SCOPE_PURGED": _e("P15", "The data this waiver would cover is already destroyed."),
        "WAIVER_NOT_FOUND": _e(None, "There is no such waiver."),
        "WAIVER_NOT_ACTIVE": _e("P15", "This waiver was revoked or has ended."),
        # Presence during a declared emergency (P6).
        "EMERGENCY_NOT_DECLARED": _e(
            "P6",
            "People may be counted only during an emergency the Director of Health or Human Services "
            "declared for this camera's area. Ask the director, or check the emergencies in force.",
        ),
        "EMERGENCY_PERIOD_INVALID": _e(
            "P6", "An emergency needs an end, may not start in the past, and lasts at most 30 days."
        ),
        "EMERGENCY_SCOPE_INVALID": _e("P6", "An emergency needs a title and the areas (zones) it covers."),
        "EMERGENCY_NOT_FOUND": _e(None, "There is no such emergency."),
        "EMERGENCY_ENDED": _e("P6", "This emergency has already ended."),
    }
)

# Failures that carry no reason, by gRPC status code name.
CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "UNAVAILABLE": "The matcher service cannot be reached. Try again shortly or tell an administrator.",
        "DEADLINE_EXCEEDED": "The service took too long to answer. Try again.",
        "UNAUTHENTICATED": REASONS["UNAUTHENTICATED_CALLER"].words,
        "PERMISSION_DENIED": REASONS["ROLE_NOT_PERMITTED"].words,
        "RESOURCE_EXHAUSTED": REASONS["MESSAGE_TOO_LARGE"].words,
    }
)
UNEXPLAINED: Final = "The service could not complete the request."


@dataclass(frozen=True)
class Shown:
    """A refusal as a page shows it: the rule (id and sentence), what it means, the details."""

    reason: str
    code: str
    rule: str | None
    rule_words: str
    words: str
    message: str


def explain(code: str, reason: str, rule: str = "", message: str = "") -> Shown:
    """The words for a refusal: the service's own rule when it named one, else the table's."""
    known = REASONS.get(reason)
    words = known.words if known else CODES.get(code, UNEXPLAINED)
    chosen = rule if rule in RULES else (known.rule if known else None)
    return Shown(reason, code, chosen, RULES.get(chosen or "", ""), words, message)
