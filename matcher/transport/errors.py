"""Refusals as gRPC statuses with google.rpc error details (AIP-193).

Each refusal carries ``google.rpc.ErrorInfo`` with the machine-readable reason (a name of
``matcher.v1.ErrorReason``), domain ``matcher.v1`` and, where a policy rule decided it, the
rule's id in the metadata; the message says what to do about it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from lifecycle.errors import Kind, PolicyError
from matcher.status_details import DOMAIN
from matcher.v1 import errors_pb2

# A message may quote what the caller sent (a name, a plate); it never grows with the input.
MAX_MESSAGE = 1000

_CODES = {
    Kind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Kind.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    Kind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    Kind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
}


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    reason: str
    message: str
    rule: str | None = None
    details: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_policy(cls, error: PolicyError) -> Refusal:
        return cls(_CODES[error.kind], error.reason, error.message, error.rule, tuple(error.details.items()))

    def to_status(self) -> grpc.Status:
        errors_pb2.ErrorReason.Value(self.reason)  # Every reason must be in the contract.
        message = self.message if len(self.message) <= MAX_MESSAGE else self.message[: MAX_MESSAGE - 1] + "…"
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN)
        if self.rule:
            info.metadata["rule"] = self.rule
        info.metadata.update(dict(self.details))
        detail = any_pb2.Any()
        detail.Pack(info)
        status = status_pb2.Status(code=getattr(code_pb2, self.code.name), message=message, details=[detail])
        answer: grpc.Status = rpc_status.to_status(status)  # grpc_status ships no stubs
        return answer


# Boxes a refusal lists (the most confident first). The details travel in the trailing metadata,
# which gRPC caps at 16 KiB: a textured photo with hundreds of candidate boxes made the refusal
# itself fail as RESOURCE_EXHAUSTED ("received metadata size exceeds hard limit").
MAX_REPORTED_BOXES = 32


def image_refusal(reason: str, message: str, details: dict[str, object], key: str) -> PolicyError:
    """A photo the face pipeline or plate reader refused, with what it saw under ``key``
    (boxes, scores, sizes; never pixels), so the caller knows what to fix. Lists of boxes are
    cut to ``MAX_REPORTED_BOXES``, with their full length under ``<name>_total``."""
    bounded = dict(details)
    for name, value in details.items():
        if isinstance(value, list) and len(value) > MAX_REPORTED_BOXES:
            bounded[name] = value[:MAX_REPORTED_BOXES]
            bounded[f"{name}_total"] = len(value)
    extra = {key: json.dumps(bounded, sort_keys=True, default=str)} if details else {}
    return PolicyError(Kind.INVALID_ARGUMENT, reason, message, details=extra)
