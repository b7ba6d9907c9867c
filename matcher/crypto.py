"""Encryption at rest and crypto-erase (P18; DESIGN decision 5).

Key hierarchy: a key-encryption key (KEK) kept outside the database wraps one data key per case;
each case key wraps one data key per subject; each subject key encrypts that subject's templates
with AES-256-GCM. The associated data binds every ciphertext to where it belongs, so a row copied
to another case or subject fails to decrypt instead of matching the wrong person. Deleting a
wrapped key row therefore destroys, provably, every copy of what it protected.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
KEK_ENV = "MATCHER_KEK"


class KeyringError(Exception):
    """The key-encryption key is missing, malformed or wrong."""


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(nonce, ciphertext, aad)


def case_key_aad(case_id: str) -> bytes:
    return f"matcher/v1/case-key/{case_id}".encode()


def subject_key_aad(case_id: str, subject_pk: int) -> bytes:
    return f"matcher/v1/subject-key/{case_id}/{subject_pk}".encode()


def template_aad(case_id: str, subject_pk: int, template_id: str, model: str) -> bytes:
    return f"matcher/v1/face-template/{case_id}/{subject_pk}/{template_id}/{model}".encode()


class KeyRing:
    """Holds the KEK; wraps and unwraps data keys."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_BYTES:
            raise KeyringError(f"the key-encryption key must be {KEY_BYTES} bytes")
        self._kek = kek

    @classmethod
    def load(cls, kek_file: Path) -> KeyRing:
        """Takes the KEK from MATCHER_KEK (base64), else from the key file, creating it once."""
        encoded = os.environ.get(KEK_ENV)
        if encoded:
            try:
                return cls(base64.b64decode(encoded, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise KeyringError(f"{KEK_ENV} is not base64 of {KEY_BYTES} bytes") from exc
        if not kek_file.exists():
            kek_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(kek_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
        try:
            return cls(base64.b64decode(kek_file.read_bytes().strip(), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise KeyringError(f"{kek_file} does not hold base64 of {KEY_BYTES} bytes") from exc

    def derive(self, purpose: str) -> bytes:
        """A key for another purpose (the audit chain's HMAC), independent of the data keys."""
        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()).derive(
            self._kek
        )

    def new_key(self, wrapping: bytes | None, aad: bytes) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (under ``wrapping``, or the KEK when None)."""
        key = secrets.token_bytes(KEY_BYTES)
        nonce, sealed = encrypt(wrapping or self._kek, key, aad)
        return key, nonce + sealed

    def unwrap(self, wrapping: bytes | None, wrapped: bytes, aad: bytes) -> bytes:
        return decrypt(wrapping or self._kek, wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
