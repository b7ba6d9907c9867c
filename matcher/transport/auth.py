"""Who is calling: the mTLS certificate's name in production, a bearer token for local use.

No call is anonymous except health checking (P16). Tokens are stored only as SHA-256 hashes, so
the token file does not hand out credentials when it is read; each token is written once, to a
file readable only by its owner, where the CLI finds it (``matcher --as NAME``). A principal
named by a certificate or a token must still exist in the principals table and pass
:meth:`lifecycle.access.AccessControl.authorize` for every call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

import grpc

from matcher import tls

CLAIM_HEADER = "x-matcher-principal"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


class Authenticator:
    """Maps a call to the principal id it proves, or None."""

    def __init__(self, tokens_file: Path, *, tls_enabled: bool) -> None:
        self._tokens_file = tokens_file
        self._tls = tls_enabled
        self._principals: dict[str, str] = {}
        self._loaded_mtime = -1.0
        self._reload()

    def _reload(self) -> None:
        """Re-reads the token file when it changed (``matcher token issue`` on the server)."""
        try:
            mtime = self._tokens_file.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime != self._loaded_mtime:
            self._principals = dict(json.loads(self._tokens_file.read_text())["tokens"])
            self._loaded_mtime = mtime

    def issue(self, principal_id: str, token_file: Path) -> None:
        """Creates a token for ``principal_id`` and writes it to ``token_file`` (mode 0600)."""
        self._reload()
        token = secrets.token_urlsafe(32)
        self._principals[_hash(token)] = principal_id
        write_private(self._tokens_file, json.dumps({"tokens": self._principals}, indent=2))
        write_private(token_file, token + "\n")
        self._loaded_mtime = self._tokens_file.stat().st_mtime

    def principal(self, context: grpc.ServicerContext) -> str | None:
        """The principal the call proves, or None.

        A caller may also say who it claims to be (``x-matcher-principal``, as the CLI does): a
        token that does not belong to that principal is then a failed authentication *of that
        principal*, which counts towards its lockout (P11: five in 15 minutes).
        """
        if self._tls:
            return tls.principal_from_context(context)
        self._reload()
        metadata = dict(context.invocation_metadata())
        proven = None
        value = metadata.get("authorization")
        if isinstance(value, str) and value.startswith("Bearer "):
            digest = _hash(value.removeprefix("Bearer ").strip())
            for known, principal in self._principals.items():
                if hmac.compare_digest(known, digest):
                    proven = principal
        claimed = metadata.get(CLAIM_HEADER)
        if isinstance(claimed, str) and claimed and claimed != proven:
            return None
        return proven

    def presented(self, context: grpc.ServicerContext) -> str:
        """Who a refused caller claimed to be, for the lockout count and the audit record; or a
        fingerprint of the token it sent (never the secret itself)."""
        metadata = dict(context.invocation_metadata())
        claimed = metadata.get(CLAIM_HEADER)
        if isinstance(claimed, str) and claimed:
            return claimed[:128]
        value = metadata.get("authorization")
        if isinstance(value, str):
            return "token:" + _hash(value)[:12]
        return "anonymous"
