"""Who is calling: bearer tokens from a token file, for local use (DESIGN decision 8).

No call is anonymous except health checking (P16). Tokens are stored only as SHA-256 hashes, so
the token file does not hand out credentials when it is read. On first start the service creates
one token for a local investigator and writes it, readable only by its owner, where the CLI looks
for it. (Mutual TLS and roles with separation of duties are added on top of this interface.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

LOCAL_PRINCIPAL = "local-investigator"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuthenticator:
    def __init__(self, tokens_file: Path, client_token_file: Path) -> None:
        if not tokens_file.exists():
            token = secrets.token_urlsafe(32)
            _write_private(tokens_file, json.dumps({"tokens": {_hash(token): LOCAL_PRINCIPAL}}, indent=2))
            _write_private(client_token_file, token + "\n")
        self._principals: dict[str, str] = json.loads(tokens_file.read_text())["tokens"]

    def principal(self, metadata: tuple[tuple[str, str | bytes], ...]) -> str | None:
        """The principal of a call, or None when it carries no valid token."""
        for key, value in metadata:
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                digest = _hash(value.removeprefix("Bearer ").strip())
                for known, principal in self._principals.items():
                    if hmac.compare_digest(known, digest):
                        return principal
        return None


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
