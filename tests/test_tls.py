"""P14/P18: mutual TLS. Only a client certificate from the service's CA gets through the
handshake, and the server reads the caller's principal from that certificate (decision 8)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from matcher.tls import (
    DevCerts,
    channel_credentials,
    make_dev_certs,
    principal_from_context,
    server_credentials,
)


class RecordingHealth(health.HealthServicer):  # type: ignore[misc]
    """The standard health service, noting who called: the server's view of the principal."""

    def __init__(self) -> None:
        super().__init__()
        self.callers: list[str | None] = []

    def Check(self, request: Any, context: Any) -> Any:
        self.callers.append(principal_from_context(context))
        return super().Check(request, context)


@dataclass
class Served:
    certs: DevCerts
    port: int
    health: RecordingHealth
    other_ca: DevCerts
    channels: list[grpc.Channel] = field(default_factory=list)

    def check(self, credentials: grpc.ChannelCredentials) -> Any:
        channel = grpc.secure_channel(f"127.0.0.1:{self.port}", credentials)
        self.channels.append(channel)
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    certs = make_dev_certs(tmp_path / "pki")
    other_ca = make_dev_certs(tmp_path / "rogue", principals=["investigator"])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = RecordingHealth()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_secure_port(
        "127.0.0.1:0", server_credentials(certs.server_cert, certs.server_key, certs.ca_cert)
    )
    assert port
    server.start()
    state = Served(certs, port, servicer, other_ca)
    try:
        yield state
    finally:
        for channel in state.channels:
            channel.close()
        server.stop(grace=None).wait()


def test_P14_client_with_a_valid_certificate_is_identified_by_its_cn(served: Served) -> None:
    for principal in ("investigator", "auditor"):
        cert, key = served.certs.clients[principal]
        reply = served.check(channel_credentials(served.certs.ca_cert, cert, key))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert served.health.callers == ["investigator", "auditor"]


def test_P14_client_without_a_certificate_fails_the_handshake(served: Served) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        served.check(channel_credentials(served.certs.ca_cert))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert served.health.callers == []


def test_P14_client_with_a_certificate_from_another_ca_fails_the_handshake(served: Served) -> None:
    cert, key = served.other_ca.clients["investigator"]  # same CN, wrong issuer
    with pytest.raises(grpc.RpcError) as caught:
        served.check(channel_credentials(served.certs.ca_cert, cert, key))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert served.health.callers == []


def test_P14_server_certificate_cannot_pose_as_a_client(served: Served) -> None:
    """The server's own certificate (same CA, serverAuth only) is refused as a client one."""
    credentials = channel_credentials(served.certs.ca_cert, served.certs.server_cert, served.certs.server_key)
    with pytest.raises(grpc.RpcError) as caught:
        served.check(credentials)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert served.health.callers == []


def test_P14_insecure_client_cannot_talk_to_a_tls_server(served: Served) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{served.port}")
    served.channels.append(channel)
    with pytest.raises(grpc.RpcError) as caught:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_P18_dev_keys_are_private_and_certificates_readable(tmp_path: Path) -> None:
    certs = make_dev_certs(tmp_path / "pki", principals=["a", "b"])
    keys = [certs.ca_key, certs.server_key, *(key for _cert, key in certs.clients.values())]
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert b"PRIVATE KEY" in key.read_bytes()
    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700
    assert set(certs.clients) == {"a", "b"}
    # Written again over looser files, keys are tightened back to 0600.
    certs.server_key.chmod(0o644)
    again = make_dev_certs(tmp_path / "pki", principals=["a"])
    assert stat.S_IMODE(again.server_key.stat().st_mode) == 0o600
    with pytest.raises(ValueError):
        make_dev_certs(tmp_path / "bad", principals=["system:root"])


class FakeContext:
    def __init__(self, auth: dict[str, list[bytes]]) -> None:
        self._auth = auth

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._auth


def test_P14_principal_is_none_unless_tls_with_exactly_one_wellformed_cn(served: Served) -> None:
    pem = served.certs.clients["auditor"][0].read_bytes()
    server_pem = served.certs.server_cert.read_bytes()
    ssl = [b"ssl"]
    cases: list[tuple[dict[str, list[bytes]], str | None]] = [
        (
            {"transport_security_type": ssl, "x509_common_name": [b"auditor"], "x509_pem_cert": [pem]},
            "auditor",
        ),
        ({"transport_security_type": ssl, "x509_common_name": [b"auditor"]}, None),  # no PEM to check
        ({}, None),  # insecure channel
        ({"transport_security_type": [b"insecure"], "x509_common_name": [b"auditor"]}, None),
        ({"transport_security_type": ssl}, None),  # no certificate
        ({"transport_security_type": ssl, "x509_common_name": [b"a", b"b"]}, None),
        ({"transport_security_type": ssl, "x509_common_name": [b"system:root"]}, None),
        ({"transport_security_type": ssl, "x509_common_name": [b"\xff\xfe"]}, None),
        # The CN gRPC reports must be the certificate's own, and the certificate a client one.
        ({"transport_security_type": ssl, "x509_common_name": [b"admin"], "x509_pem_cert": [pem]}, None),
        (
            {
                "transport_security_type": ssl,
                "x509_common_name": [b"localhost"],
                "x509_pem_cert": [server_pem],
            },
            None,
        ),
        (
            {"transport_security_type": ssl, "x509_common_name": [b"auditor"], "x509_pem_cert": [b"junk"]},
            None,
        ),
    ]
    for auth, expected in cases:
        assert principal_from_context(FakeContext(auth)) == expected, auth
