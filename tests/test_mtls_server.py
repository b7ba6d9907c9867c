"""Mutual TLS end to end: the certificate names the principal; no certificate, no call (P14, P16)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from matcher.cli import main
from matcher.client import MatcherClient, MatcherError
from matcher.tls import DevCerts, make_dev_certs
from tests.conftest import Harness, running_server


@pytest.fixture
def certs(tmp_path: Path) -> DevCerts:
    return make_dev_certs(
        tmp_path / "certs", ["admin", "designee", "head", "investigator", "auditor", "intruder"]
    )


@pytest.fixture
def tls_server(tmp_path: Path, backend: str, certs: DevCerts) -> Iterator[Harness]:
    with running_server(
        tmp_path / "data",
        backend,
        listen="localhost:0",
        tls_cert=certs.server_cert,
        tls_key=certs.server_key,
        tls_client_ca=certs.ca_cert,
    ) as h:
        yield h


def _client(h: Harness, certs: DevCerts, name: str) -> MatcherClient:
    cert, key = certs.clients[name]
    client = MatcherClient.connect(
        f"localhost:{h.port}", tls_ca=certs.ca_cert, tls_cert=cert, tls_key=key, timeout=10
    )
    h._extra.append(client)
    return client


def test_P14_certificate_names_the_principal_and_accounts_are_made_by_the_administrator(
    tls_server: Harness, certs: DevCerts
) -> None:
    h = tls_server
    admin = _client(h, certs, "admin")
    assert admin.whoami().roles == ["administrator"]  # the bootstrap administrator, by its CN
    assert not (h.data_dir / "tokens").exists()  # no local tokens under mutual TLS
    admin.create_principal("investigator", display_name="Det. Example", department="cid", reason="hired")
    admin.grant_role("investigator", "case_supervisor", reason="r")
    admin.grant_role("investigator", "investigator", reason="r")
    admin.create_principal("head", display_name="Head of CID", department="cid", reason="r")
    admin.grant_role("head", "department_head", reason="r")
    investigator = _client(h, certs, "investigator")
    with pytest.raises(MatcherError) as error:
        investigator.create_case("c-1", "Case", reason="r")
    assert error.value.reason == "REVALIDATION_REQUIRED"  # P11: not yet approved by the head
    # ... whose own standing the Mayor's designee (the bootstrap one, by its CN) approves first.
    _client(h, certs, "designee").approve_department_head("head", reason="CID authorised")
    _client(h, certs, "head").revalidate("investigator", reason="approved")
    investigator.create_case("c-1", "Case", reason="r")
    assert [c.name for c in investigator.list_cases()] == ["cases/c-1"]
    with pytest.raises(MatcherError) as error:
        list(_client(h, certs, "intruder").list_cases())  # a valid certificate, but no account
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.PERMISSION_DENIED, "UNKNOWN_PRINCIPAL")


def test_P14_no_certificate_or_a_foreign_one_fails_the_handshake(
    tls_server: Harness, certs: DevCerts, tmp_path: Path
) -> None:
    h = tls_server
    foreign = make_dev_certs(tmp_path / "foreign", ["admin"])
    attempts = [
        grpc.secure_channel(f"localhost:{h.port}", grpc.ssl_channel_credentials(certs.ca_cert.read_bytes())),
        grpc.secure_channel(
            f"localhost:{h.port}",
            grpc.ssl_channel_credentials(
                certs.ca_cert.read_bytes(),
                foreign.clients["admin"][1].read_bytes(),
                foreign.clients["admin"][0].read_bytes(),
            ),
        ),
        grpc.insecure_channel(f"localhost:{h.port}"),
    ]
    for channel in attempts:
        with pytest.raises(MatcherError) as error, MatcherClient(channel, "", timeout=5) as client:
            client.whoami()
        assert error.value.code == grpc.StatusCode.UNAVAILABLE


def test_cli_dev_certs_and_tls_flags(
    tls_server: Harness, certs: DevCerts, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["dev-certs", str(tmp_path / "made"), "--principal", "alice"]) == 0
    assert (tmp_path / "made" / "client-alice.pem").exists() and "client alice" in capsys.readouterr().out
    cert, key = certs.clients["admin"]
    code = main(
        [
            "--target",
            f"localhost:{tls_server.port}",
            "--ca",
            str(certs.ca_cert),
            "--cert",
            str(cert),
            "--key",
            str(key),
            "whoami",
        ]
    )
    assert code == 0 and "administrator" in capsys.readouterr().out
