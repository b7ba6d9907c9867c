"""Client-side load balancing over replicas: round robin, and retries of reads on UNAVAILABLE.

A city runs several replicas behind one name (DNS with one address per replica) or gives the
client a list (``--target 10.0.0.5:50051,10.0.0.6:50051``). gRPC's own resolver and
``round_robin`` policy spread calls over every address that answers and skip one that does not;
calls that change nothing but their audit record (the ``Get``, ``List``, ``Search``, ``Check``
and ``Verify`` methods, and the health check) are retried on ``UNAVAILABLE`` on another replica,
with back-off. Calls that change state are never retried by the channel: a create, an enrolment
or a close that may have happened is for the caller to check, not for the channel to repeat.
"""

from __future__ import annotations

import json
from typing import Any

from matcher.v1 import (
    access_pb2,
    audit_pb2,
    cases_pb2,
    faces_pb2,
    governance_pb2,
    plates_pb2,
    registry_pb2,
    sightings_pb2,
)

READ_PREFIXES = ("Get", "List", "Search", "Check", "Verify")
_MODULES = (
    access_pb2,
    audit_pb2,
    cases_pb2,
    faces_pb2,
    governance_pb2,
    plates_pb2,
    registry_pb2,
    sightings_pb2,
)
RETRY_POLICY = {
    "maxAttempts": 3,
    "initialBackoff": "0.05s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def retried_methods() -> list[dict[str, str]]:
    """The unary methods that only read (and audit): safe to send again to another replica."""
    names = [{"service": "grpc.health.v1.Health", "method": "Check"}]
    for module in _MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                unary = not (method.client_streaming or method.server_streaming)
                if unary and method.name.startswith(READ_PREFIXES):
                    names.append({"service": service.full_name, "method": method.name})
    return names


def channel_options() -> list[tuple[str, Any]]:
    config = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [{"name": retried_methods(), "retryPolicy": RETRY_POLICY}],
    }
    return [("grpc.service_config", json.dumps(config)), ("grpc.enable_retries", 1)]


def channel_target(target: str) -> str:
    """``host:port`` as it is (gRPC resolves every address of the name); a comma-separated list
    of IP addresses and ports becomes one target gRPC balances over (``ipv4:`` / ``ipv6:``)."""
    addresses = [part.strip() for part in target.split(",") if part.strip()]
    if len(addresses) <= 1:
        return target
    scheme = "ipv6" if all(a.startswith("[") for a in addresses) else "ipv4"
    for address in addresses:
        host = address.rpartition(":")[0].strip("[]")
        if not host or not (host.replace(".", "").isdigit() or ":" in host):
            raise ValueError(
                f"{address!r}: a list of targets must be IP addresses with ports; "
                "for host names, give one DNS name that resolves to every replica"
            )
    return f"{scheme}:{','.join(addresses)}"
