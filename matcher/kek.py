"""Generations of the key-encryption key (KEK), kept in private files outside the database (P18).

A key that lives in PostgreSQL cannot be destroyed by deleting its row: dead tuples, the WAL,
base backups and replicas keep it. What can be destroyed is a file this service owns. So the
scope keys stored in the database (case keys and order keys; subject keys are wrapped by their
case key) are wrapped by a KEK *generation*, and after purges a new generation is written, every
surviving scope key is re-wrapped under it and the old generation's file is overwritten, fsynced
and removed (:mod:`matcher.kek_rotation`). Every copy of a purged scope's key, wherever the
database left it, is then wrapped by a key that no longer exists (NIST SP 800-88 crypto-erase).

Files: generation 0 is the configured key file itself (``keys/kek``, as before generations);
generation ``g >= 1`` is ``keys/kek.g``. ``MATCHER_KEK`` in the environment stands for generation
0: it cannot be destroyed by the service, so the first rotation leaves it unused and
``matcher doctor`` asks for it to be removed. Every file is written atomically (a private
temporary file, fsynced, renamed, the folder fsynced) with mode 0600.

A wrapped scope key names its generation: ``0x01 | generation (4 bytes, big-endian) | nonce |
ciphertext``; a key wrapped before generations existed (60 bytes) belongs to generation 0.

The audit chain's HMAC key is not derived from the current KEK (rotating the KEK would break the
chain's verification): it is its own file beside the KEK, written once. An existing deployment's
audit key is derived from generation 0 exactly as before, so its chain still verifies.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import struct
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from matcher import crypto
from matcher.crypto import KEK_ENV, KEY_BYTES, NONCE_BYTES, KeyringError

log = logging.getLogger(__name__)
_HEADER = struct.Struct(">BI")
_VERSION = 1
_TAG_BYTES = 16
LEGACY_WRAPPED_BYTES = NONCE_BYTES + KEY_BYTES + _TAG_BYTES
WRAPPED_BYTES = _HEADER.size + LEGACY_WRAPPED_BYTES
AUDIT_KEY_NAME = "audit-chain.key"
AUDIT_KEY_PURPOSE = "matcher audit chain v1"
LEFTOVER_SECONDS = 60.0  # a hidden key file this old was left by a crash, not being written


# --- private files ----------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_private(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically with mode 0600: all of it, durably, or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def destroy_file(path: Path) -> None:
    """Overwrites the file in place (random bytes, then zeros), fsyncs, removes it, fsyncs its folder.

    On a copy-on-write or journalling file system an overwrite may land elsewhere than the old
    blocks; the README says so: the KEK folder belongs on a volume that is not snapshotted.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(descriptor).st_size
        for filler in (secrets.token_bytes(size), bytes(size)):
            os.lseek(descriptor, 0, os.SEEK_SET)
            os.write(descriptor, filler)
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
    path.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def retire_file(path: Path) -> None:
    """Takes the file out of its name first (atomically), then destroys it.

    A crash in the middle leaves a hidden ``.NAME.tmp-retired`` file, never a half-overwritten
    generation under its own name; the next start destroys it (``KekGenerations.load``).
    """
    hidden = path.with_name(f".{path.name}.tmp-retired")
    try:
        os.replace(path, hidden)
    except FileNotFoundError:
        return
    _fsync_dir(path.parent)
    destroy_file(hidden)


def _decode(raw: bytes, where: str) -> bytes:
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringError(f"{where} does not hold base64 of {KEY_BYTES} bytes") from exc
    if len(key) != KEY_BYTES:
        raise KeyringError(f"{where} does not hold base64 of {KEY_BYTES} bytes")
    return key


def read_key_file(path: Path) -> bytes:
    return _decode(path.read_bytes(), str(path))


def _encode(key: bytes) -> bytes:
    return base64.b64encode(key) + b"\n"


def generation_file(kek_file: Path, generation: int) -> Path:
    return kek_file if generation == 0 else kek_file.with_name(f"{kek_file.name}.{generation}")


def generation_files(kek_file: Path) -> dict[int, Path]:
    """The generation files present (generation 0 is the key file itself)."""
    found = {0: kek_file} if kek_file.is_file() or kek_file.is_dir() else {}
    if kek_file.parent.is_dir():
        for path in kek_file.parent.glob(f"{kek_file.name}.*"):
            suffix = path.name[len(kek_file.name) + 1 :]
            if suffix.isdigit() and int(suffix) >= 1:
                found[int(suffix)] = path
    return dict(sorted(found.items()))


def _legacy_kek(kek_file: Path) -> bytes | None:
    """Generation 0, from MATCHER_KEK or the key file, when it still exists."""
    encoded = os.environ.get(KEK_ENV)
    if encoded:
        return _decode(encoded.encode(), KEK_ENV)
    if kek_file.is_file():
        return _decode(kek_file.read_bytes(), str(kek_file))
    return None


# --- the generations ----------------------------------------------------------------------------


class KekGenerations:
    """The KEK generations this process holds; wraps new scope keys under the current one.

    ``new_key``, ``wrap`` and ``unwrap`` take the key that wraps: with ``wrapping`` None the KEK
    is used (the current generation to wrap, the one the wrapped key names to unwrap); with a
    data key (a case key wrapping a subject key) generations play no part.
    """

    def __init__(self, kek_file: Path, keks: dict[int, bytes], *, env_generation: bool = False) -> None:
        if not keks:
            raise KeyringError("no key-encryption key")
        self.kek_file = kek_file
        self._keks = dict(keks)
        self._env_generation = env_generation  # generation 0 came from MATCHER_KEK
        self._lock = threading.Lock()
        self.current = max(self._keks)

    @classmethod
    def load(cls, kek_file: Path) -> KekGenerations:
        """Reads every generation present; creates generation 0 on a deployment's first start."""
        env_generation = bool(os.environ.get(KEK_ENV))
        keks: dict[int, bytes] = {}
        for generation, path in generation_files(kek_file).items():
            if generation == 0 and env_generation:
                continue  # MATCHER_KEK stands for generation 0, as it always took precedence.
            keks[generation] = _decode(path.read_bytes(), str(path))
        if env_generation:
            keks[0] = _decode(os.environ[KEK_ENV].encode(), KEK_ENV)
        for leftover in kek_file.parent.glob(f".{kek_file.name}*.tmp-*"):
            # A generation whose write a crash interrupted (never used), or whose destruction;
            # not one a live replica sharing the folder is writing this very moment.
            if time.time() - leftover.stat().st_mtime > LEFTOVER_SECONDS:
                destroy_file(leftover)
        if not keks:
            write_private(kek_file, _encode(secrets.token_bytes(KEY_BYTES)))
            keks[0] = _decode(kek_file.read_bytes(), str(kek_file))
        return cls(kek_file, keks, env_generation=env_generation)

    @property
    def generations(self) -> list[int]:
        return sorted(self._keks)

    @property
    def env_generation(self) -> bool:
        """Generation 0 is MATCHER_KEK (which only its operator can destroy)."""
        return self._env_generation and 0 in self._keks

    # --- wrapping ---------------------------------------------------------------------------

    @staticmethod
    def generation_of(wrapped: bytes) -> int:
        if len(wrapped) == LEGACY_WRAPPED_BYTES:
            return 0
        if len(wrapped) == WRAPPED_BYTES and wrapped[0] == _VERSION:
            return int(_HEADER.unpack_from(wrapped)[1])
        raise KeyringError("a wrapped key has an unknown format")

    def new_key(self, wrapping: bytes | None, aad: bytes) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (under ``wrapping``, or the current KEK)."""
        key = secrets.token_bytes(KEY_BYTES)
        return key, self.wrap(wrapping, key, aad)

    def wrap(self, wrapping: bytes | None, key: bytes, aad: bytes) -> bytes:
        """``key`` wrapped under ``wrapping``, or under the current KEK (naming its generation)."""
        if wrapping is not None:
            nonce, sealed = crypto.encrypt(wrapping, key, aad)
            return nonce + sealed
        generation = self.current
        nonce, sealed = crypto.encrypt(self._keks[generation], key, aad)
        return _HEADER.pack(_VERSION, generation) + nonce + sealed

    def unwrap(self, wrapping: bytes | None, wrapped: bytes, aad: bytes) -> bytes:
        if wrapping is not None:
            return crypto.decrypt(wrapping, wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        generation = self.generation_of(wrapped)
        kek = self._keks.get(generation)
        if kek is None and generation > max(self._keks):
            self.refresh()  # another replica rotated (the key folder is shared)
            kek = self._keks.get(generation)
        if kek is None:
            raise KeyringError(f"the key is wrapped by KEK generation {generation}, which is not here")
        body = wrapped if len(wrapped) == LEGACY_WRAPPED_BYTES else wrapped[_HEADER.size :]
        return crypto.decrypt(kek, body[:NONCE_BYTES], body[NONCE_BYTES:], aad)

    def rewrap(self, wrapped: bytes, aad: bytes) -> bytes:
        """The same scope key, wrapped under the current generation."""
        return self.wrap(None, self.unwrap(None, wrapped, aad), aad)

    # --- replicas ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Takes in what another replica did to the shared key folder: a newer generation
        becomes current here too, and a generation whose file is gone is forgotten (that
        replica's rotation destroyed it; this process must not keep its copy, P18)."""
        with self._lock:
            on_disk = generation_files(self.kek_file)
            for generation, path in on_disk.items():
                if generation not in self._keks and generation > 0:
                    try:
                        self._keks[generation] = _decode(path.read_bytes(), str(path))
                    except FileNotFoundError:
                        continue  # destroyed meanwhile
            for generation in list(self._keks):
                env_held = generation == 0 and self._env_generation
                if generation not in on_disk and not env_held and len(self._keks) > 1:
                    del self._keks[generation]
            self.current = max(self._keks)

    # --- rotation -----------------------------------------------------------------------------

    def write_generation(self) -> int:
        """Writes a new generation's file (not yet current) and returns its number."""
        with self._lock:
            generation = max(max(self._keks), max(generation_files(self.kek_file), default=0)) + 1
            kek = secrets.token_bytes(KEY_BYTES)
            write_private(generation_file(self.kek_file, generation), _encode(kek))
            self._keks[generation] = kek
            return generation

    def make_current(self, generation: int) -> None:
        """New scope keys are wrapped under ``generation`` from now on."""
        with self._lock:
            if generation not in self._keks:
                raise KeyringError(f"KEK generation {generation} is not loaded")
            self.current = generation

    def destroy_before(self, generation: int) -> list[int]:
        """Destroys every generation older than ``generation``: its file, and this process's copy."""
        destroyed = []
        with self._lock:
            for old in sorted(g for g in self._keks if g < generation):
                if old == 0 and self._env_generation:
                    log.warning(
                        "%s holds KEK generation 0, which generation %d replaced: unset it and "
                        "destroy every copy of it (the service cannot)",
                        KEK_ENV,
                        generation,
                    )
                else:
                    retire_file(generation_file(self.kek_file, old))
                del self._keks[old]
                destroyed.append(old)
            for old, path in generation_files(self.kek_file).items():
                if old < generation and old not in destroyed:
                    retire_file(path)  # left by an interrupted rotation, never loaded here
                    destroyed.append(old)
        return destroyed


# --- the audit chain's key ----------------------------------------------------------------------


def audit_key_file(kek_file: Path) -> Path:
    return kek_file.with_name(AUDIT_KEY_NAME)


def load_audit_key(kek_file: Path, *, create: bool = True) -> bytes:
    """The audit chain's HMAC key, independent of the KEK's rotation.

    Written once beside the KEK; a deployment from before generations derives it from generation
    0 exactly as it always did (so its chain verifies), then keeps it in its own file.
    ``create`` False (``matcher doctor``) derives without writing.
    """
    path = audit_key_file(kek_file)
    if path.is_file():
        return _decode(path.read_bytes(), str(path))
    legacy = _legacy_kek(kek_file)
    if legacy is None:
        raise KeyringError(
            f"the audit chain's key {path} is missing: restore it from its escrow (without it the "
            "audit log cannot be verified)"
        )
    # As the service always derived it from the KEK, so that existing chains verify.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=AUDIT_KEY_PURPOSE.encode())
    key = hkdf.derive(legacy)
    if create:
        write_private(path, _encode(key))
    return key
