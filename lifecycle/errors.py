"""Refusals decided by the policy, each with a machine-readable reason.

The reason strings equal the names of ``matcher.v1.ErrorReason`` so that the transport maps a
refusal to a gRPC status without a second table of meanings.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class Kind(Enum):
    """What sort of refusal it is; the transport maps each to one gRPC status code."""

    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"
    INVALID_ARGUMENT = "invalid_argument"


class PolicyError(Exception):
    """A request the policy or the data refuses. Nothing was changed when it is raised."""

    def __init__(
        self,
        kind: Kind,
        reason: str,
        message: str,
        *,
        rule: str | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason
        self.message = message
        self.rule = rule
        # Non-biometric facts that help the caller fix the request (detected boxes and scores).
        self.details: dict[str, str] = dict(details or {})


class AuditedRefusal(PolicyError):
    """A ``PolicyError`` whose refusal was already written to the audit log where it arose.

    The transport must not record it a second time: each call leaves exactly one record (P16).
    """

    audited = True

    @classmethod
    def of(cls, error: PolicyError) -> AuditedRefusal:
        return cls(error.kind, error.reason, error.message, rule=error.rule, details=error.details)
