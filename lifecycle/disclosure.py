"""Sharing and release of information (P13; Table 2 of the policy): who may receive what, when.

Every request to let data leave the system is *decided* here, and every decision, allowed or
refused, is written to the ``disclosures`` table and to the audit log (action
``disclosure.decide``) in one transaction (P13, P16). An allowed decision is a licence for one
release: :meth:`DisclosureDecider.package` produces the manifest of what may leave, once,
stamped with the decision's id, after checking again that the basis still holds.

Reading of Table 2 (the policy text; POLICY.md's P13 is a summary of it):

========================  ========================================  =================================
Third party (kind)        Biometric data                            Other data (non-biometric)
========================  ========================================  =================================
external_law_enforcement  active investigation (case open),         same
security_organisation     prosecution, law, court order
prosecution
private_security          never ("this does not include private     never
                          security firms": not in Table 2 at all)
public_health             never ("excludes biometric data")         only to an authorised third party
                                                                    (basis ``authorization``)
emergency_response        never ("excludes biometric data")         only for the duration of an
                                                                    emergency (basis ``emergency``
                                                                    with the emergency's end)
civil_party               never (P13: biometric data leaves only    only as required by a warrant
                          to law enforcement, security              or subpoena
                          organisations and prosecutions)
general_public            never (biometric data is PII)             only as required by law
========================  ========================================  =================================

Where the text and the summary differ, this is how each difference is read:

- *Civil parties*: the text's civil row says "We don't share -- Unless required by a warrant,
  or subpoena", without excluding biometric data; P13 lets biometric data leave only to law
  enforcement, security organisations and prosecutions. The stricter holds: a civil party never
  receives biometric data, and other data only with a warrant or subpoena.
- *General public*: POLICY.md says "nothing containing personal data"; the text adds "except as
  required by law". The basis ``law`` is accepted for non-biometric data; biometric data never
  goes to the public (its only way out is the law-enforcement row).
- *Public health*: the text adds "only with authorized third parties": the basis
  ``authorization`` with a reference to the authorisation (Section 3.6's approval) is required.
- *Emergency response*: the text adds "only for the duration of an emergency": the basis
  ``emergency`` needs the emergency's declared end, which must be in the future when deciding
  and when packaging.
- *Private security firms* are excluded by the text's note and get their own kind, so that a
  caller cannot pass one off as a "security organisation" without saying so.

Legal bases are read literally per row: the law-enforcement row lists an active criminal
investigation, a criminal prosecution, a law and a court order; a warrant or a subpoena is
accepted only where the text names it (civil parties). A judicial warrant that is a court order
is recorded as ``court_order`` with its reference. Every basis except ``active_investigation``
(whose reference is the case itself) must cite its reference. Nothing outside this table is
relaxed silently: an unknown kind or basis is refused with its own reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.actions import Action
from lifecycle.audit import OK, REFUSED, AuditLog
from lifecycle.cases import new_id
from lifecycle.clock import Clock
from lifecycle.db import Database
from lifecycle.errors import AuditedRefusal, Kind, PolicyError
from lifecycle.governance_models import Disclosure

ACTION_DECIDE: Final = Action.DISCLOSURE_DECIDE
ACTION_PACKAGE: Final = Action.DISCLOSURE_PACKAGE

# --- recipient kinds (Table 2's "Third Party" column) -------------------------------------------
EXTERNAL_LAW_ENFORCEMENT: Final = "external_law_enforcement"
SECURITY_ORGANISATION: Final = "security_organisation"
PROSECUTION_ENTITY: Final = "prosecution"
PRIVATE_SECURITY: Final = "private_security"
PUBLIC_HEALTH: Final = "public_health"
EMERGENCY_RESPONSE: Final = "emergency_response"
CIVIL_PARTY: Final = "civil_party"
GENERAL_PUBLIC: Final = "general_public"

# --- legal bases (Table 2's "Conditions" column) ------------------------------------------------
ACTIVE_INVESTIGATION: Final = "active_investigation"
PROSECUTION: Final = "prosecution"
LAW: Final = "law"
COURT_ORDER: Final = "court_order"
WARRANT: Final = "warrant"
SUBPOENA: Final = "subpoena"
AUTHORIZATION: Final = "authorization"
EMERGENCY: Final = "emergency"
LEGAL_BASES: Final = frozenset(
    {ACTIVE_INVESTIGATION, PROSECUTION, LAW, COURT_ORDER, WARRANT, SUBPOENA, AUTHORIZATION, EMERGENCY}
)
# The case itself is the reference of an active investigation; every other basis cites one.
BASES_WITHOUT_REFERENCE: Final = frozenset({ACTIVE_INVESTIGATION})

# --- refusal reasons (names of matcher.v1.ErrorReason values) -----------------------------------
RECIPIENT_KIND_UNKNOWN: Final = "RECIPIENT_KIND_UNKNOWN"
LEGAL_BASIS_UNKNOWN: Final = "LEGAL_BASIS_UNKNOWN"
LEGAL_BASIS_REQUIRED: Final = "LEGAL_BASIS_REQUIRED"
LEGAL_REFERENCE_REQUIRED: Final = "LEGAL_REFERENCE_REQUIRED"
DISCLOSURE_NOT_PERMITTED: Final = "DISCLOSURE_NOT_PERMITTED"
CASE_NOT_ACTIVE: Final = "CASE_NOT_ACTIVE"
EMERGENCY_NOT_ACTIVE: Final = "EMERGENCY_NOT_ACTIVE"
DISCLOSURE_NOT_FOUND: Final = "DISCLOSURE_NOT_FOUND"
DISCLOSURE_REFUSED: Final = "DISCLOSURE_REFUSED"
DISCLOSURE_ALREADY_PACKAGED: Final = "DISCLOSURE_ALREADY_PACKAGED"
CASE_NOT_FOUND: Final = "CASE_NOT_FOUND"
REASON_REQUIRED: Final = "REASON_REQUIRED"
FIELD_INVALID: Final = "FIELD_INVALID"

# How each refusal maps to a transport status (through PolicyError's Kind).
REASON_KINDS: Final[Mapping[str, Kind]] = MappingProxyType(
    {
        RECIPIENT_KIND_UNKNOWN: Kind.INVALID_ARGUMENT,
        LEGAL_BASIS_UNKNOWN: Kind.INVALID_ARGUMENT,
        LEGAL_REFERENCE_REQUIRED: Kind.INVALID_ARGUMENT,
        REASON_REQUIRED: Kind.INVALID_ARGUMENT,
        FIELD_INVALID: Kind.INVALID_ARGUMENT,
        CASE_NOT_FOUND: Kind.NOT_FOUND,
        DISCLOSURE_NOT_FOUND: Kind.NOT_FOUND,
        LEGAL_BASIS_REQUIRED: Kind.FAILED_PRECONDITION,
        DISCLOSURE_NOT_PERMITTED: Kind.FAILED_PRECONDITION,
        CASE_NOT_ACTIVE: Kind.FAILED_PRECONDITION,
        EMERGENCY_NOT_ACTIVE: Kind.FAILED_PRECONDITION,
        DISCLOSURE_REFUSED: Kind.FAILED_PRECONDITION,
        DISCLOSURE_ALREADY_PACKAGED: Kind.FAILED_PRECONDITION,
    }
)

_LAW_ENFORCEMENT_BASES: Final = frozenset({ACTIVE_INVESTIGATION, PROSECUTION, LAW, COURT_ORDER})
_NEVER: Final[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class SharingRule:
    """One row of Table 2: the bases under which biometric and other data may go to a kind.

    An empty set means "never, whatever the basis" (refused as DISCLOSURE_NOT_PERMITTED); a
    non-empty set means "only with one of these" (anything else is LEGAL_BASIS_REQUIRED).
    """

    recipient_kind: str
    biometric_bases: frozenset[str]
    other_bases: frozenset[str]
    text: str

    def bases(self, includes_biometric: bool) -> frozenset[str]:
        return self.biometric_bases if includes_biometric else self.other_bases


def _rule(kind: str, biometric: frozenset[str], other: frozenset[str], text: str) -> SharingRule:
    return SharingRule(kind, biometric, other, text)


# P13: Table 2 as data. The tests walk every (kind, basis, biometric) triple of it.
TABLE_2: Final[Mapping[str, SharingRule]] = MappingProxyType(
    {
        rule.recipient_kind: rule
        for rule in (
            _rule(
                EXTERNAL_LAW_ENFORCEMENT,
                _LAW_ENFORCEMENT_BASES,
                _LAW_ENFORCEMENT_BASES,
                "external law enforcement agencies: with an active criminal investigation, a "
                "criminal prosecution, as required by law or by a court order",
            ),
            _rule(
                SECURITY_ORGANISATION,
                _LAW_ENFORCEMENT_BASES,
                _LAW_ENFORCEMENT_BASES,
                "recognised external security organisations (not private security firms): with an "
                "active criminal investigation, a criminal prosecution, as required by law or by a "
                "court order",
            ),
            _rule(
                PROSECUTION_ENTITY,
                _LAW_ENFORCEMENT_BASES,
                _LAW_ENFORCEMENT_BASES,
                "external entities associated with a criminal prosecution: with an active criminal "
                "investigation, a criminal prosecution, as required by law or by a court order",
            ),
            _rule(
                PRIVATE_SECURITY,
                _NEVER,
                _NEVER,
                "private security firms are excluded from Table 2: nothing is shared with them",
            ),
            _rule(
                PUBLIC_HEALTH,
                _NEVER,
                frozenset({AUTHORIZATION}),
                "external public health organisations: never biometric data; other data only "
                "to an authorised third party",
            ),
            _rule(
                EMERGENCY_RESPONSE,
                _NEVER,
                frozenset({EMERGENCY}),
                "external emergency response organisations: never biometric data; other data "
                "only for the duration of an emergency",
            ),
            _rule(
                CIVIL_PARTY,
                # Table 2's civil row alone would let biometric data go with a warrant; P13's
                # first sentence lets biometric data leave only to law enforcement, security
                # organisations or prosecution. Where two readings differ, the stricter holds:
                # a civil party never receives biometric data, and other data only as required.
                _NEVER,
                frozenset({WARRANT, SUBPOENA}),
                "third parties associated with a civil case or proceeding: nothing unless "
                "required by a warrant or subpoena, and never biometric data (P13)",
            ),
            _rule(
                GENERAL_PUBLIC,
                _NEVER,
                frozenset({LAW}),
                "the general public: no data containing personal information except as required by "
                "law, and never biometric data",
            ),
        )
    }
)
RECIPIENT_KINDS: Final = frozenset(TABLE_2)


@dataclass(frozen=True)
class Decision:
    """The outcome of one sharing request; ``reason`` is empty when it is allowed.

    Refusals are returned, not raised, because a refusal is a recorded decision like any other;
    :meth:`error` gives the ``PolicyError`` the transport turns into a status.
    """

    allowed: bool
    reason: str
    rule: str
    message: str
    decision_id: str

    def error(self) -> PolicyError:
        if self.allowed:
            raise ValueError("an allowed decision is not an error")
        return PolicyError(
            REASON_KINDS.get(self.reason, Kind.FAILED_PRECONDITION), self.reason, self.message, rule=self.rule
        )

    def raise_if_refused(self) -> None:
        if not self.allowed:
            raise self.error()


@dataclass(frozen=True)
class SubjectManifest:
    """What a release says about one subject: the pseudonymous label and counts, never a face."""

    label: str
    role: str
    template_count: int
    plate_entry_count: int
    template_ids: tuple[str, ...]  # empty unless the decision covers biometric data


@dataclass(frozen=True)
class Package:
    """The manifest of one release, stamped with its decision (P13).

    It lists template ids, not embeddings: how biometric content is encrypted for the recipient
    is the transport's concern, and this object can be logged or shown without leaking a face.
    """

    decision_id: str
    case_id: str
    recipient_kind: str
    recipient_name: str
    legal_basis: str
    legal_reference: str
    includes_biometric: bool
    generated_at: datetime
    subjects: tuple[SubjectManifest, ...]
    counts: Mapping[str, int] = field(default_factory=dict)

    def manifest(self) -> dict[str, object]:
        """A JSON-ready view of the package."""
        return {
            "decision": self.decision_id,
            "case": self.case_id,
            "recipient_kind": self.recipient_kind,
            "recipient_name": self.recipient_name,
            "legal_basis": self.legal_basis,
            "legal_reference": self.legal_reference,
            "includes_biometric": self.includes_biometric,
            "generated_at": self.generated_at.isoformat(),
            "rule": "P13",
            "subjects": [
                {
                    "label": s.label,
                    "role": s.role,
                    "template_count": s.template_count,
                    "plate_entry_count": s.plate_entry_count,
                    "template_ids": list(s.template_ids),
                }
                for s in self.subjects
            ],
            "counts": dict(self.counts),
        }


@dataclass(frozen=True)
class _Request:
    actor: str
    case_id: str
    recipient_kind: str
    recipient_name: str
    legal_basis: str
    legal_reference: str
    purpose: str
    includes_biometric: bool
    basis_ends_at: datetime | None


class _Refused(Exception):
    def __init__(self, reason: str, message: str, rule: str = "P13") -> None:
        super().__init__(message)
        self.reason, self.message, self.rule = reason, message, rule


class DisclosureDecider:
    """Decides, records and packages releases of a case's data to third parties (P13)."""

    def __init__(self, db: Database, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit

    # --- deciding -----------------------------------------------------------------------------

    def decide(
        self,
        actor: str,
        case_id: str,
        recipient_kind: str,
        recipient_name: str,
        legal_basis: str,
        legal_reference: str,
        reason: str,
        includes_biometric: bool,
        *,
        basis_ends_at: datetime | None = None,
    ) -> Decision:
        """Decides one request under Table 2 and records it, whatever the outcome (P13, P16).

        ``reason`` is the purpose of the release (P12). ``basis_ends_at`` is the declared end of
        the emergency for the basis ``emergency`` and is ignored otherwise.
        """
        request = _Request(
            actor=actor.strip()[:200],
            case_id=case_id.strip()[:63],
            recipient_kind=recipient_kind.strip()[:64],
            recipient_name=recipient_name.strip(),
            legal_basis=legal_basis.strip()[:64],
            legal_reference=legal_reference.strip()[:1000],
            purpose=reason.strip(),
            includes_biometric=includes_biometric,
            # Only an emergency has an end of its own; a naive instant is no instant (decision 7).
            basis_ends_at=(
                basis_ends_at
                if legal_basis.strip() == EMERGENCY and basis_ends_at is not None and basis_ends_at.tzinfo
                else None
            ),
        )
        with self.db.transaction() as session:
            now = self.clock.now()
            try:
                rule = self._check(session, request, now)
                outcome = Decision(True, "", "P13", rule.text, new_id())
            except _Refused as refusal:
                outcome = Decision(False, refusal.reason, refusal.rule, refusal.message, new_id())
            self._record(session, request, outcome, now)
        return outcome

    def _check(self, session: Session, request: _Request, now: datetime) -> SharingRule:
        """The checks of one request, most fundamental first; raises ``_Refused``."""
        if not request.purpose:
            raise _Refused(REASON_REQUIRED, "a disclosure must state its purpose (P12)", "P12")
        if len(request.purpose) > 1000:
            raise _Refused(FIELD_INVALID, "the purpose is longer than 1000 characters", "P12")
        sharing = TABLE_2.get(request.recipient_kind)
        if sharing is None:
            raise _Refused(
                RECIPIENT_KIND_UNKNOWN,
                f"recipient kind {request.recipient_kind!r} is not a third party of Table 2; use one "
                f"of {', '.join(sorted(RECIPIENT_KINDS))} (P13)",
            )
        if not request.recipient_name or len(request.recipient_name) > 200:
            raise _Refused(FIELD_INVALID, "name the recipient (1-200 characters) (P13)")
        case = session.get(m.Case, request.case_id)
        if case is None:
            raise _Refused(CASE_NOT_FOUND, f"case {request.case_id!r} does not exist")
        what = "biometric data" if request.includes_biometric else "data"
        accepted = sharing.bases(request.includes_biometric)
        if not accepted:
            raise _Refused(
                DISCLOSURE_NOT_PERMITTED,
                f"{what} may never be released to {request.recipient_kind.replace('_', ' ')} "
                f"({sharing.text}) (P13)",
            )
        if not request.legal_basis:
            raise _Refused(LEGAL_BASIS_REQUIRED, self._needs(request, accepted, what))
        if request.legal_basis not in LEGAL_BASES:
            raise _Refused(
                LEGAL_BASIS_UNKNOWN,
                f"legal basis {request.legal_basis!r} is unknown; use one of "
                f"{', '.join(sorted(LEGAL_BASES))} (P13)",
            )
        if request.legal_basis not in accepted:
            raise _Refused(LEGAL_BASIS_REQUIRED, self._needs(request, accepted, what))
        if request.legal_basis not in BASES_WITHOUT_REFERENCE and not request.legal_reference:
            raise _Refused(
                LEGAL_REFERENCE_REQUIRED,
                f"a disclosure under {request.legal_basis.replace('_', ' ')} must cite it (for example "
                "the order's or docket's number, or the statute) (P13)",
            )
        if request.legal_basis == ACTIVE_INVESTIGATION and case.state != m.CASE_OPEN:
            raise _Refused(
                CASE_NOT_ACTIVE,
                f"case {request.case_id!r} is closed: it is no longer an active investigation (P13, P3)",
            )
        if request.legal_basis == EMERGENCY and (
            request.basis_ends_at is None or request.basis_ends_at <= now
        ):
            raise _Refused(
                EMERGENCY_NOT_ACTIVE,
                "emergency responders receive data only for the duration of an emergency: give the "
                "declared end (UTC-aware) of an emergency that is still going on (P13)",
            )
        return sharing

    @staticmethod
    def _needs(request: _Request, accepted: frozenset[str], what: str) -> str:
        bases = " or ".join(b.replace("_", " ") for b in sorted(accepted))
        return (
            f"{what} may be released to {request.recipient_kind.replace('_', ' ')} only under {bases} (P13)"
        )

    def _record(self, session: Session, request: _Request, decision: Decision, now: datetime) -> None:
        """Writes the decision row and its audit record in the caller's transaction (P13, P16)."""
        session.add(
            Disclosure(
                id=decision.decision_id,
                decided_at=now,
                actor=request.actor,
                case_id=request.case_id,
                recipient_kind=request.recipient_kind,
                recipient_name=request.recipient_name[:200],
                legal_basis=request.legal_basis,
                legal_reference=request.legal_reference,
                purpose=request.purpose[:1000],
                includes_biometric=request.includes_biometric,
                basis_ends_at=request.basis_ends_at,
                allowed=decision.allowed,
                refusal_reason=decision.reason,
                rule=decision.rule,
                message=decision.message,
            )
        )
        detail: dict[str, object] = {
            "decision": decision.decision_id,
            "recipient_kind": request.recipient_kind,
            "recipient_name": request.recipient_name[:200],
            "legal_basis": request.legal_basis,
            "legal_reference": request.legal_reference,
            "includes_biometric": request.includes_biometric,
            "rule": decision.rule,
        }
        if not decision.allowed:
            detail["message"] = decision.message
        if request.basis_ends_at is not None:
            detail["basis_ends_at"] = request.basis_ends_at.isoformat()
        self.audit.append(
            session,
            actor=request.actor or "anonymous",
            action=ACTION_DECIDE,
            resource=_resource(request.case_id, decision.decision_id),
            reason=request.purpose[:1000],
            outcome=OK if decision.allowed else REFUSED,
            code=decision.reason,
            detail=detail,
        )

    # --- reading ------------------------------------------------------------------------------

    def get(self, decision_id: str) -> Disclosure | None:
        with self.db.transaction() as session:
            return session.get(Disclosure, decision_id)

    def list(self, case_id: str | None = None) -> list[Disclosure]:
        """Decisions in the order they were taken, optionally of one case."""
        with self.db.transaction() as session:
            query = select(Disclosure)
            if case_id is not None:
                query = query.where(Disclosure.case_id == case_id)
            return list(session.scalars(query.order_by(Disclosure.decided_at, Disclosure.id)))

    # --- releasing ----------------------------------------------------------------------------

    def package(self, actor: str, case_id: str, decision_id: str) -> Package:
        """The manifest of what may leave under an allowed decision, produced once (P13).

        The basis is checked again at release time: an investigation that has since closed, or an
        emergency that has ended, no longer licenses the release. Only data still lawfully kept
        is listed: an active subject of an open case, or anything of a case under an active
        legal hold (P4); data whose basis ended (P2, P3) and that awaits destruction never leaves.
        A refusal raises ``PolicyError`` after it is audited in a transaction of its own.
        """
        try:
            with self.db.transaction() as session:
                row = session.get(Disclosure, decision_id, with_for_update=True)
                if row is None or row.case_id != case_id:
                    raise PolicyError(
                        Kind.NOT_FOUND,
                        DISCLOSURE_NOT_FOUND,
                        f"disclosure decision {decision_id!r} does not exist for case {case_id!r}",
                        rule="P13",
                    )
                package = self._package(session, actor, row)
                self.audit.append(
                    session,
                    actor=actor,
                    action=ACTION_PACKAGE,
                    resource=_resource(case_id, decision_id),
                    reason=row.purpose,
                    count=sum(s.template_count for s in package.subjects) if row.includes_biometric else 0,
                    detail={
                        "decision": decision_id,
                        "recipient_kind": row.recipient_kind,
                        "legal_basis": row.legal_basis,
                        "includes_biometric": row.includes_biometric,
                        "subjects": len(package.subjects),
                        "plate_entries": package.counts.get("plate_entries", 0),
                        "rule": "P13",
                    },
                )
                return package
        except PolicyError as error:
            self.audit.record(
                actor=actor[:200] or "anonymous",
                action=ACTION_PACKAGE,
                resource=_resource(case_id[:63], decision_id[:32]),
                outcome=REFUSED,
                code=error.reason,
                detail={"message": error.message, "rule": error.rule or "P13"},
            )
            raise AuditedRefusal.of(error) from error

    def _package(self, session: Session, actor: str, row: Disclosure) -> Package:
        now = self.clock.now()
        if not row.allowed:
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                DISCLOSURE_REFUSED,
                f"disclosure decision {row.id!r} refused the release ({row.refusal_reason}): nothing "
                "may leave under it (P13)",
                rule="P13",
            )
        if row.packaged_at is not None:
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                DISCLOSURE_ALREADY_PACKAGED,
                f"disclosure decision {row.id!r} was released at {row.packaged_at.isoformat()}; "
                "each release needs its own decision (P13)",
                rule="P13",
            )
        case = session.get(m.Case, row.case_id)
        assert case is not None  # An allowed decision names an existing case; cases are kept.
        if row.legal_basis == ACTIVE_INVESTIGATION and case.state != m.CASE_OPEN:
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                CASE_NOT_ACTIVE,
                f"case {row.case_id!r} closed after the decision: it is no longer an active "
                "investigation (P13, P3)",
                rule="P13",
            )
        if row.legal_basis == EMERGENCY and (row.basis_ends_at is None or row.basis_ends_at <= now):
            raise PolicyError(
                Kind.FAILED_PRECONDITION,
                EMERGENCY_NOT_ACTIVE,
                "the emergency that licensed this release has ended (P13)",
                rule="P13",
            )
        held = (
            session.scalar(
                select(func.count())
                .select_from(m.LegalHold)
                .where(
                    m.LegalHold.case_id == row.case_id,
                    m.LegalHold.lifted_at.is_(None),
                    m.LegalHold.end_at > now,
                )
            )
            or 0
        ) > 0
        retained = held or case.state == m.CASE_OPEN
        query = select(m.Subject).where(m.Subject.case_id == row.case_id)
        if not held:
            query = query.where(m.Subject.state == m.SUBJECT_ACTIVE)
        subjects = []
        for subject in session.scalars(query.order_by(m.Subject.subject_id)) if retained else ():
            template_ids = tuple(
                session.scalars(
                    select(m.FaceTemplate.id)
                    .where(m.FaceTemplate.subject_pk == subject.pk)
                    .order_by(m.FaceTemplate.id)
                )
            )
            plates = session.scalar(
                select(func.count()).select_from(m.PlateEntry).where(m.PlateEntry.subject_pk == subject.pk)
            )
            subjects.append(
                SubjectManifest(
                    label=subject.label,
                    role=subject.role,
                    template_count=len(template_ids),
                    plate_entry_count=plates or 0,
                    template_ids=template_ids if row.includes_biometric else (),
                )
            )
        case_plates = (
            session.scalar(
                select(func.count())
                .select_from(m.PlateEntry)
                .where(m.PlateEntry.case_id == row.case_id, m.PlateEntry.subject_pk.is_(None))
            )
            if retained
            else 0
        ) or 0
        row.packaged_at, row.packaged_by = now, actor[:200]
        return Package(
            decision_id=row.id,
            case_id=row.case_id,
            recipient_kind=row.recipient_kind,
            recipient_name=row.recipient_name,
            legal_basis=row.legal_basis,
            legal_reference=row.legal_reference,
            includes_biometric=row.includes_biometric,
            generated_at=now,
            subjects=tuple(subjects),
            counts={
                "subjects": len(subjects),
                "templates": sum(s.template_count for s in subjects),
                "plate_entries": sum(s.plate_entry_count for s in subjects) + case_plates,
                "case_plate_entries": case_plates,
            },
        )


def _resource(case_id: str, decision_id: str) -> str:
    return f"cases/{case_id}/disclosures/{decision_id}" if case_id else f"disclosures/{decision_id}"
