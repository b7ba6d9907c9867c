"""Signing in and out, and the home page that sends each person to the pages of their roles.

Sign-in asks the service who the credential belongs to (``WhoAmI``): a wrong token is refused by
the service, counted against the account it claims (five in 15 minutes lock it, P11) and
audited, exactly as from the CLI. The console never decides who someone is by itself.
"""

from __future__ import annotations

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from matcher.client import MatcherClient, MatcherError
from matcher.console.forms import read_form
from matcher.console.sessions import AUDITOR, INVESTIGATOR, OPERATOR, SUPERVISOR, Session, SignInTokens
from matcher.console.web import (
    Forbidden,
    SignInRequired,
    call,
    console_of,
    posted,
    render,
    same_origin,
    see_other,
    set_session_cookie,
    shown,
    signed_in,
)

SIGN_IN_COOKIE = "matcher_console_signin"


def home_of(session: Session) -> str:
    if session.has(INVESTIGATOR, SUPERVISOR):
        return "/cases"
    if session.has(OPERATOR):
        return "/alerts"
    if session.has(AUDITOR):
        return "/audit"
    return "/home"


async def root(request: Request) -> Response:
    try:
        return see_other(home_of(signed_in(request)))
    except SignInRequired:
        return see_other("/signin")


async def home(request: Request) -> Response:
    signed_in(request)
    return render(request, "home.html")


def _sign_in_form(request: Request, status: int = 200, **context: object) -> Response:
    console = console_of(request)
    nonce = SignInTokens.nonce()
    context.setdefault("refusal", None)
    context.setdefault("problem", None)
    response = render(
        request,
        "signin.html",
        status,
        signin_token=console.sign_in.token(nonce),
        mutual_tls=console.mutual_tls,
        **context,
    )
    secure = "; Secure" if console.config.tls else ""
    response.raw_headers.append(
        (
            b"set-cookie",
            f"{SIGN_IN_COOKIE}={nonce}; Max-Age=900; Path=/; HttpOnly; SameSite=Strict{secure}".encode(),
        )
    )
    return response


async def sign_in_page(request: Request) -> Response:
    return _sign_in_form(request)


async def sign_in(request: Request) -> Response:
    console = console_of(request)
    form = await read_form(request, console.config.max_upload_bytes)
    if not console.sign_in.valid(request.cookies.get(SIGN_IN_COOKIE, ""), form.get("csrf")):
        raise Forbidden()
    if not same_origin(request):
        raise Forbidden()
    client: MatcherClient
    if console.mutual_tls:
        cert, key = form.uploads("certificate"), form.uploads("key")
        if len(cert) != 1 or len(key) != 1:
            return _sign_in_form(request, 400, problem="Choose your certificate file and its key file.")
        client, owns = console.certificate_client(cert[0].data, key[0].data), True
    else:
        principal = form.text("principal", 128)
        client, owns = console.token_client(form.get("token").strip()[:512], principal), False
    try:
        me = await call(client.whoami)
    except MatcherError as error:
        if owns:
            client.close()
        problem = (
            "The service did not accept this certificate and key (or cannot be reached)."
            if console.mutual_tls and error.code == grpc.StatusCode.UNAVAILABLE
            else None
        )
        return _sign_in_form(request, 401, refusal=shown(error), problem=problem)
    previous = request.cookies.get(console.cookie, "")
    if previous:
        console.sessions.drop(previous)
    session = console.sessions.create(
        me.name.removeprefix("principals/"), me.display_name, frozenset(me.roles), client, owns
    )
    response = see_other(home_of(session))
    set_session_cookie(console, response, session.sid)
    response.raw_headers.append((b"set-cookie", f"{SIGN_IN_COOKIE}=; Max-Age=0; Path=/".encode()))
    return response


async def sign_out(request: Request) -> Response:
    session, _ = await posted(request)
    console = console_of(request)
    console.sessions.drop(session.sid)
    request.state.session = None
    response = see_other("/signin")
    set_session_cookie(console, response, "", max_age=0)
    return response


ROUTES = [
    Route("/", root),
    Route("/home", home),
    Route("/signin", sign_in_page, methods=["GET"]),
    Route("/signin", sign_in, methods=["POST"]),
    Route("/signout", sign_out, methods=["POST"]),
]
