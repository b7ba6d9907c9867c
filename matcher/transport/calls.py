"""What every RPC goes through once its caller is authenticated: authorisation, readiness,
deadline, size, validation, the method, and its audit record.

Servicer methods declare what they are with :func:`rpc` (and :func:`server_stream` /
:func:`client_stream`): the audit action, the resource and the cases a request names. The
declaration is only metadata; :mod:`matcher.transport.dispatch` builds the gRPC handlers from the
contract's descriptors and refuses to start when a method of the contract has no declaration, so
no method can skip a step. The steps, in this order:

1. Authentication (in :mod:`matcher.transport.dispatch`, from the headers, before the body is
   read).
2. Authorisation, before any validation of the request (decision 8): the permission table of
   :mod:`lifecycle.access` decides, with the cases the request names; a refusal is
   PERMISSION_DENIED and does not reveal whether a case exists (the access module audits it).
3. Readiness, deadline and size: refused before any work.
4. The request's own shape (:mod:`matcher.transport.validation`): bytes that are not the
   method's message, control characters in text, enum numbers the contract does not name,
   timestamps outside the calendar. INVALID_ARGUMENT, audited, nothing changed.
5. The method. A policy refusal rolls back its change, is audited with its reason code and rule
   (never its message, which may echo the caller's input: P7, P8) and becomes a status with
   error details; an unexpected failure is logged without its payload, audited, and answered
   INTERNAL.

Each call leaves exactly one audit record.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from lifecycle.access import AccessDenied, AuditedRefusal, Decision
from lifecycle.audit import CALL_ORIGIN, FAILED, OK, REFUSED
from lifecycle.db import DatabaseUnavailable
from lifecycle.errors import Kind, PolicyError
from lifecycle.text import bounded
from matcher.transport import validation
from matcher.transport.errors import Refusal

if TYPE_CHECKING:
    from matcher.app import App

log = logging.getLogger(__name__)
NO_DEADLINE_SECONDS = 1e7
MAX_RESOURCE_CHARS = 300
MAX_REASON_CHARS = 1000
_DECISION: ContextVar[Decision] = ContextVar("matcher_access_decision")

F = TypeVar("F", bound=Callable[..., Any])


class Shape(Enum):
    """How a method's messages flow; the dispatcher serves each shape its own way."""

    UNARY = "unary"
    SERVER_STREAM = "server_stream"
    CLIENT_STREAM = "client_stream"


@dataclass(frozen=True)
class MethodSpec:
    """What a servicer method is, for the admission pipeline and the audit log.

    ``cases``: the case ids the request names, for the authorisation of case-scoped roles.
    ``audits_itself``: the domain appends the audit record inside its own transaction (changes,
    enrolments, searches); otherwise the call is recorded here as an access after it succeeds.
    ``count``: the figure the access record carries (the number of items listed).
    """

    action: str
    resource: Callable[[Any], str]
    shape: Shape = Shape.UNARY
    cases: Callable[[Any], Sequence[str]] | None = None
    audits_itself: bool = False
    count: Callable[[Any], int] | None = None


SPEC_ATTRIBUTE = "__matcher_rpc__"


def _declare(spec: MethodSpec) -> Callable[[F], F]:
    def decorate(method: F) -> F:
        setattr(method, SPEC_ATTRIBUTE, spec)
        return method

    return decorate


def rpc(
    action: str,
    resource: Callable[[Any], str],
    *,
    cases: Callable[[Any], Sequence[str]] | None = None,
    audits_itself: bool = False,
    count: Callable[[Any], int] | None = None,
) -> Callable[[F], F]:
    """Declares a unary method ``(self, request, principal) -> response``."""
    return _declare(MethodSpec(action, resource, Shape.UNARY, cases, audits_itself, count))


def server_stream(
    action: str,
    resource: Callable[[Any], str],
    *,
    cases: Callable[[Any], Sequence[str]] | None = None,
) -> Callable[[F], F]:
    """Declares a server-streaming method ``(self, request, principal) -> Feed``.

    The method runs once, admitted like a unary one (with the cases its request names), and
    returns the feed (a backlog, then live items) that the dispatcher streams; it audits the
    subscription itself.
    """
    return _declare(MethodSpec(action, resource, Shape.SERVER_STREAM, cases, audits_itself=True))


def client_stream(action: str, resource: Callable[[Any], str]) -> Callable[[F], F]:
    """Declares a client-streaming method ``(self, principal) -> session``.

    The call is admitted once, at its start (an empty request stands in for the checks); the
    session then takes the streamed items in batches, validating and auditing each item itself.
    """
    return _declare(MethodSpec(action, resource, Shape.CLIENT_STREAM, audits_itself=True))


def spec_of(method: Any) -> MethodSpec | None:
    spec = getattr(method, SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, MethodSpec) else None


def decision() -> Decision:
    """The access decision of the call being served (its ``case_filter`` narrows listings)."""
    return _DECISION.get()


@dataclass(frozen=True)
class CallInfo:
    """What the dispatcher learnt of a call before its body: who, from where, how long it has."""

    principal: str
    peer: str
    time_remaining: float | None
    request_bytes: int


@dataclass(frozen=True)
class Admitted:
    """A call that passed steps 2-4: its request, decision, audit resource and reason."""

    request: Message
    decision: Decision
    where: str
    reason: str


def _safely(describe: Callable[[Any], Any], request: Message, default: Any) -> Any:
    try:
        return describe(request)
    except Exception:  # A malformed request still gets authorised (and refused) and audited.
        return default


def parse(request_type: type[Message], raw: bytes) -> Message | None:
    """The request decoded, or None when the bytes are not a message of that type."""
    try:
        return request_type.FromString(raw)
    except (DecodeError, RuntimeError, ValueError):
        return None


def admit(
    app: App, spec: MethodSpec, call: CallInfo, request: Message | None, request_type: type[Message]
) -> Admitted | Refusal:
    """Steps 2-4 for one call; a refusal is already audited when it is returned."""
    subject = request if request is not None else request_type()
    where = bounded(_safely(spec.resource, subject, "?"), MAX_RESOURCE_CHARS) or "?"
    reason = bounded(getattr(subject, "reason", ""), MAX_REASON_CHARS)
    named = _safely(spec.cases, subject, ["?"]) if spec.cases else []
    allowed = app.access.authorize(
        call.principal,
        spec.action,
        case_ids=[str(c)[:128] for c in named],
        resource=where,
        reason=reason,
        peer=call.peer,
    )
    if not allowed:  # Audited by the access check itself.
        return denied(allowed)
    refusal = _gate(app, spec, call, request)
    if refusal is None and request is None:
        refusal = Refusal(
            grpc.StatusCode.INVALID_ARGUMENT,
            "REQUEST_MALFORMED",
            f"the request is not a valid {request_type.DESCRIPTOR.full_name} message",
        )
    if refusal is None and request is not None:
        problem = validation.problem(request)
        if problem is not None:
            refusal = Refusal(grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID", problem)
    if refusal is not None:
        app.audit.record(
            actor=call.principal,
            action=spec.action,
            resource=where,
            reason=reason,
            outcome=REFUSED,
            code=refusal.reason,
        )
        return refusal
    assert request is not None
    return Admitted(request, allowed, where, reason)


def serve_unary(
    app: App,
    spec: MethodSpec,
    method: Callable[[Message, str], Message],
    call: CallInfo,
    raw: bytes,
    request_type: type[Message],
) -> Message | Refusal:
    """Runs one unary call from its raw bytes to its response (in a worker thread)."""
    origin = CALL_ORIGIN.set(call.peer)
    try:
        admitted = admit(app, spec, call, parse(request_type, raw), request_type)
        if isinstance(admitted, Refusal):
            return admitted
        outcome = run_method(app, spec, call, admitted, lambda: method(admitted.request, call.principal))
        if isinstance(outcome, Refusal):
            return outcome
        if not spec.audits_itself:
            app.audit.record(
                actor=call.principal,
                action=spec.action,
                resource=admitted.where,
                reason=admitted.reason,
                outcome=OK,
                count=spec.count(outcome) if spec.count else 1,
            )
        return outcome
    finally:
        CALL_ORIGIN.reset(origin)


T = TypeVar("T")


def run_method(
    app: App, spec: MethodSpec, call: CallInfo, admitted: Admitted, body: Callable[[], T]
) -> T | Refusal:
    """Runs the method's body with the call's decision; maps its failures (step 5)."""
    token = _DECISION.set(admitted.decision)
    try:
        return body()
    except (AccessDenied, PolicyError) as error:
        return refusal_of(app, call.principal, spec.action, admitted.where, admitted.reason, error)
    except Exception as error:
        return failure(app, call.principal, spec.action, admitted.where, admitted.reason, error)
    finally:
        _DECISION.reset(token)


def refusal_of(app: App, principal: str, action: str, where: str, reason: str, error: Exception) -> Refusal:
    """Maps a domain refusal to a status, auditing it unless it was audited where it arose."""
    if isinstance(error, AccessDenied):
        return denied(error.decision)
    if isinstance(error, PolicyError):
        if not isinstance(error, AuditedRefusal):
            app.lifecycle.refuse(principal, action, where, error, reason)
        return Refusal.from_policy(error)
    raise error


def _database_away(error: BaseException) -> bool:
    """The database went away (a replica lost its connection), not a defect of ours."""
    if isinstance(error, DatabaseUnavailable):
        return True
    if not isinstance(error, DBAPIError):
        return False
    # PostgreSQL's driver raises OperationalError for connection failures only (a missing table
    # is a ProgrammingError); SQLite's covers defects too ("no such table"), so only a dropped
    # connection counts there.
    driver = type(error.orig).__module__.split(".")[0]
    connection_level = isinstance(error, (OperationalError, InterfaceError)) and driver == "psycopg"
    return bool(error.connection_invalidated or connection_level)


def failure(app: App, principal: str, action: str, where: str, reason: str, error: BaseException) -> Refusal:
    """An unexpected failure: logged without its payload, audited, answered INTERNAL; or, when
    the database is away, UNAVAILABLE (nothing was done: a client may retry, on another replica)."""
    if _database_away(error):
        log.warning("%s: the database cannot be reached (%s)", action, type(error).__name__)
        return Refusal(
            grpc.StatusCode.UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            "the database cannot be reached: nothing was done; retry shortly",
        )
    log_failure(action, error)
    try:
        app.audit.record(
            actor=principal, action=action, resource=where, reason=reason, outcome=FAILED, code="INTERNAL"
        )
    except Exception as audit_error:  # The database itself may be what failed.
        log_failure(f"{action} (its audit record)", audit_error)
    return Refusal(
        grpc.StatusCode.INTERNAL, "INTERNAL_ERROR", "internal error; the operator's log has details"
    )


def log_failure(action: str, error: BaseException) -> None:
    """Logs where a failure happened (exception type, files, lines, functions), never its message
    or arguments: a database error's message can quote the statement's parameters (labels,
    reasons, plates), which must never reach a log (P8)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames[-6:]))
    log.error("%s failed: %s at %s", action, type(error).__name__, where)


def unauthenticated() -> Refusal:
    return Refusal(
        grpc.StatusCode.UNAUTHENTICATED,
        "UNAUTHENTICATED_CALLER",
        "no valid credential: present a client certificate, or send 'authorization: Bearer <token>' "
        "(the CLI reads --as NAME, MATCHER_TOKEN or the token file)",
        "P16",
    )


def denied(refused: Decision) -> Refusal:
    return Refusal(grpc.StatusCode.PERMISSION_DENIED, refused.reason, refused.message, refused.rule)


def _gate(app: App, spec: MethodSpec, call: CallInfo, request: Message | None) -> Refusal | None:
    if not app.ready.is_set():
        return Refusal(
            grpc.StatusCode.UNAVAILABLE,
            "NOT_READY",
            "the service is finishing pending purges before it serves; retry shortly",
        )
    if spec.shape is Shape.UNARY and (
        call.time_remaining is None or call.time_remaining > NO_DEADLINE_SECONDS
    ):
        return Refusal(
            grpc.StatusCode.INVALID_ARGUMENT,
            "DEADLINE_REQUIRED",
            "set a deadline on the call (for example 10 seconds)",
        )
    limit = (
        app.settings.max_message_bytes
        if request is not None and validation.carries_image(request)
        else app.settings.max_embedding_call_bytes
    )
    if call.request_bytes > limit:
        return Refusal(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "MESSAGE_TOO_LARGE",
            f"the request is {call.request_bytes} bytes; this method accepts at most {limit}",
        )
    return None


def invalid(message: str) -> PolicyError:
    """A request field the domain refuses as malformed."""
    return PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", message)
