"""Who may do what (P10, P11, P14, P16; DESIGN decision 8): roles, one permission table, the check.

Everything here fails closed. An action that is not in ``PERMISSIONS`` is refused; a principal
that is unknown, locked, holding a forbidden mix of roles, or not revalidated within a year is
refused before its roles are even looked at; a case-scoped role may touch only the cases assigned
to it, and the refusal for a case it may not see is the same whether or not the case exists.

Reading of P10 (separation of duties), from Section 3.2 of the policy ("at no time shall an end
user be allowed to administer, monitor, and/or audit the system ... at no time shall a system
administrator become an end user"): roles fall into three families, and one principal's roles
must all come from one family:

- administration: ``administrator`` (users, cameras, zones, configuration; never data);
- audit: ``auditor`` (the audit log and reports; never biometric data). Kept apart from the
  administrators too, so that nobody audits what they administered;
- use: the end-user roles (``case_supervisor``, ``investigator``, ``registry_officer``,
  ``alert_operator``, ``health_official``, ``external_partner`` -- the policy counts third-party
  users as end users) plus ``department_head``.

Reading of P11 (Section 3.4): the Mayor's designee grants access (modelled as the
``administrator``, who creates principals and grants roles); "the head of each organization must
validate all end users at least once a year". A department head is modelled as a *role*,
``department_head``, not a flag: it is then granted, revoked and audited like every other role,
and falls under the same P10 check (an administrator who could also approve accounts would
create, grant and approve alone). A department head revalidates principals of their own
department, never themselves. Revalidation is required of every principal holding an end-user
role, people and partner systems alike (the policy says "all end users"); a new end user starts
unapproved, so the first approval by the department head is what lets the account work.
Administrators, auditors and department heads who hold no end-user role are not end users and are
governed by the designee's grant alone. Five failed authentications of one identity within 15
minutes lock the account until an administrator releases it.

Every grant, revoke, revalidation, assignment, lock, unlock and refusal is appended to the audit
log (P16) in the transaction that makes the change; a refusal of a change is recorded after its
change rolled back. Subscribers to ``on_notice`` hear of every refusal and lockout at once (P16:
"unauthorised attempts raise an immediate notice to the designee").
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from types import MappingProxyType
from typing import Any, Final, TypeVar, cast

from sqlalchemy import CursorResult, Delete, delete, func, select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.access_models import (
    KIND_HUMAN,
    PRINCIPAL_KINDS,
    AuthFailure,
    CaseAssignment,
    HeadApproval,
    Principal,
    RoleGrant,
)
from lifecycle.actions import Action
from lifecycle.audit import REFUSED, AuditLog
from lifecycle.cases import require_reason
from lifecycle.clock import Clock
from lifecycle.db import Database
from lifecycle.errors import AuditedRefusal, Kind, PolicyError

log = logging.getLogger(__name__)

T = TypeVar("T")

# --- roles --------------------------------------------------------------------------------------

ADMINISTRATOR: Final = "administrator"
CASE_SUPERVISOR: Final = "case_supervisor"
INVESTIGATOR: Final = "investigator"
REGISTRY_OFFICER: Final = "registry_officer"
ALERT_OPERATOR: Final = "alert_operator"
AUDITOR: Final = "auditor"
HEALTH_OFFICIAL: Final = "health_official"
EXTERNAL_PARTNER: Final = "external_partner"
DEPARTMENT_HEAD: Final = "department_head"
CAMERA_GATEWAY: Final = "camera_gateway"
# P11 (Section 3.4): the Mayor's designee grants department-level access by approving heads.
MAYORS_DESIGNEE: Final = "mayors_designee"
# P15: the offices that grant waivers. Officials, not end users of the data.
PUBLIC_SAFETY_DIRECTOR_ROLE: Final = "public_safety_director"
CITY_OPERATIONS_DIRECTOR_ROLE: Final = "city_operations_director"
# P6: the Director of Health or Human Services declares the emergencies during which health
# officials may count people. An official, not an end user of the data.
HEALTH_DIRECTOR_ROLE: Final = "health_director"

# The roles that use the data (P10 "end user"; P11 revalidation applies to exactly these).
END_USER_ROLES: Final = frozenset(
    {
        CASE_SUPERVISOR,
        INVESTIGATOR,
        REGISTRY_OFFICER,
        ALERT_OPERATOR,
        HEALTH_OFFICIAL,
        EXTERNAL_PARTNER,
        CAMERA_GATEWAY,
    }
)
ROLES: Final = END_USER_ROLES | {
    ADMINISTRATOR,
    MAYORS_DESIGNEE,
    AUDITOR,
    DEPARTMENT_HEAD,
    PUBLIC_SAFETY_DIRECTOR_ROLE,
    CITY_OPERATIONS_DIRECTOR_ROLE,
    HEALTH_DIRECTOR_ROLE,
}

# P10: the family of each role; one principal's roles must all share one family.
# The designee is a family of its own: the administrator creates accounts and grants roles, the
# designee approves the heads who approve end users; holding both would let one person make a
# working end user (issue 17), so they never share a principal.
ADMINISTRATION, AUDIT, USE, GOVERNANCE = "administration", "audit", "use", "governance"
FAMILY: Final[Mapping[str, str]] = MappingProxyType(
    {ADMINISTRATOR: ADMINISTRATION, AUDITOR: AUDIT, DEPARTMENT_HEAD: USE, MAYORS_DESIGNEE: GOVERNANCE}
    | dict.fromkeys(END_USER_ROLES, USE)
    | dict.fromkeys((PUBLIC_SAFETY_DIRECTOR_ROLE, CITY_OPERATIONS_DIRECTOR_ROLE, HEALTH_DIRECTOR_ROLE), USE)
)
# P6, P10: pairs of roles of one family that one principal may still not hold together. Who
# declares an emergency never counts under it: nobody opens the window they then use.
EXCLUSIVE_PAIRS: Final = (frozenset({HEALTH_DIRECTOR_ROLE, HEALTH_OFFICIAL}),)


class Scope(Enum):
    """How far a role's permission for an action reaches."""

    ANY = "any"  # every case, or no case is involved
    ASSIGNED = "assigned"  # only the cases assigned to the principal (case_assignments)
    # Only registered-individual orders, never a case: the registry officers' own scope (P5).
    ORDERS = "orders"


ANY, ASSIGNED, ORDERS = Scope.ANY, Scope.ASSIGNED, Scope.ORDERS


def _row(**roles: Scope) -> Mapping[str, Scope]:
    unknown = set(roles) - ROLES
    assert not unknown, f"permission table names unknown roles {unknown}"
    return MappingProxyType(dict(roles))


# --- the permission table: action -> {role: scope}; anything not listed is denied ---------------
#
# The action names are the audit action names of the RPCs. This table is the specification: the
# tests walk every (action, role) pair of it.
PERMISSIONS: Final[Mapping[str, Mapping[str, Scope]]] = MappingProxyType(
    {
        # Cases. Supervisors open, see and close every case; investigators see the cases assigned
        # to them; an external partner sees (view-only, P14) the cases its sharing agreement
        # covers, which a supervisor records as an assignment.
        "case.create": _row(case_supervisor=ANY),
        "case.get": _row(case_supervisor=ANY, investigator=ASSIGNED, external_partner=ASSIGNED),
        "case.list": _row(case_supervisor=ANY, investigator=ASSIGNED, external_partner=ASSIGNED),
        "case.close": _row(case_supervisor=ANY),
        # Assigning investigators (and sharing a case with a partner) is the supervisor's job.
        "case.assign": _row(case_supervisor=ANY),
        "case.unassign": _row(case_supervisor=ANY),
        # Subjects: investigators name the subjects of their own cases; supervisors of any case.
        # Releasing a subject only ever destroys data (P2), so both may do it. Partners view.
        "subject.create": _row(case_supervisor=ANY, investigator=ASSIGNED),
        "subject.get": _row(case_supervisor=ANY, investigator=ASSIGNED, external_partner=ASSIGNED),
        "subject.list": _row(case_supervisor=ANY, investigator=ASSIGNED, external_partner=ASSIGNED),
        "subject.release": _row(case_supervisor=ANY, investigator=ASSIGNED),
        # Legal holds suspend destruction (P4): a supervisor's decision, not the investigator's.
        # Holds and purge receipts carry no biometric data; auditors read them as reports.
        "hold.place": _row(case_supervisor=ANY),
        "hold.lift": _row(case_supervisor=ANY),
        "hold.list": _row(case_supervisor=ANY, investigator=ASSIGNED, auditor=ANY),
        # A registry officer sees the receipts of orders (the registry's own: P5, P8), never a
        # case's; an investigator those of the assigned cases.
        "purge.list": _row(case_supervisor=ANY, investigator=ASSIGNED, registry_officer=ORDERS, auditor=ANY),
        # Biometric data: investigators only, only in their assigned cases (P1, P10, P12).
        # Supervisors manage cases without handling templates; partners are view-only (P14) and
        # receive biometric data only through a disclosure decision (P13).
        "face.enroll": _row(investigator=ASSIGNED),
        "face.list": _row(investigator=ASSIGNED),
        "faces.search": _row(investigator=ASSIGNED),
        # Plate watchlists are case data like templates: investigators, in their assigned cases.
        # A camera gateway (a system principal: the LPR network) submits reads checked against
        # every open case's watchlist; it learns that a read hit, never which entry, case or
        # subject (issue 17), and never the watchlists themselves.
        "plate.add": _row(investigator=ASSIGNED),
        "plate.list": _row(investigator=ASSIGNED),
        "plate.remove": _row(investigator=ASSIGNED),
        "plates.check": _row(investigator=ASSIGNED, camera_gateway=ANY),
        # A gateway's hits are stored for the case's investigators, who alone list them (issue
        # 17, P8/P10/P14): the gateway learns only that its read hit.
        "plate.hits": _row(investigator=ASSIGNED),
        "plate.hits.watch": _row(investigator=ASSIGNED),
        # Registered individuals (P5). Cameras and zones are configuration (administrators; the
        # registry officers read them to write orders). Orders and their templates belong to the
        # registry officers; camera gateways report sightings; alert operators watch and
        # acknowledge the alerts of the zones assigned to them (filtered inside the service).
        "camera.create": _row(administrator=ANY),
        "camera.list": _row(administrator=ANY, registry_officer=ANY),
        "zone.create": _row(administrator=ANY),
        "zone.update": _row(administrator=ANY),
        "zone.list": _row(administrator=ANY, registry_officer=ANY),
        "operator.zones": _row(administrator=ANY),
        "order.create": _row(registry_officer=ANY),
        "order.get": _row(registry_officer=ANY),
        "order.list": _row(registry_officer=ANY),
        "order.amend": _row(registry_officer=ANY),
        "order.revoke": _row(registry_officer=ANY),
        "order.enroll": _row(registry_officer=ANY),
        "sightings.report": _row(camera_gateway=ANY),
        "alerts.watch": _row(alert_operator=ANY),
        "alert.ack": _row(alert_operator=ANY),
        # The audit log and the P17 reports: auditors only; nobody audits what they use or
        # administer (P10).
        "audit.list": _row(auditor=ANY),
        "audit.verify": _row(auditor=ANY),
        "report.read": _row(auditor=ANY),
        # P17 complaints from the public: recorded by the auditors (who use no data, so the end
        # users a complaint may concern neither record nor filter it); read by them and by the
        # Mayor's designee, who compiles the public report (Section 2.5).
        "complaint.record": _row(auditor=ANY),
        "complaint.list": _row(auditor=ANY, mayors_designee=ANY),
        # P16 notices of unauthorised attempts go to the designee (the administrator, who also
        # releases locked accounts) and to the auditors.
        "notices.watch": _row(administrator=ANY, auditor=ANY),
        # Accounts: created and granted by the Mayor's designee (administrator, P11); approved
        # yearly by the head of the principal's department (P11).
        "user.create": _row(administrator=ANY),
        "user.grant_role": _row(administrator=ANY),
        "user.revoke_role": _row(administrator=ANY),
        "user.unlock": _row(administrator=ANY),
        "user.revalidate": _row(department_head=ANY),
        # P11 (Section 3.4): department-level access, granted by the Mayor's designee, who also
        # appoints further designees; never an administrator (P10).
        "head.approve": _row(mayors_designee=ANY),
        "head.withdraw": _row(mayors_designee=ANY),
        "designee.appoint": _row(mayors_designee=ANY),
        # Reading accounts (names, roles, assignments; no data): the designee, the heads who
        # approve them, and the auditors who report on them.
        "user.get": _row(administrator=ANY, department_head=ANY, auditor=ANY, mayors_designee=ANY),
        "user.list": _row(administrator=ANY, department_head=ANY, auditor=ANY, mayors_designee=ANY),
        # Everybody may see their own account.
        "user.whoami": _row(**dict.fromkeys(ROLES, ANY)),
        # P13: releasing a case's biometric data outside the system is decided by the case's
        # supervisor, never by the requesting partner.
        "disclosure.decide": _row(case_supervisor=ANY),
        "disclosure.package": _row(case_supervisor=ANY),
        "disclosure.list": _row(case_supervisor=ANY, auditor=ANY),
        # P15: waivers are granted by the Director of Public Safety or the City Operations
        # Director (Section 5.1), modelled as one role per office.
        "waiver.grant": _row(public_safety_director=ANY, city_operations_director=ANY),
        # A revocation only narrows what is allowed: the granting offices, and the auditors read.
        "waiver.revoke": _row(public_safety_director=ANY, city_operations_director=ANY),
        "waiver.list": _row(public_safety_director=ANY, city_operations_director=ANY, auditor=ANY),
        # P6: the Director of Health or Human Services declares and ends emergencies; health
        # officials count the people a camera of an emergency's zones sees (a number, nothing
        # else, nothing stored) and read which emergencies are in force; auditors read them too.
        "emergency.declare": _row(health_director=ANY),
        "emergency.end": _row(health_director=ANY),
        "emergency.list": _row(health_director=ANY, health_official=ANY, auditor=ANY),
        "presence.count": _row(health_official=ANY),
        # P1, P15: the search a waiver allows outside any case is run by investigators (any of them:
        # it is an emergency with no case to be assigned to), only while the waiver is active.
        "waiver.enroll": _row(investigator=ANY),
        "waiver.search": _row(investigator=ANY),
    }
)

# Actions that may be called without naming a case: case-scoped roles get a case filter instead.
LISTING_ACTIONS: Final = frozenset({"case.list", "purge.list"})
# Roles whose permissions depend on case assignments (derived from the table).
CASE_SCOPED_ROLES: Final = frozenset(
    role for row in PERMISSIONS.values() for role, scope in row.items() if scope is ASSIGNED
)

REVALIDATION_PERIOD: Final = timedelta(days=365)  # P11: "at least once a year"
LOCKOUT_THRESHOLD: Final = 5  # P11: failed authentications ...
LOCKOUT_WINDOW: Final = timedelta(minutes=15)  # ... within this window lock the account ...
LOCKOUT_DURATION: Final = timedelta(minutes=10)  # ... for this long (CJIS AC-7), or until released
AUTH_FAILURE_RETENTION: Final = timedelta(days=30)  # rows kept for reports; the audit log keeps more

BOOTSTRAP_ACTOR: Final = "system:bootstrap"
LOCKOUT_ACTOR: Final = "system:lockout"
BREAK_GLASS_ACTOR: Final = "system:break-glass"
_PRINCIPAL_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._@-]{0,126}[A-Za-z0-9])?$")

# Machine-readable refusal reasons (names of matcher.v1.ErrorReason).
UNKNOWN_PRINCIPAL: Final = "UNKNOWN_PRINCIPAL"
ACCOUNT_LOCKED: Final = "ACCOUNT_LOCKED"
REVALIDATION_REQUIRED: Final = "REVALIDATION_REQUIRED"
ROLE_NOT_PERMITTED: Final = "ROLE_NOT_PERMITTED"
CASE_NOT_ASSIGNED: Final = "CASE_NOT_ASSIGNED"
SEPARATION_OF_DUTIES: Final = "SEPARATION_OF_DUTIES"
PRINCIPAL_NOT_FOUND: Final = "PRINCIPAL_NOT_FOUND"
PRINCIPAL_ALREADY_EXISTS: Final = "PRINCIPAL_ALREADY_EXISTS"
ASSIGNEE_NOT_ELIGIBLE: Final = "ASSIGNEE_NOT_ELIGIBLE"
HEAD_NOT_APPROVED: Final = "HEAD_NOT_APPROVED"


# --- outcomes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The answer of ``authorize``: allowed, or refused with a reason (PERMISSION_DENIED).

    Truthy only when allowed, so ``if access.authorize(...)`` cannot mistake a refusal for a yes.
    ``case_filter`` is ``None`` when the principal may see every case, otherwise the only cases it
    may see: a listing must keep just those. ``orders`` tells whether a listing may also show what
    belongs to registered-individual orders (always when ``case_filter`` is ``None``).
    """

    allowed: bool
    principal_id: str
    action: str
    reason: str = ""
    message: str = ""
    rule: str | None = None
    roles: frozenset[str] = frozenset()
    case_filter: frozenset[str] | None = frozenset()
    orders: bool = False

    def __bool__(self) -> bool:
        return self.allowed

    def may_see(self, case_id: str) -> bool:
        """Whether a listing may show this case to the principal."""
        return self.allowed and (self.case_filter is None or case_id in self.case_filter)

    def require(self) -> Decision:
        """Returns the decision when allowed; raises ``AccessDenied`` otherwise."""
        if not self.allowed:
            raise AccessDenied(self)
        return self


class AccessDenied(Exception):
    """The caller may not do this (gRPC PERMISSION_DENIED). Already audited when raised.

    Deliberately not a ``PolicyError``: a transport that does not know it turns it into INTERNAL,
    which still refuses, rather than into a status that would suggest a fixable request.
    """

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message)
        self.decision = decision
        self.reason = decision.reason
        self.message = decision.message
        self.rule = decision.rule


@dataclass(frozen=True)
class Notice:
    """Something the designee must hear of at once (P16): a refusal or a lockout."""

    kind: str  # "refusal" or "lockout"
    principal_id: str
    action: str
    reason: str
    message: str
    at: datetime


@dataclass(frozen=True)
class Standing:
    """What a decision reads of a principal: its account row (detached), roles and cases."""

    principal: Principal
    roles: frozenset[str]
    assigned: frozenset[str]


ACCESS_TABLE_NAMES: Final = frozenset({"principals", "role_grants", "case_assignments", "head_approvals"})


def _refusal(
    principal_id: str, action: str, reason: str, message: str, rule: str | None, roles: frozenset[str]
) -> Decision:
    return Decision(False, principal_id, action, reason, message, rule, roles, frozenset())


def _families(roles: Collection[str]) -> set[str]:
    return {FAMILY[role] for role in roles if role in FAMILY}


def _rule_of(roles: frozenset[str], permitted: Mapping[str, Scope]) -> str:
    """The rule a ROLE_NOT_PERMITTED refusal cites.

    P10 when the caller's roles are of another family than every role that may (an auditor or an
    administrator asking for data, an end user asking to administer); P11 when the caller holds
    no role or the action is not in the table (not an authorised user of it at all); otherwise
    P12: an end user asking for what another duty's use is for (a registry officer reading a
    case, an alert operator searching faces): every use must be one the role exists for.
    """
    if not roles or not permitted:
        return "P11"
    if not _families(roles) & _families(permitted):
        return "P10"
    return "P12"


def separation_conflict(roles: Collection[str]) -> bool:
    """P10: true when the roles mix administration, audit and use (or hold an exclusive pair)."""
    held = frozenset(roles)
    return (
        len(_families(held)) > 1
        or any(role not in ROLES for role in held)
        or any(pair <= held for pair in EXCLUSIVE_PAIRS)
    )


def _valid_principal_id(value: str) -> bool:
    return bool(_PRINCIPAL_ID.match(value))


def _check_principal_id(value: str) -> str:
    if not _valid_principal_id(value):
        raise PolicyError(
            Kind.INVALID_ARGUMENT,
            "FIELD_INVALID",
            f"principal id {value[:200]!r} is not valid: 1-128 letters, digits, '.', '_', '@' or '-', "
            "starting and ending with a letter or digit",
        )
    return value


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise PolicyError(
            Kind.INVALID_ARGUMENT,
            "FIELD_INVALID",
            f"role {role[:64]!r} does not exist; roles are {', '.join(sorted(ROLES))}",
        )
    return role


def _deleted(session: Session, statement: Delete) -> int:
    """Runs a DELETE and tells how many rows it removed."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)


def _resource(principal_id: str) -> str:
    return f"principals/{principal_id}"


class AccessControl:
    """Principals, roles, case assignments and lockouts over the system of record, all audited."""

    def __init__(self, db: Database, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self._notice_callbacks: list[Callable[[Notice], None]] = []
        self._view_lock = threading.Lock()
        self._view: dict[str, Standing | None] = {}
        self._generation = 0
        db.on_commit.append(self.forget)

    # --- notices (P16) ----------------------------------------------------------------------

    def on_notice(self, callback: Callable[[Notice], None]) -> None:
        """Registers a callable told of every refusal and lockout, after it is committed."""
        self._notice_callbacks.append(callback)

    def _notify(self, notice: Notice) -> None:
        for callback in list(self._notice_callbacks):
            try:
                callback(notice)
            except Exception:  # A broken listener must not undo or hide the refusal itself.
                log.exception("notice listener failed")

    # --- the check ----------------------------------------------------------------------------

    def authorize(
        self,
        principal_id: str,
        action: str,
        *,
        case_id: str | None = None,
        case_ids: Collection[str] = (),
        resource: str = "",
        reason: str = "",
        peer: str = "",
    ) -> Decision:
        """May ``principal_id`` do ``action`` (on ``case_id`` / every one of ``case_ids``)?

        Call it before validating the request (decision 8). A refusal is audited here, with
        ``resource``, ``reason`` and ``peer`` for the record, so the caller must not audit it
        again; an allowed call is audited by the operation itself. A case-scoped role must name
        its case unless the action is a listing, which then gets ``Decision.case_filter``.
        """
        cases = tuple(dict.fromkeys([*([case_id] if case_id is not None else []), *case_ids]))
        decision = self._judge(self._standing(principal_id), principal_id, action, cases)
        if not decision.allowed:
            where = resource or (f"cases/{cases[0]}" if len(cases) == 1 else "access")
            with self.db.transaction() as session:
                self._append_refusal(session, decision, where, reason, peer)
            self._notify_refusal(decision)
        return decision

    # --- the view every call reads (DESIGN decision 11) ----------------------------------------

    def _standing(self, principal_id: str) -> Standing | None:
        """The principal's account, roles and cases, from an exact in-memory view.

        The view is emptied by every commit that writes an access table, in this process (the
        group committer tells it) and in any other (:class:`lifecycle.changes.ChangeFeed`), so a
        grant, revocation, lock or release is seen by the next call. A load that raced with
        such a commit is used once and not kept.
        """
        with self._view_lock:
            if principal_id in self._view:
                return self._view[principal_id]
            generation = self._generation
        with self.db.reading() as session:  # never queue behind the writer
            standing = self._load_standing(session, principal_id)
        with self._view_lock:
            if generation == self._generation:
                self._view[principal_id] = standing
        return standing

    @staticmethod
    def _load_standing(session: Session, principal_id: str) -> Standing | None:
        principal = session.get(Principal, principal_id) if _valid_principal_id(principal_id) else None
        if principal is None:
            return None
        session.expunge(principal)
        assigned = frozenset(
            session.scalars(select(CaseAssignment.case_id).where(CaseAssignment.principal_id == principal_id))
        )
        return Standing(principal, AccessControl._roles(session, principal_id), assigned)

    def forget(self, written: frozenset[str] = ACCESS_TABLE_NAMES) -> None:
        """Empties the view when a commit wrote an access table (here or in another process)."""
        if written & ACCESS_TABLE_NAMES:
            with self._view_lock:
                self._generation += 1
                self._view.clear()

    def _decide(self, session: Session, principal_id: str, action: str, cases: tuple[str, ...]) -> Decision:
        """The decision from the system of record itself (inside a change's own transaction)."""
        return self._judge(self._load_standing(session, principal_id), principal_id, action, cases)

    def _judge(
        self, standing: Standing | None, principal_id: str, action: str, cases: tuple[str, ...]
    ) -> Decision:
        principal = standing.principal if standing is not None else None
        if standing is None or principal is None:
            return _refusal(
                principal_id,
                action,
                UNKNOWN_PRINCIPAL,
                f"{principal_id[:128]!r} is not a registered principal of this service; "
                "ask an administrator to create the account (P11)",
                "P11",
                frozenset(),
            )
        roles = standing.roles
        locked_until = self.locked_until(principal)
        if locked_until is not None:
            return _refusal(
                principal_id,
                action,
                ACCOUNT_LOCKED,
                f"the account is locked until {locked_until.isoformat()} ({principal.lock_reason}); "
                "it unlocks by itself then, or when an administrator releases it (P11)",
                "P11",
                roles,
            )
        if separation_conflict(roles):
            return _refusal(
                principal_id,
                action,
                SEPARATION_OF_DUTIES,
                f"the account holds roles that may not be held together ({', '.join(sorted(roles))}); "
                "it is refused everything until an administrator removes one (P10)",
                "P10",
                roles,
            )
        if roles & END_USER_ROLES and not self._revalidated(principal):
            return _refusal(
                principal_id,
                action,
                REVALIDATION_REQUIRED,
                "the account has not been approved by the head of its department within the last "
                f"{REVALIDATION_PERIOD.days} days and stops working until it is (P11)",
                "P11",
                roles,
            )
        permitted = PERMISSIONS.get(action, {})
        scopes = {permitted[role] for role in roles if role in permitted}
        if not scopes:
            if action not in PERMISSIONS:
                message = f"action {action[:64]!r} is not in the permission table: denied by default"
            else:
                message = (
                    f"your roles ({', '.join(sorted(roles)) or 'none'}) may not do {action!r}; "
                    f"it needs one of: {', '.join(sorted(permitted)) or 'no role yet'}"
                )
            rule = _rule_of(roles, permitted)
            return _refusal(principal_id, action, ROLE_NOT_PERMITTED, f"{message} ({rule})", rule, roles)
        if ANY in scopes:
            return Decision(True, principal_id, action, roles=roles, case_filter=None, orders=True)
        orders = ORDERS in scopes
        if ASSIGNED not in scopes:  # ORDERS alone: orders' records only, never a case's
            if cases:
                return _refusal(
                    principal_id,
                    action,
                    ROLE_NOT_PERMITTED,
                    f"your roles ({', '.join(sorted(roles))}) may do {action!r} only for "
                    "registered-individual orders, never for a case (P12)",
                    "P12",
                    roles,
                )
            return Decision(True, principal_id, action, roles=roles, case_filter=frozenset(), orders=True)
        assigned = standing.assigned
        # Unknown and unassigned cases take the same path and give the same answer: the
        # assignments table is all that is read, so the refusal cannot tell whether a case exists.
        for case in cases:
            if case not in assigned:
                return _refusal(
                    principal_id,
                    action,
                    CASE_NOT_ASSIGNED,
                    f"case {case[:63]!r} is not among the cases assigned to you; "
                    "a case supervisor assigns cases (P11)",
                    "P11",
                    roles,
                )
        if not cases and action not in LISTING_ACTIONS:
            return _refusal(
                principal_id,
                action,
                CASE_NOT_ASSIGNED,
                f"{action!r} must name one of the cases assigned to you (P11)",
                "P11",
                roles,
            )
        return Decision(True, principal_id, action, roles=roles, case_filter=assigned, orders=orders)

    def locked_until(self, principal: Principal) -> datetime | None:
        """When the principal's lockout ends, or None when it is not locked (P11: a lockout lasts
        ``LOCKOUT_DURATION``, CJIS AC-7's ten minutes, unless an administrator releases it first)."""
        if principal.locked_at is None:
            return None
        until: datetime = principal.locked_at + LOCKOUT_DURATION
        return until if self.clock.now() < until else None

    def _revalidated(self, principal: Principal) -> bool:
        last = principal.last_revalidated_at
        return last is not None and self.clock.now() - last <= REVALIDATION_PERIOD

    @staticmethod
    def _roles(session: Session, principal_id: str) -> frozenset[str]:
        return frozenset(
            session.scalars(select(RoleGrant.role).where(RoleGrant.principal_id == principal_id))
        )

    def _append_refusal(
        self, session: Session, decision: Decision, resource: str, reason: str, peer: str
    ) -> None:
        detail: dict[str, object] = {"rule": decision.rule} if decision.rule else {}
        if peer:
            detail["peer"] = peer[:200]
        self.audit.append(
            session,
            actor=decision.principal_id[:200] or "anonymous",
            action=decision.action[:64],
            resource=resource[:300],
            reason=reason[:1000],
            outcome=REFUSED,
            code=decision.reason,
            detail=detail,
        )

    def _notify_refusal(self, decision: Decision) -> None:
        self._notify(
            Notice(
                "refusal",
                decision.principal_id,
                decision.action,
                decision.reason,
                decision.message,
                self.clock.now(),
            )
        )

    # --- read-only helpers ----------------------------------------------------------------------

    def principal(self, principal_id: str) -> Principal | None:
        with self.db.reading() as session:
            return session.get(Principal, principal_id)

    def principals(self) -> list[Principal]:
        with self.db.reading() as session:
            return list(session.scalars(select(Principal).order_by(Principal.id)))

    def roles_of(self, principal_id: str) -> frozenset[str]:
        with self.db.reading() as session:
            return self._roles(session, principal_id)

    def assigned_cases(self, principal_id: str) -> frozenset[str]:
        with self.db.reading() as session:
            return frozenset(
                session.scalars(
                    select(CaseAssignment.case_id).where(CaseAssignment.principal_id == principal_id)
                )
            )

    # --- audited changes --------------------------------------------------------------------

    def _administer(
        self,
        actor: str,
        action: str,
        resource: str,
        reason: str,
        change: Callable[[Session], T],
        *,
        case_id: str | None = None,
    ) -> T:
        """Runs ``change`` if ``actor`` may do ``action``, in one transaction with the check.

        A refused check is audited and raises ``AccessDenied``; a ``PolicyError`` from the change
        rolls it back, is audited in a transaction of its own and re-raised as ``AuditedRefusal``.
        """
        cases = (case_id,) if case_id is not None else ()
        try:
            with self.db.transaction() as session:
                decision = self._decide(session, actor, action, cases)
                if decision.allowed:
                    return change(session)
                self._append_refusal(session, decision, resource, reason, "")
        except PolicyError as error:
            self._record_refusal(actor, action, resource, reason, error)
            raise AuditedRefusal.of(error) from error
        self._notify_refusal(decision)
        raise AccessDenied(decision)

    def _record_refusal(
        self, actor: str, action: str, resource: str, reason: str, error: PolicyError
    ) -> None:
        detail: dict[str, object] = {"rule": error.rule} if error.rule else {}
        self.audit.record(
            actor=actor[:200],
            action=action,
            resource=resource[:300],
            reason=reason[:1000],
            outcome=REFUSED,
            code=error.reason,
            detail=detail,
        )

    @staticmethod
    def _locked_principal(session: Session, principal_id: str) -> Principal:
        """The principal's row, locked for this transaction (PostgreSQL) so checks cannot race."""
        principal = (
            session.get(Principal, principal_id, with_for_update=True)
            if _valid_principal_id(principal_id)
            else None
        )
        if principal is None:
            raise PolicyError(
                Kind.NOT_FOUND, PRINCIPAL_NOT_FOUND, f"principal {principal_id[:128]!r} does not exist"
            )
        return principal

    def bootstrap_administrator(self, principal_id: str, *, display_name: str, department: str) -> bool:
        """Creates the first administrator when no principal exists at all; False otherwise.

        The only way in that is not itself authorised by a principal: operators run it once at
        installation. Later administrators are granted by administrators.
        """
        _check_principal_id(principal_id)
        with self.db.transaction() as session:
            if session.scalar(select(func.count()).select_from(Principal)):
                return False
            now = self.clock.now()
            session.add(
                Principal(
                    id=principal_id,
                    display_name=display_name[:200],
                    department=department[:100],
                    kind=KIND_HUMAN,
                    created_at=now,
                    created_by=BOOTSTRAP_ACTOR,
                )
            )
            session.add(
                RoleGrant(
                    principal_id=principal_id, role=ADMINISTRATOR, granted_by=BOOTSTRAP_ACTOR, granted_at=now
                )
            )
            self.audit.append(
                session,
                actor=BOOTSTRAP_ACTOR,
                action=Action.USER_CREATE,
                resource=_resource(principal_id),
                reason="first administrator, created at installation",
                detail={"roles": [ADMINISTRATOR], "department": department[:100]},
            )
        return True

    def create_principal(
        self,
        actor: str,
        principal_id: str,
        *,
        display_name: str,
        department: str,
        kind: str = KIND_HUMAN,
        reason: str = "",
    ) -> Principal:
        """P11: the designee (administrator) creates an account; it holds no role yet."""

        def change(session: Session) -> Principal:
            _check_principal_id(principal_id)
            if kind not in PRINCIPAL_KINDS:
                raise PolicyError(
                    Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"kind must be one of {sorted(PRINCIPAL_KINDS)}"
                )
            if not display_name.strip() or not department.strip():
                raise PolicyError(
                    Kind.INVALID_ARGUMENT, "FIELD_INVALID", "display name and department are required"
                )
            if session.get(Principal, principal_id) is not None:
                raise PolicyError(
                    Kind.ALREADY_EXISTS,
                    PRINCIPAL_ALREADY_EXISTS,
                    f"principal {principal_id!r} already exists",
                )
            principal = Principal(
                id=principal_id,
                display_name=display_name.strip()[:200],
                department=department.strip()[:100],
                kind=kind,
                created_at=self.clock.now(),
                created_by=actor,
            )
            session.add(principal)
            self.audit.append(
                session,
                actor=actor,
                action=Action.USER_CREATE,
                resource=_resource(principal_id),
                reason=reason,
                detail={"department": principal.department, "kind": kind},
            )
            return principal

        return self._administer(actor, "user.create", _resource(principal_id), reason, change)

    def grant_role(self, actor: str, principal_id: str, role: str, *, reason: str = "") -> RoleGrant:
        """Grants a role, refusing any mix of administration, audit and use (P10), whoever asks.

        Granting a role already held changes nothing and is audited as such.
        """

        def change(session: Session) -> RoleGrant:
            _check_role(role)
            if role == MAYORS_DESIGNEE:
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    SEPARATION_OF_DUTIES,
                    "the Mayor's designee is appointed by a designee (AppointDesignee), never through "
                    "an administrator's grant: otherwise one person could create, approve and use an "
                    "account (P10, P11)",
                    rule="P11",
                )
            principal = self._locked_principal(session, principal_id)
            held = self._roles(session, principal.id)
            if actor == principal.id:
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    SEPARATION_OF_DUTIES,
                    "nobody grants roles to themselves (P10)",
                    rule="P10",
                )
            if any(pair <= held | {role} for pair in EXCLUSIVE_PAIRS):
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    SEPARATION_OF_DUTIES,
                    f"{principal.id!r} holds {', '.join(sorted(held))}; adding {role!r} would let one "
                    "person declare an emergency and count people under it: the declarer never uses "
                    "it (P6, P10)",
                    rule="P10",
                )
            if separation_conflict(held | {role}):
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    SEPARATION_OF_DUTIES,
                    f"{principal.id!r} holds {', '.join(sorted(held))}; adding {role!r} would mix "
                    "administration, audit and use of the data, which P10 forbids: an administrator "
                    "is never an end user, an end user never administers or audits, auditors never "
                    "use biometric data",
                    rule="P10",
                )
            existing = session.scalars(
                select(RoleGrant).where(RoleGrant.principal_id == principal.id, RoleGrant.role == role)
            ).first()
            grant = existing or RoleGrant(
                principal_id=principal.id, role=role, granted_by=actor, granted_at=self.clock.now()
            )
            if existing is None:
                session.add(grant)
            self.audit.append(
                session,
                actor=actor,
                action=Action.USER_GRANT_ROLE,
                resource=_resource(principal.id),
                reason=reason,
                count=0 if existing else 1,
                detail={"role": role, "already_held": existing is not None},
            )
            return grant

        return self._administer(actor, "user.grant_role", _resource(principal_id), reason, change)

    def revoke_role(self, actor: str, principal_id: str, role: str, *, reason: str = "") -> bool:
        """Revokes a role (True if it was held). Case assignments go with the last case-scoped role,
        so that a later grant does not silently bring old cases back."""

        def change(session: Session) -> bool:
            _check_role(role)
            principal = self._locked_principal(session, principal_id)
            removed = _deleted(
                session,
                delete(RoleGrant).where(RoleGrant.principal_id == principal.id, RoleGrant.role == role),
            )
            dropped = 0
            if not self._roles(session, principal.id) & CASE_SCOPED_ROLES:
                dropped = _deleted(
                    session, delete(CaseAssignment).where(CaseAssignment.principal_id == principal.id)
                )
            self.audit.append(
                session,
                actor=actor,
                action=Action.USER_REVOKE_ROLE,
                resource=_resource(principal.id),
                reason=reason,
                count=removed,
                detail={"role": role, "assignments_dropped": dropped},
            )
            return bool(removed)

        return self._administer(actor, "user.revoke_role", _resource(principal_id), reason, change)

    def revalidate(self, actor: str, principal_id: str, *, reason: str = "") -> Principal:
        """P11: the head of the principal's department approves it for another year.

        A principal of another department is answered like an unknown one, so a department head
        cannot probe other departments' accounts. Nobody approves themselves.
        """

        def change(session: Session) -> Principal:
            head = session.get(Principal, actor)
            principal = self._locked_principal(session, principal_id)
            if head is None or head.department != principal.department:
                raise PolicyError(
                    Kind.NOT_FOUND,
                    PRINCIPAL_NOT_FOUND,
                    f"principal {principal_id[:128]!r} does not exist",
                )
            if principal.id == actor:
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    SEPARATION_OF_DUTIES,
                    "nobody revalidates their own account; another head of the department must (P11)",
                    rule="P11",
                )
            approval = session.get(HeadApproval, actor)
            if approval is None or approval.department != head.department:
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    HEAD_NOT_APPROVED,
                    f"your standing as head of department {head.department!r} has not been approved by "
                    "the Mayor's designee; until it is, your approvals of end users do not count (P11)",
                    rule="P11",
                )
            now = self.clock.now()
            previous = principal.last_revalidated_at
            principal.last_revalidated_at = now
            principal.revalidated_by = actor
            self.audit.append(
                session,
                actor=actor,
                action=Action.USER_REVALIDATE,
                resource=_resource(principal.id),
                reason=reason,
                detail={
                    "rule": "P11",
                    "previous": previous.isoformat() if previous else None,
                    "valid_until": (now + REVALIDATION_PERIOD).isoformat(),
                },
            )
            return principal

        return self._administer(actor, "user.revalidate", _resource(principal_id), reason, change)

    def assign_case(self, actor: str, principal_id: str, case_id: str, *, reason: str) -> CaseAssignment:
        """A case supervisor assigns a case to an investigator, or shares it with a partner (P14).

        It gives access to the case's biometric data, so it states why (P12)."""
        where = f"cases/{case_id}/assignments/{principal_id}"

        def change(session: Session) -> CaseAssignment:
            require_reason(reason)
            if session.get(m.Case, case_id) is None:
                raise PolicyError(Kind.NOT_FOUND, "CASE_NOT_FOUND", f"case {case_id[:63]!r} does not exist")
            principal = self._locked_principal(session, principal_id)
            # A supervisor who also investigates may take on a case: assigning is an operational
            # decision within the use family, not a grant of rights (P10 separates administration,
            # audit and use). It is audited like any other assignment.
            if not self._roles(session, principal.id) & CASE_SCOPED_ROLES:
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    ASSIGNEE_NOT_ELIGIBLE,
                    f"{principal.id!r} holds no case-scoped role ({', '.join(sorted(CASE_SCOPED_ROLES))})",
                    rule="P11",
                )
            existing = session.scalars(
                select(CaseAssignment).where(
                    CaseAssignment.principal_id == principal.id, CaseAssignment.case_id == case_id
                )
            ).first()
            assignment = existing or CaseAssignment(
                principal_id=principal.id, case_id=case_id, assigned_by=actor, assigned_at=self.clock.now()
            )
            if existing is None:
                session.add(assignment)
            self.audit.append(
                session,
                actor=actor,
                action=Action.CASE_ASSIGN,
                resource=where,
                reason=reason,
                count=0 if existing else 1,
                detail={"already_assigned": existing is not None},
            )
            return assignment

        return self._administer(actor, "case.assign", where, reason, change, case_id=case_id)

    def unassign_case(self, actor: str, principal_id: str, case_id: str, *, reason: str) -> bool:
        """Ends an assignment (True if there was one); the principal loses the case at once."""
        where = f"cases/{case_id}/assignments/{principal_id}"

        def change(session: Session) -> bool:
            require_reason(reason)
            removed = _deleted(
                session,
                delete(CaseAssignment).where(
                    CaseAssignment.principal_id == principal_id, CaseAssignment.case_id == case_id
                ),
            )
            self.audit.append(
                session,
                actor=actor,
                action=Action.CASE_UNASSIGN,
                resource=where,
                reason=reason,
                count=removed,
            )
            return bool(removed)

        return self._administer(actor, "case.unassign", where, reason, change, case_id=case_id)

    # --- department heads and designees (P11, Section 3.4) -----------------------------------

    def head_approval(self, principal_id: str) -> HeadApproval | None:
        with self.db.reading() as session:
            return session.get(HeadApproval, principal_id)

    def approve_head(self, actor: str, principal_id: str, *, reason: str = "") -> HeadApproval:
        """The designee grants a department its access by approving its head (P11)."""

        def change(session: Session) -> HeadApproval:
            principal = self._locked_principal(session, principal_id)
            if principal.id == actor:
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    SEPARATION_OF_DUTIES,
                    "nobody approves their own standing (P11)",
                    rule="P11",
                )
            if DEPARTMENT_HEAD not in self._roles(session, principal.id):
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    ASSIGNEE_NOT_ELIGIBLE,
                    f"{principal.id!r} does not hold the department_head role; an administrator grants "
                    "it first (P11)",
                    rule="P11",
                )
            approval = session.get(HeadApproval, principal.id)
            if approval is None:
                approval = HeadApproval(
                    principal_id=principal.id, department="", approved_by="", approved_at=self.clock.now()
                )
                session.add(approval)
            approval.department, approval.approved_by = principal.department, actor
            approval.approved_at = self.clock.now()
            self.audit.append(
                session,
                actor=actor,
                action=Action.HEAD_APPROVE,
                resource=_resource(principal.id),
                reason=reason,
                detail={"department": principal.department, "rule": "P11"},
            )
            return approval

        return self._administer(actor, "head.approve", _resource(principal_id), reason, change)

    def withdraw_head(self, actor: str, principal_id: str, *, reason: str = "") -> bool:
        """Ends a head's standing: their approvals of end users stop counting from now on."""

        def change(session: Session) -> bool:
            principal = self._locked_principal(session, principal_id)
            removed = _deleted(session, delete(HeadApproval).where(HeadApproval.principal_id == principal.id))
            self.audit.append(
                session,
                actor=actor,
                action=Action.HEAD_WITHDRAW,
                resource=_resource(principal.id),
                reason=reason,
                count=removed,
                detail={"rule": "P11"},
            )
            return bool(removed)

        return self._administer(actor, "head.withdraw", _resource(principal_id), reason, change)

    def appoint_designee(self, actor: str, principal_id: str, *, reason: str = "") -> RoleGrant:
        """A designee appoints another one; the administrator never can (P10, P11)."""

        def change(session: Session) -> RoleGrant:
            principal = self._locked_principal(session, principal_id)
            held = self._roles(session, principal.id)
            if principal.id == actor or separation_conflict(held | {MAYORS_DESIGNEE}):
                raise PolicyError(
                    Kind.FAILED_PRECONDITION,
                    SEPARATION_OF_DUTIES,
                    f"{principal.id!r} holds {', '.join(sorted(held)) or 'no role'}: a designee holds no "
                    "other family's role and nobody appoints themselves (P10)",
                    rule="P10",
                )
            existing = session.scalars(
                select(RoleGrant).where(
                    RoleGrant.principal_id == principal.id, RoleGrant.role == MAYORS_DESIGNEE
                )
            ).first()
            grant = existing or RoleGrant(
                principal_id=principal.id, role=MAYORS_DESIGNEE, granted_by=actor, granted_at=self.clock.now()
            )
            if existing is None:
                session.add(grant)
            self.audit.append(
                session,
                actor=actor,
                action=Action.DESIGNEE_APPOINT,
                resource=_resource(principal.id),
                reason=reason,
                count=0 if existing else 1,
                detail={"rule": "P11"},
            )
            return grant

        return self._administer(actor, "designee.appoint", _resource(principal_id), reason, change)

    def bootstrap_designee(self, principal_id: str, *, display_name: str, department: str) -> bool:
        """Creates the first Mayor's designee when there is none (at installation, like the first
        administrator; audited as the bootstrap). Later designees are appointed by designees."""
        _check_principal_id(principal_id)
        with self.db.transaction() as session:
            if (
                session.scalars(select(RoleGrant.pk).where(RoleGrant.role == MAYORS_DESIGNEE)).first()
                is not None
            ):
                return False
            if session.get(Principal, principal_id) is not None:
                return False
            now = self.clock.now()
            session.add(
                Principal(
                    id=principal_id,
                    display_name=display_name[:200],
                    department=department[:100],
                    kind=KIND_HUMAN,
                    created_at=now,
                    created_by=BOOTSTRAP_ACTOR,
                )
            )
            session.flush()
            session.add(
                RoleGrant(
                    principal_id=principal_id,
                    role=MAYORS_DESIGNEE,
                    granted_by=BOOTSTRAP_ACTOR,
                    granted_at=now,
                )
            )
            self.audit.append(
                session,
                actor=BOOTSTRAP_ACTOR,
                action=Action.USER_CREATE,
                resource=_resource(principal_id),
                reason="first Mayor's designee, created at installation",
                detail={"roles": [MAYORS_DESIGNEE], "department": department[:100]},
            )
        return True

    # --- lockout (P11) ------------------------------------------------------------------------

    def record_auth_failure(
        self,
        presented: str,
        *,
        owner: str | None = None,
        why: str = "",
        peer: str = "",
        action: str = "",
        count: int = 1,
    ) -> bool:
        """Records a failed authentication; True when it locked the account (five in 15 minutes).

        Only a credential actually presented counts, and only against its own account (P11):
        ``owner`` is the principal whose credential it was (a revoked token of theirs, or their
        valid token sent with a claim to be somebody else), or None when the call carried no
        credential or one that belongs to nobody; then nothing is locked, whatever name the
        caller claimed. Audited as ``auth.failure`` (the caller must not audit it again);
        ``count`` > 1 is a summary of failures from one peer that were not recorded one by one.
        Failures from before a release or the end of a lockout do not count towards the next.
        """
        identity = presented[:200] or "anonymous"
        locked = False
        with self.db.transaction() as session:
            now = self.clock.now()
            principal = (
                session.get(Principal, owner, with_for_update=True)
                if owner is not None and _valid_principal_id(owner)
                else None
            )
            session.add(
                AuthFailure(
                    principal_id=principal.id if principal else None,
                    presented_identity=identity,
                    at=now,
                    peer=peer[:200],
                )
            )
            session.flush()
            self.audit.append(
                session,
                actor=identity,
                action=Action.AUTH_FAILURE,
                resource=_resource(principal.id) if principal else "access",
                outcome=REFUSED,
                count=count,
                code="UNAUTHENTICATED_CALLER",
                detail={"peer": peer[:200], "why": why[:32], "method": action[:64], "rule": "P11"},
            )
            if principal is not None and self.locked_until(principal) is None:
                since = now - LOCKOUT_WINDOW
                for restart in (
                    principal.unlocked_at,
                    principal.locked_at and principal.locked_at + LOCKOUT_DURATION,
                ):
                    if restart is not None and restart > since:
                        since = restart
                recent = session.scalar(
                    select(func.count())
                    .select_from(AuthFailure)
                    .where(AuthFailure.principal_id == principal.id, AuthFailure.at >= since)
                )
                if (recent or 0) >= LOCKOUT_THRESHOLD:
                    principal.locked_at = now
                    principal.lock_reason = (
                        f"{recent} failed authentications within {LOCKOUT_WINDOW.seconds // 60} minutes"
                    )
                    self.audit.append(
                        session,
                        actor=LOCKOUT_ACTOR,
                        action=Action.USER_LOCK,
                        resource=_resource(principal.id),
                        reason=principal.lock_reason,
                        count=int(recent or 0),
                        detail={
                            "rule": "P11",
                            "peer": peer[:200],
                            "until": (now + LOCKOUT_DURATION).isoformat(),
                        },
                    )
                    locked = True
            session.execute(delete(AuthFailure).where(AuthFailure.at < now - AUTH_FAILURE_RETENTION))
        self._notify(
            Notice(
                "lockout" if locked else "refusal",
                principal.id if principal else identity,
                "user.lock" if locked else "auth.failure",
                ACCOUNT_LOCKED if locked else "UNAUTHENTICATED_CALLER",
                "account locked after failed log-ins"
                if locked
                else f"failed authentication ({why or 'no credential'})",
                now,
            )
        )
        return locked

    def break_glass_unlock(self, principal_id: str, *, operator: str, reason: str) -> Principal:
        """The host operator's unlock, without the API and without an administrator (P11).

        For the day the only administrator is locked out: ``matcher access break-glass-unlock``
        runs it on the server's host, with the database's credentials, and it is audited like
        any release, naming the operating-system user who ran it.
        """
        if not reason.strip():
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "REASON_REQUIRED", "say why the account is released (P12)"
            )
        with self.db.transaction() as session:
            principal = self._locked_principal(session, principal_id)
            was_locked = principal.locked_at is not None
            principal.locked_at, principal.lock_reason = None, None
            principal.unlocked_at = self.clock.now()
            self.audit.append(
                session,
                actor=f"{BREAK_GLASS_ACTOR}:{operator[:64]}",
                action=Action.USER_UNLOCK,
                resource=_resource(principal.id),
                reason=reason.strip()[:1000],
                count=1 if was_locked else 0,
                detail={"rule": "P11", "was_locked": was_locked, "break_glass": True},
            )
        return principal

    def unlock(self, actor: str, principal_id: str, *, reason: str = "") -> Principal:
        """An administrator releases a locked account; unlocking an unlocked one changes nothing."""

        def change(session: Session) -> Principal:
            principal = self._locked_principal(session, principal_id)
            was_locked = principal.locked_at is not None
            previous_reason = principal.lock_reason
            if was_locked:
                principal.locked_at = None
                principal.lock_reason = None
                principal.unlocked_at = self.clock.now()
            self.audit.append(
                session,
                actor=actor,
                action=Action.USER_UNLOCK,
                resource=_resource(principal.id),
                reason=reason,
                count=1 if was_locked else 0,
                detail={"rule": "P11", "was_locked": was_locked, "lock_reason": previous_reason},
            )
            return principal

        return self._administer(actor, "user.unlock", _resource(principal_id), reason, change)


__all__ = [
    "END_USER_ROLES",
    "LISTING_ACTIONS",
    "PERMISSIONS",
    "ROLES",
    "AccessControl",
    "AccessDenied",
    "AuditedRefusal",
    "Decision",
    "Notice",
    "Scope",
]
