"""Signed-in people, in the console's memory only, and the tokens that protect their forms.

A session is what the console knows about a signed-in person: their principal and roles (from
``WhoAmI``), a client that carries *their* credential to the service, and the CSRF token of their
forms. It lives in this process's memory and nowhere else: nothing is written to disk, a restart
signs everybody out, and a session unused for ``idle`` seconds is dropped (its client closed
when it owns a channel). The cookie holds only a random id (256 bits), never the credential.

The credential is the person's bearer token, or under mutual TLS their certificate and key,
which the console keeps inside the per-session gRPC channel it made from them. Python cannot
wipe a ``str`` or ``bytes`` in place; dropping the session drops the last reference.

Before sign-in there is no session to hold a CSRF token, so the sign-in form is protected by a
double-submit token: a random nonce in a cookie, and in the form the nonce's HMAC under a key
that exists only in this process. A page of another site can neither read the cookie nor
compute the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from matcher.client import MatcherClient

# Roles as the service names them (lifecycle.access); the console shows pages by them, the
# service decides every call anyway.
INVESTIGATOR = "investigator"
SUPERVISOR = "case_supervisor"
OPERATOR = "alert_operator"
AUDITOR = "auditor"


@dataclass
class Session:
    sid: str
    principal: str
    display_name: str
    roles: frozenset[str]
    client: MatcherClient
    owns_channel: bool
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: float = field(default_factory=time.monotonic)

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def csrf_ok(self, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionStore:
    """Sessions by id, dropped after ``idle`` seconds without a request; at most ``limit``.

    When full, the least recently used session is dropped to make room (a sign-in never fails
    because somebody else forgot to sign out).
    """

    def __init__(self, idle: float, limit: int = 1000, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle = idle
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(
        self, principal: str, display_name: str, roles: frozenset[str], client: MatcherClient, owns: bool
    ) -> Session:
        session = Session(secrets.token_urlsafe(32), principal, display_name, roles, client, owns)
        session.last_seen = self._clock()
        evicted = []
        with self._lock:
            evicted = self._sweep()
            while len(self._sessions) >= self.limit:
                evicted.append(self._sessions.popitem(last=False)[1])
            self._sessions[session.sid] = session
        _close(evicted)
        return session

    def get(self, sid: str, *, touch: bool = True) -> Session | None:
        """The live session of this id; ``touch`` counts the request as activity."""
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.last_seen > self.idle:
                del self._sessions[sid]
                expired = session
            else:
                if touch:
                    session.last_seen = now
                    self._sessions.move_to_end(sid)
                return session
        _close([expired])
        return None

    def alive(self, session: Session) -> bool:
        """Whether the session is still signed in (for long streams that do not touch it)."""
        return self.get(session.sid, touch=False) is session

    def drop(self, sid: str) -> None:
        with self._lock:
            session = self._sessions.pop(sid, None)
        _close([session] if session else [])

    def clear(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        _close(sessions)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _sweep(self) -> list[Session]:
        now = self._clock()
        gone = [s for s in self._sessions.values() if now - s.last_seen > self.idle]
        for session in gone:
            del self._sessions[session.sid]
        return gone


def _close(sessions: list[Session]) -> None:
    for session in sessions:
        if session.owns_channel:
            session.client.close()


class SignInTokens:
    """Stateless CSRF tokens for the sign-in form (double submit, HMAC under a process key)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    @staticmethod
    def nonce() -> str:
        return secrets.token_urlsafe(24)

    def token(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def valid(self, nonce: str, token: str) -> bool:
        return bool(nonce) and bool(token) and hmac.compare_digest(self.token(nonce), token)
