"""What every RPC goes through: authentication, authorisation, readiness, deadline, size, audit.

One decorator, so that no method can forget a step, in this order:

1. Authentication: a call without a valid certificate or token is refused (UNAUTHENTICATED)
   and recorded as an authentication failure (P16; five in 15 minutes lock the account, P11).
2. Authorisation, before any validation of the request (decision 8): the permission table of
   :mod:`lifecycle.access` decides, with the cases the request names; a refusal is
   PERMISSION_DENIED and does not reveal whether a case exists (the access module audits it).
3. Readiness, deadline and size: refused before any work.
4. The method. A policy refusal rolls back its change, is audited with its reason and becomes a
   status with error details; an unexpected failure is logged and audited without its payload.

Each call leaves exactly one audit record.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import grpc
from google.protobuf.message import Message

from lifecycle.access import AccessDenied, AuditedRefusal, Decision
from lifecycle.audit import CALL_ORIGIN, FAILED, OK, REFUSED
from lifecycle.errors import PolicyError
from matcher.transport.errors import Refusal

log = logging.getLogger(__name__)
NO_DEADLINE_SECONDS = 1e7
_DECISION: ContextVar[Decision] = ContextVar("matcher_access_decision")

Method = Callable[[Any, Any, str], Any]
Handler = Callable[[Any, Any, grpc.ServicerContext], Any]


def decision() -> Decision:
    """The access decision of the call being served (its ``case_filter`` narrows listings)."""
    return _DECISION.get()


def _safely(describe: Callable[[Any], Any], request: Message, default: Any) -> Any:
    try:
        return describe(request)
    except Exception:  # A malformed request still gets authorised (and refused) and audited.
        return default


def rpc(
    action: str,
    resource: Callable[[Any], str],
    *,
    cases: Callable[[Any], Sequence[str]] | None = None,
    audits_itself: bool = False,
    count: Callable[[Any], int] | None = None,
) -> Callable[[Method], Handler]:
    """Wraps a servicer method ``(self, request, principal) -> response``.

    ``cases``: the case ids the request names, for the authorisation of case-scoped roles.
    ``audits_itself``: the domain appends the audit record inside its own transaction (changes,
    enrolments, searches); otherwise the call is recorded here as an access after it succeeds.
    """

    def decorate(method: Method) -> Handler:
        @functools.wraps(method)
        def handle(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            origin = CALL_ORIGIN.set(context.peer())
            try:
                return _serve(self.app, self, request, context)
            finally:
                CALL_ORIGIN.reset(origin)

        def _serve(app: Any, self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            where = str(_safely(resource, request, "?"))[:300]
            reason = str(getattr(request, "reason", ""))[:1000]
            principal, allowed = admit(app, action, request, context, where, reason, cases)
            refusal: Refusal | None = None
            token = _DECISION.set(allowed)
            try:
                response = method(self, request, principal)
            except (AccessDenied, PolicyError) as error:
                refusal = refusal_of(app, principal, action, where, reason, error)
            except Exception:
                log.exception("%s failed", action)
                app.lifecycle.audit.record(
                    actor=principal,
                    action=action,
                    resource=where,
                    reason=reason,
                    outcome=FAILED,
                    code="INTERNAL",
                )
                context.abort(grpc.StatusCode.INTERNAL, "internal error; the operator's log has details")
            finally:
                _DECISION.reset(token)
            if refusal is not None:
                context.abort_with_status(refusal.to_status())
            if not audits_itself:
                app.lifecycle.audit.record(
                    actor=principal,
                    action=action,
                    resource=where,
                    reason=reason,
                    outcome=OK,
                    count=count(response) if count else 1,
                )
            return response

        return handle

    return decorate


def admit(
    app: Any,
    action: str,
    request: Message,
    context: grpc.ServicerContext,
    where: str,
    reason: str,
    cases: Callable[[Any], Sequence[str]] | None,
) -> tuple[str, Decision]:
    """Authentication, authorisation, readiness, deadline and size: aborts the call on refusal."""
    principal = app.auth.principal(context)
    if principal is None:
        app.access.record_auth_failure(app.auth.presented(context), peer=context.peer())
        context.abort_with_status(_unauthenticated().to_status())
    assert principal is not None
    named = _safely(cases, request, ["?"]) if cases else []
    allowed = app.access.authorize(
        principal,
        action,
        case_ids=[str(c) for c in named],
        resource=where,
        reason=reason,
        peer=context.peer(),
    )
    if not allowed:  # Audited by the access check itself.
        context.abort_with_status(_denied(allowed).to_status())
    refusal = _gate(app, request, context)
    if refusal is not None:
        app.lifecycle.audit.record(
            actor=principal,
            action=action,
            resource=where,
            reason=reason,
            outcome=REFUSED,
            code=refusal.reason,
            detail={"message": refusal.message},
        )
        context.abort_with_status(refusal.to_status())
    return principal, allowed


def refusal_of(app: Any, principal: str, action: str, where: str, reason: str, error: Exception) -> Refusal:
    """Maps a domain exception to a status, auditing it unless it was audited where it arose."""
    if isinstance(error, AccessDenied):
        return _denied(error.decision)
    if isinstance(error, PolicyError):
        if not isinstance(error, AuditedRefusal):
            app.lifecycle.refuse(principal, action, where, error, reason)
        return Refusal.from_policy(error)
    raise error


def streaming(
    action: str, resource: Callable[[Any], str], *, request_type: type[Message] | None = None
) -> Callable[[Callable[..., Any]], Callable[[Any, Any, grpc.ServicerContext], Any]]:
    """Like :func:`rpc`, for streaming methods ``(self, request, principal, context)``.

    The call is admitted once, at its start: for a client stream (``request_type`` given, an
    empty one stands in for the checks), each streamed item is then validated and audited by the
    method itself; a server stream's method audits its subscription and yields its messages.
    """

    def decorate(method: Callable[..., Any]) -> Callable[[Any, Any, grpc.ServicerContext], Any]:
        @functools.wraps(method)
        def handle(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            origin = CALL_ORIGIN.set(context.peer())
            try:
                first = request_type() if request_type is not None else request
                where = str(_safely(resource, first, "?"))[:300]
                reason = str(getattr(first, "reason", ""))[:1000]
                principal, allowed = admit(self.app, action, first, context, where, reason, None)
                token = _DECISION.set(allowed)
                try:
                    return method(self, request, principal, context)
                except (AccessDenied, PolicyError) as error:
                    context.abort_with_status(
                        refusal_of(self.app, principal, action, where, reason, error).to_status()
                    )
                finally:
                    _DECISION.reset(token)
            finally:
                CALL_ORIGIN.reset(origin)

        return handle

    return decorate


def _unauthenticated() -> Refusal:
    return Refusal(
        grpc.StatusCode.UNAUTHENTICATED,
        "UNAUTHENTICATED_CALLER",
        "no valid credential: present a client certificate, or send 'authorization: Bearer <token>' "
        "(the CLI reads --as NAME, MATCHER_TOKEN or the token file)",
        "P16",
    )


def _denied(refused: Decision) -> Refusal:
    return Refusal(grpc.StatusCode.PERMISSION_DENIED, refused.reason, refused.message, refused.rule)


def _carries_image(request: Message) -> bool:
    """Whether a face input of the request is a photo (which may be large) and not an embedding."""
    return any(
        field in request.DESCRIPTOR.fields_by_name
        and request.HasField(field)
        and getattr(request, field).WhichOneof("input") == "image"
        for field in ("face", "probe")
    ) or bool(getattr(request, "image", b"") or getattr(request, "plate_crop", b""))


def _gate(app: Any, request: Message, context: grpc.ServicerContext) -> Refusal | None:
    if not app.ready.is_set():
        return Refusal(
            grpc.StatusCode.UNAVAILABLE,
            "NOT_READY",
            "the service is finishing pending purges before it serves; retry shortly",
        )
    if context.time_remaining() > NO_DEADLINE_SECONDS:
        return Refusal(
            grpc.StatusCode.INVALID_ARGUMENT,
            "DEADLINE_REQUIRED",
            "set a deadline on the call (for example 10 seconds)",
        )
    limit = (
        app.settings.max_message_bytes if _carries_image(request) else app.settings.max_embedding_call_bytes
    )
    if request.ByteSize() > limit:
        return Refusal(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "MESSAGE_TOO_LARGE",
            f"the request is {request.ByteSize()} bytes; this method accepts at most {limit}",
        )
    return None
