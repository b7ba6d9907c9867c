"""Reading a refusal's details on the client side (AIP-193): the service's ``ErrorInfo``.

Kept apart from the service's transport so that the client library imports nothing of the
server: a refusal arrives as ``google.rpc.Status`` in the trailing metadata, with one
``ErrorInfo`` whose reason is a name of ``matcher.v1.ErrorReason`` and whose metadata names the
policy rule and, for photos, what the detector saw.
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

DOMAIN = "matcher.v1"


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of a failed call, for clients (None when the server sent none)."""
    status = rpc_status.from_call(error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None
