"""What every RPC goes through: authentication, readiness, deadline, size, audit, error mapping.

One decorator, so that no method can forget a step: a call without a valid token is refused
(UNAUTHENTICATED) and audited (P16); a call without a deadline or over its size limit is refused
before any work; a policy refusal rolls back its change, is audited with its reason, and becomes
a status with error details; an unexpected failure is logged and audited without its payload.
Each call leaves exactly one audit record.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf.message import Message

from lifecycle.audit import FAILED, OK, REFUSED
from lifecycle.errors import PolicyError
from matcher.transport.errors import Refusal

log = logging.getLogger(__name__)
NO_DEADLINE_SECONDS = 1e7

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


class HasApp(Protocol):
    @property
    def app(self) -> Any: ...


def _resource(describe: Callable[[Any], str], request: Message) -> str:
    try:
        return describe(request)[:300]
    except Exception:  # A malformed request still gets an audit record.
        return "?"


def rpc(
    action: str,
    resource: Callable[[Any], str],
    *,
    audits_itself: bool = False,
    count: Callable[[Any], int] | None = None,
) -> Callable[[Callable[[Any, Any, str], Any]], Callable[[Any, Any, grpc.ServicerContext], Any]]:
    """Wraps a servicer method ``(self, request, principal) -> response``.

    ``audits_itself``: the domain appends the audit record inside its own transaction (changes,
    enrolments, searches); otherwise the call is recorded here as an access after it succeeds.
    """

    def decorate(
        method: Callable[[Any, Any, str], Any],
    ) -> Callable[[Any, Any, grpc.ServicerContext], Any]:
        @functools.wraps(method)
        def handle(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            app = self.app
            where = _resource(resource, request)
            reason = str(getattr(request, "reason", ""))[:1000]
            principal = app.auth.principal(context.invocation_metadata())
            refusal = _gate(app, request, context, principal)
            if refusal is not None:
                app.lifecycle.audit.record(
                    actor=principal or "anonymous",
                    action=action,
                    resource=where,
                    reason=reason,
                    outcome=REFUSED,
                    code=refusal.reason,
                    detail={"message": refusal.message, "peer": context.peer()},
                )
                context.abort_with_status(refusal.to_status())
            assert principal is not None
            try:
                response = method(self, request, principal)
            except PolicyError as error:
                app.lifecycle.refuse(principal, action, where, error, reason)
                refusal = Refusal.from_policy(error)
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


def _carries_image(request: Message) -> bool:
    """Whether a face input of the request is a photo (which may be large) and not an embedding."""
    return any(
        field in request.DESCRIPTOR.fields_by_name
        and request.HasField(field)
        and getattr(request, field).WhichOneof("input") == "image"
        for field in ("face", "probe")
    )


def _gate(app: Any, request: Message, context: grpc.ServicerContext, principal: str | None) -> Refusal | None:
    if principal is None:
        return Refusal(
            grpc.StatusCode.UNAUTHENTICATED,
            "UNAUTHENTICATED_CALLER",
            "no valid credential: send 'authorization: Bearer <token>' (the CLI reads "
            "MATCHER_TOKEN or the token file)",
            "P16",
        )
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
