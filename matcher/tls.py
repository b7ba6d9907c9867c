"""Mutual TLS for the gRPC service (P14, P18; DESIGN decision 8).

In production the caller is identified by its client certificate: the server requires one,
verifies it against the client CA, and the principal is the certificate subject's common name.
Nothing here decides what that principal may do: ``lifecycle.access`` does, from the database.

The helpers fail closed: ``server_credentials`` always requires and verifies client certificates
(there is no "request but don't require" mode), and ``principal_from_context`` answers ``None``,
never a guess, unless the connection is TLS, the peer presented exactly one verified certificate
meant for client authentication, and its common name is a well-formed principal id.

``make_dev_certs`` creates a throw-away CA with a server certificate and client certificates for
local use and tests. Keys are written with mode 0600. Certificate validity is checked by TLS
against the real wall clock, not the policy clock.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# A principal id as lifecycle.access accepts it (no ':' so it never collides with system actors).
_PRINCIPAL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._@-]{0,126}[A-Za-z0-9])?$")
DEV_PRINCIPALS = ("admin", "designee", "head", "supervisor", "investigator", "auditor")
DEV_VALIDITY = timedelta(days=365)

PemSource = bytes | str | os.PathLike[str]


def _pem(source: PemSource) -> bytes:
    """PEM bytes given as bytes, or read from a path."""
    if isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def server_credentials(cert: PemSource, key: PemSource, client_ca: PemSource) -> grpc.ServerCredentials:
    """Server credentials that require a client certificate signed by ``client_ca`` (P14).

    A client without a certificate, or with one from another CA, fails the handshake: its call
    never reaches a servicer, so there is nothing to authorise and nothing to leak.
    """
    return grpc.ssl_server_credentials(
        [(_pem(key), _pem(cert))],
        root_certificates=_pem(client_ca),
        require_client_auth=True,
    )


def channel_credentials(
    ca: PemSource, cert: PemSource | None = None, key: PemSource | None = None
) -> grpc.ChannelCredentials:
    """Client credentials: trust ``ca`` for the server, present ``cert``/``key`` as the client.

    Both or neither of ``cert`` and ``key``; without them the server refuses the handshake.
    """
    if (cert is None) != (key is None):
        raise ValueError("give both the client certificate and its key, or neither")
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(ca),
        private_key=_pem(key) if key is not None else None,
        certificate_chain=_pem(cert) if cert is not None else None,
    )


def _single(auth: Mapping[str, Iterable[bytes]], key: str) -> bytes | None:
    values = list(auth.get(key, ()))
    return values[0] if len(values) == 1 else None


def principal_from_context(context: Any) -> str | None:
    """The principal of a call: the common name of the verified client certificate, or None.

    ``context`` is a ``grpc.ServicerContext``. gRPC fills ``auth_context()`` only from a
    certificate it verified against the server's client CA. The PEM of the peer certificate
    (which gRPC always adds for a verified peer) is checked as well: it must be a
    client-authentication certificate whose CN is the one gRPC reported, so that a server
    certificate from the same CA cannot pose as a user even if the TLS library let it through
    (BoringSSL, in grpcio 1.85, already refuses it in the handshake: "unsupported certificate
    purpose").
    """
    try:
        auth: Mapping[str, Iterable[bytes]] = context.auth_context() or {}
    except Exception:
        return None
    if _single(auth, "transport_security_type") != b"ssl":
        return None
    raw_name = _single(auth, "x509_common_name")
    if raw_name is None:
        return None
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not _PRINCIPAL.match(name):
        return None
    pem = _single(auth, "x509_pem_cert")
    if pem is None or not _is_client_certificate_for(pem, name):
        return None
    return name


def _is_client_certificate_for(pem: bytes, name: str) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(pem)
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    return (
        len(names) == 1
        and names[0].value == name
        and ExtendedKeyUsageOID.CLIENT_AUTH in usage
        and ExtendedKeyUsageOID.SERVER_AUTH not in usage
    )


# --- development certificates -------------------------------------------------------------------


@dataclass(frozen=True)
class DevCerts:
    """Paths of the files written by ``make_dev_certs``."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    clients: Mapping[str, tuple[Path, Path]] = field(default_factory=dict)  # principal -> (cert, key)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Writes a file with exactly ``mode``, also when it already existed with a looser one."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(descriptor, mode)
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    now: datetime,
    is_ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + DEV_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_dev_certs(
    out_dir: Path,
    principals: Iterable[str] = DEV_PRINCIPALS,
    *,
    organisation: str = "matcher development",
) -> DevCerts:
    """Creates a local CA, a server certificate for localhost/127.0.0.1/::1, and one client
    certificate per principal (its CN), under ``out_dir`` (mode 0700; keys 0600).

    For development and tests only: the CA key sits next to the certificates it signed.
    """
    names = list(dict.fromkeys(principals))
    for principal in names:
        if not _PRINCIPAL.match(principal):
            raise ValueError(f"{principal!r} is not a valid principal id for a certificate CN")
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{organisation} CA", organisation)
    ca_cert = _issue(ca_name, ca_key.public_key(), ca_name, ca_key, now=now, is_ca=True)

    def save(stem: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
        cert_path, key_path = out_dir / f"{stem}.pem", out_dir / f"{stem}.key"
        _write(key_path, _key_pem(key), 0o600)
        _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        return cert_path, key_path

    ca_paths = save("ca", ca_cert, ca_key)

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _issue(
        _name("localhost", organisation),
        server_key.public_key(),
        ca_name,
        ca_key,
        now=now,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        san=[
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ],
    )
    server_paths = save("server", server_cert, server_key)

    clients: dict[str, tuple[Path, Path]] = {}
    for principal in names:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _issue(
            _name(principal, organisation),
            key.public_key(),
            ca_name,
            ca_key,
            now=now,
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        clients[principal] = save(f"client-{principal}", certificate, key)

    return DevCerts(ca_paths[0], ca_paths[1], server_paths[0], server_paths[1], clients)
