"""Encryption at rest and crypto-erase (P18; DESIGN decision 5).

Key hierarchy: a key-encryption key (KEK) kept outside the database wraps one data key per case;
each case key wraps one data key per subject; each subject key encrypts that subject's templates
with AES-256-GCM. The associated data binds every ciphertext to where it belongs, so a row copied
to another case or subject fails to decrypt instead of matching the wrong person. The KEK comes in
generations (:mod:`matcher.kek`): after a purge the surviving keys are re-wrapped under a new one
and the old one is destroyed, so that no copy of a purged key, in the database's files, its WAL or
a backup, can be unwrapped any more.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
