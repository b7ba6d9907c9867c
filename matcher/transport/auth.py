"""Who is calling: the mTLS certificate's name in production, a bearer token for local use.

No call is anonymous except health checking and reflection (P16). Tokens are stored only as
SHA-256 hashes, so the token file does not hand out credentials when it is read; each token is
written once, to a file readable only by its owner, where the CLI finds it (``matcher --as
NAME``). A principal named by a certificate or a token must still exist in the principals table
and pass :meth:`lifecycle.access.AccessControl.authorize` for every call.

Authentication reads only the call's headers (and, under mutual TLS, its verified certificate),
never its body: the transport runs it before a single byte of the request is read, so an
unauthenticated caller costs a dictionary lookup, whatever it sends.

What counts against an account's lockout (P11, CJIS AC-7) is decided here, and only a credential
*actually presented* counts against *its own* account: a revoked token of that account, or a valid
token of that account sent with a claim (``x-matcher-principal``) naming somebody else. A call
without a credential, or with a token that belongs to nobody, locks nobody: otherwise anyone who
knows an account's name could lock it (the attack that locked the only administrator).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from matcher import tls

CLAIM_HEADER = "x-matcher-principal"
MAX_HEADER_CHARS = 512


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


class Failure(Enum):
    """Why a call did not authenticate."""

    NO_CREDENTIAL = "no_credential"  # neither a certificate nor a token
    UNKNOWN_TOKEN = "unknown_token"  # a token that belongs to nobody
    REVOKED_TOKEN = "revoked_token"  # a token its owner no longer holds
    CLAIM_MISMATCH = "claim_mismatch"  # a valid token, claimed to be somebody else's


@dataclass(frozen=True)
class Credential:
    """The outcome of authenticating one call.

    ``principal`` is set when the call proved who it is. Otherwise ``failure`` says why, and
    ``owner`` names the account whose own credential was presented (a revoked token, a claim
    mismatch), which is the only account such a failure may count against (P11).
    ``presented`` is a printable, bounded identification of what was sent, for the audit record
    (a token's fingerprint, never the token).
    """

    principal: str | None
    failure: Failure | None = None
    owner: str | None = None
    presented: str = "anonymous"


class Authenticator:
    """Maps a call's headers (or certificate) to the principal it proves."""

    def __init__(self, tokens_file: Path, *, tls_enabled: bool) -> None:
        self._tokens_file = tokens_file
        self._tls = tls_enabled
        self._principals: dict[str, str] = {}
        self._revoked: dict[str, str] = {}
        self._loaded_mtime = -1.0
        self._reload()

    def _reload(self) -> None:
        """Re-reads the token file when it changed (``matcher token issue|revoke`` on the server)."""
        try:
            mtime = self._tokens_file.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime != self._loaded_mtime:
            stored = json.loads(self._tokens_file.read_text())
            self._principals = dict(stored.get("tokens", {}))
            self._revoked = dict(stored.get("revoked", {}))
            self._loaded_mtime = mtime

    def _save(self) -> None:
        body = {"tokens": self._principals, "revoked": self._revoked}
        write_private(self._tokens_file, json.dumps(body, indent=2))
        self._loaded_mtime = self._tokens_file.stat().st_mtime

    def issue(self, principal_id: str, token_file: Path) -> None:
        """Creates a token for ``principal_id`` and writes it to ``token_file`` (mode 0600)."""
        self._reload()
        token = secrets.token_urlsafe(32)
        self._principals[_hash(token)] = principal_id
        self._save()
        write_private(token_file, token + "\n")

    def revoke(self, principal_id: str) -> int:
        """Revokes every token of ``principal_id``; returns how many. A revoked token that is
        presented again counts against its owner's lockout (somebody holds an old credential)."""
        self._reload()
        gone = [digest for digest, owner in self._principals.items() if owner == principal_id]
        for digest in gone:
            self._revoked[digest] = self._principals.pop(digest)
        self._save()
        return len(gone)

    def authenticate(self, metadata: Iterable[tuple[str, Any]], context: Any) -> Credential:
        """The principal a call proves, from its headers or (under mutual TLS) its certificate.

        A caller may say which principal it claims to be (``x-matcher-principal``, as the CLI
        does); a valid token of another principal then fails, counting against the token's owner.
        """
        if self._tls:
            principal = tls.principal_from_context(context)
            if principal is None:
                return Credential(None, Failure.NO_CREDENTIAL)
            return Credential(principal, presented=principal)
        headers: Mapping[str, Any] = dict(metadata)
        value = headers.get("authorization")
        claimed = headers.get(CLAIM_HEADER)
        claim = claimed[:MAX_HEADER_CHARS] if isinstance(claimed, str) else ""
        if not (isinstance(value, str) and value.startswith("Bearer ")):
            return Credential(None, Failure.NO_CREDENTIAL)
        self._reload()
        digest = _hash(value.removeprefix("Bearer ").strip()[:MAX_HEADER_CHARS])
        fingerprint = "token:" + digest[:12]
        owner = self._principals.get(digest)
        if owner is None:
            revoked = self._revoked.get(digest)
            if revoked is not None:
                return Credential(None, Failure.REVOKED_TOKEN, revoked, fingerprint)
            return Credential(None, Failure.UNKNOWN_TOKEN, None, fingerprint)
        if claim and claim != owner:
            return Credential(None, Failure.CLAIM_MISMATCH, owner, fingerprint)
        return Credential(owner, presented=owner)
