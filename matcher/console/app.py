"""The console as an ASGI application, served by uvicorn; and the public page's publication.

``build`` assembles the routes of ``matcher.console.pages``, the static files (the console's own
stylesheet and script: nothing is loaded from anywhere else), the published transparency page
when a folder is given, and the security middleware. ``serve`` runs it (HTTPS when given a
certificate). ``publish`` writes the public page from an auditor's client.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from matcher.client import MatcherClient
from matcher.console import transparency
from matcher.console.pages import account, alerts, audit, cases
from matcher.console.pages.audit import reports
from matcher.console.sessions import SessionStore
from matcher.console.web import HANDLERS, STATIC, Config, Console, Headers

log = logging.getLogger(__name__)


def build(config: Config) -> tuple[Starlette, Console]:
    console = Console(config, SessionStore(config.idle_seconds, config.max_sessions))
    routes: list[BaseRoute] = [*account.ROUTES, *cases.ROUTES, *alerts.ROUTES, *audit.ROUTES]
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    if config.public_dir is not None:
        routes.append(Mount("/transparency", StaticFiles(directory=config.public_dir, html=True)))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Headers, console=console)],
        exception_handlers={**HANDLERS, cases.BadId: cases.on_bad_id},
    )
    app.state.console = console
    return app, console


def serve(
    config: Config, host: str, port: int, tls_cert: Path | None = None, tls_key: Path | None = None
) -> None:
    app, console = build(config)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            # Request lines name cases and subjects: the console writes no access log (P8).
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=5,
            h11_max_incomplete_event_size=64 * 1024,
        )
    finally:
        console.close()


def render_public(
    client: MatcherClient, start: datetime, end: datetime
) -> tuple[str, transparency.PublicPage]:
    """The public page's HTML for ``[start, end)``, from the auditor's verified report."""
    whole, timeline = reports(client, start, end)
    page = transparency.public_page(whole, timeline, datetime.now(UTC))
    console = Console(Config(target=""), SessionStore(1))
    html = console.templates.get_template("public.html").render(page=page, stylesheet="console.css")
    return html, page


def publish(client: MatcherClient, out: Path, start: datetime, end: datetime) -> list[Path]:
    html, page = render_public(client, start, end)
    return transparency.write(out, html, page, STATIC / "console.css")
