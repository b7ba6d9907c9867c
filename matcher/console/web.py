"""The console's web layer: configuration, security headers, sessions in requests, rendering.

Every page handler goes through the helpers here, so each rule holds in one place:

- ``signed_in`` finds the session from the cookie (or sends the browser to sign in);
- ``posted`` reads a form (bounded, in memory) and refuses it unless its CSRF token is the
  session's and, when the browser says where the request came from, it came from this console;
- ``call`` runs one client call as the signed-in person, off the event loop; a refusal becomes
  a page that explains it (``refusals.explain``), with the HTTP status matching the gRPC one;
- ``render`` fills a Jinja2 template with autoescaping on, so every value is escaped;
- the middleware adds a strict Content-Security-Policy (scripts and styles from the console's
  own files only, no inline script or style, no frames, forms posting only here), ``no-store``
  on every page, and the session cookie's attributes (``HttpOnly``, ``SameSite=Strict``,
  ``Secure`` under TLS, ``Max-Age`` of the idle timeout).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import grpc
from anyio import to_thread
from google.protobuf.timestamp_pb2 import Timestamp
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher.client import MatcherClient, MatcherError
from matcher.console import refusals
from matcher.console.forms import BadForm, BodyTooLarge, Form, read_form
from matcher.console.sessions import Session, SessionStore, SignInTokens

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
COOKIE = "matcher_console"
SECURE_COOKIE = "__Host-matcher_console"  # the __Host- prefix binds it to this origin, Secure, Path=/
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Config:
    """How the console runs (see ``matcher console --help``)."""

    target: str
    # Mutual TLS to the service: the CA that signed the service's certificate. People then sign
    # in with their own client certificate and key instead of a token.
    service_ca: bytes | None = None
    tls: bool = False  # the console itself serves HTTPS: cookies are Secure
    idle_seconds: float = 15 * 60
    max_upload_bytes: int = 16 * 1024 * 1024
    timeout: float = 30.0
    public_dir: Path | None = None
    max_sessions: int = 1000


@dataclass
class Console:
    config: Config
    sessions: SessionStore
    sign_in: SignInTokens = field(default_factory=SignInTokens)
    templates: Environment = field(
        default_factory=lambda: Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html", "svg"], default_for_string=True, default=True),
            undefined=StrictUndefined,
        )
    )
    _channel: grpc.Channel | None = None

    def __post_init__(self) -> None:
        self.templates.filters["when"] = when
        self.templates.globals["explain"] = refusals.explain
        self.templates.globals["RULES"] = refusals.RULES

    @property
    def mutual_tls(self) -> bool:
        return self.config.service_ca is not None

    @property
    def cookie(self) -> str:
        return SECURE_COOKIE if self.config.tls else COOKIE

    def token_client(self, token: str, principal: str) -> MatcherClient:
        """A client carrying one person's token, over the console's one channel to the service."""
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.config.target)
        return MatcherClient(self._channel, token, self.config.timeout, principal=principal)

    def certificate_client(self, cert: bytes, key: bytes) -> MatcherClient:
        """A client presenting one person's certificate, over a channel of its own (in memory)."""
        from matcher.tls import channel_credentials

        assert self.config.service_ca is not None
        credentials = channel_credentials(self.config.service_ca, cert, key)
        return MatcherClient(grpc.secure_channel(self.config.target, credentials), "", self.config.timeout)

    def close(self) -> None:
        self.sessions.clear()
        if self._channel is not None:
            self._channel.close()


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def when(stamp: Timestamp | None) -> str:
    if stamp is None or not stamp.seconds:
        return ""
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- requests -------------------------------------------------------------------------------------


class SignInRequired(Exception):
    """No live session: pages send the browser to sign in, forms and streams answer 401."""


class Forbidden(Exception):
    """A form whose CSRF token or origin is wrong; nothing reaches the service."""


class NotForYou(Exception):
    """A page none of the person's roles has (the service would refuse every call on it)."""


def signed_in(request: Request, *roles: str, touch: bool = True) -> Session:
    console = console_of(request)
    session = console.sessions.get(request.cookies.get(console.cookie, ""), touch=touch)
    if session is None:
        raise SignInRequired()
    request.state.session = session
    if roles and not session.has(*roles):
        raise NotForYou()
    return session


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def posted(request: Request, *roles: str) -> tuple[Session, Form]:
    """The signed-in person's form, after its CSRF token and origin are checked."""
    session = signed_in(request, *roles)
    form = await read_form(request, console_of(request).config.max_upload_bytes)
    if not session.csrf_ok(form.get("csrf")) or not same_origin(request):
        raise Forbidden()
    return session, form


async def call(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs a blocking client call in a worker thread."""
    return await to_thread.run_sync(functools.partial(function, *args, **kwargs))


# --- responses ------------------------------------------------------------------------------------


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    console = console_of(request)
    session: Session | None = getattr(request.state, "session", None)
    page = console.templates.get_template(template).render(
        session=session, csrf=session.csrf if session else "", **context
    )
    return HTMLResponse(page, status_code=status)


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


_STATUS = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 413,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def shown(error: MatcherError) -> refusals.Shown:
    return refusals.explain(error.code.name, error.reason, error.rule, error.details)


def refusal(request: Request, error: MatcherError, back: str = "/") -> HTMLResponse:
    return render(request, "refusal.html", _STATUS.get(error.code.name, 500), refusal=shown(error), back=back)


async def on_refusal(request: Request, error: Exception) -> Response:
    assert isinstance(error, MatcherError)
    if error.code == grpc.StatusCode.UNAUTHENTICATED:
        # The token was revoked or the account locked meanwhile: this session is over.
        console_of(request).sessions.drop(request.cookies.get(console_of(request).cookie, ""))
        request.state.session = None
    return refusal(request, error, back=request.headers.get("referer", "/") or "/")


def problem(request: Request, status: int, title: str, words: str) -> HTMLResponse:
    """A page that says what went wrong, for problems the console finds before any call."""
    return render(request, "problem.html", status, title=title, words=words)


FORGED = (
    "This form did not come from your own session of the console (its security token is missing or "
    "wrong), so nothing was sent to the service. Reload the page and try again."
)


async def on_sign_in_required(request: Request, error: Exception) -> Response:
    if request.method in ("GET", "HEAD") and "text/event-stream" not in request.headers.get("accept", ""):
        return see_other("/signin")
    return problem(request, 401, "Sign in first", "Your session has ended.")


async def on_forbidden(request: Request, error: Exception) -> Response:
    return problem(request, 403, "The form was refused", FORGED)


async def on_not_for_you(request: Request, error: Exception) -> Response:
    return problem(
        request, 403, "Not one of your pages", refusals.RULES["P10"] + " None of your roles uses this page."
    )


async def on_too_large(request: Request, error: Exception) -> Response:
    return problem(request, 413, "Upload too large", str(error))


async def on_bad_form(request: Request, error: Exception) -> Response:
    return problem(request, 400, "The form could not be read", str(error)[:200])


HANDLERS: dict[Any, Callable[[Request, Exception], Any]] = {
    MatcherError: on_refusal,
    SignInRequired: on_sign_in_required,
    Forbidden: on_forbidden,
    NotForYou: on_not_for_you,
    BodyTooLarge: on_too_large,
    BadForm: on_bad_form,
}


class Headers:
    """ASGI middleware: security headers on every response, and the session cookie's renewal."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        cacheable = path.startswith(("/static/", "/transparency/"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                    (b"cache-control", b"public, max-age=300" if cacheable else b"no-store"),
                ]
                if self.console.config.tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                # Each request of a live session renews the cookie's lifetime (the idle timeout).
                session = (scope.get("state") or {}).get("session")
                if isinstance(session, Session) and self.console.sessions.alive(session):
                    headers.append((b"set-cookie", session_cookie(self.console, session.sid)))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def session_cookie(console: Console, sid: str, max_age: int | None = None) -> bytes:
    """The Set-Cookie value of the session id: script cannot read it, other sites cannot send it."""
    age = int(console.config.idle_seconds) if max_age is None else max_age
    secure = "; Secure" if console.config.tls else ""
    return f"{console.cookie}={sid}; Max-Age={age}; Path=/; HttpOnly; SameSite=Strict{secure}".encode()


def set_session_cookie(console: Console, response: Response, sid: str, max_age: int | None = None) -> None:
    response.raw_headers.append((b"set-cookie", session_cookie(console, sid, max_age)))
