"""Fixtures for the web console: a real service, the real console in front of it, a real browser.

The console runs in this process under uvicorn on a loopback port, in front of the harness's gRPC
server (tests/conftest.py), as ``matcher console`` runs it. Browser tests drive Debian's chromium
through Playwright with its executable path set (nothing downloads a browser) and a fresh profile,
and skip, saying why, where either is missing. Security tests that need no browser speak HTTP
with ``Browserless``, a cookie-keeping client over ``http.client``.
"""

from __future__ import annotations

import html
import http.client
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn

from matcher.client import MatcherClient
from matcher.console.app import build
from matcher.console.web import Config, Console
from tests.conftest import START, Harness

CHROMIUM = Path(os.environ.get("MATCHER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def csrf(self) -> str:
        found = _CSRF.search(self.text)
        assert found, "the page has no form token"
        return html.unescape(found.group(1))


@dataclass
class Browserless:
    """HTTP with cookies and no browser: for requests a browser would never make."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        connection.close()
        return Reply(response.status, response.headers, text)

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> Reply:
        return self.request(
            "POST",
            path,
            urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )

    def post_files(self, path: str, fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> Reply:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        for name, filename, data in files:
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            parts.append(head.encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def sign_in(self, principal: str, token: str) -> Reply:
        page = self.get("/signin")
        return self.post("/signin", {"csrf": page.csrf(), "principal": principal, "token": token})


@dataclass
class RunningConsole:
    console: Console
    port: int
    harness: Harness

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def http(self) -> Browserless:
        return Browserless(self.port)


@contextmanager
def running_console(harness: Harness, **overrides: Any) -> Iterator[RunningConsole]:
    app, console = build(Config(**{"target": harness.target, "timeout": 10, **overrides}))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the console did not start"
    try:
        yield RunningConsole(console, port, harness)
    finally:
        server.should_exit = True
        thread.join(10)
        console.close()


@pytest.fixture
def web(harness: Harness) -> Iterator[RunningConsole]:
    with running_console(harness) as running:
        yield running


@pytest.fixture
def face_web(face_harness: Harness) -> Iterator[RunningConsole]:
    with running_console(face_harness) as running:
        yield running


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    """Debian's chromium under Playwright, or a skip that says what is missing.

    Per module, not per session: Playwright's sync API runs an event loop in the main thread
    while it is open, and later tests call ``asyncio.run`` there.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield context
        context.close()


@pytest.fixture
def browser(playwright_browser: Any) -> Iterator[Any]:
    """A fresh page in the shared profile, its cookies cleared before and after.

    Every request the page makes is recorded: nothing may be loaded from outside the console.
    """
    playwright_browser.clear_cookies()
    page = playwright_browser.new_page()
    dialogs: list[str] = []
    requests: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: requests.append(request.url))
    page.dialogs = dialogs
    yield page
    page.close()
    playwright_browser.clear_cookies()
    outside = [url for url in requests if not url.startswith(("http://127.0.0.1:", "data:", "file:///"))]
    assert outside == [], f"the page loaded from outside the console: {outside}"


def sign_in(page: Any, web: RunningConsole, principal: str) -> None:
    page.goto(f"{web.url}/signin")
    page.fill("input[name=principal]", principal)
    page.fill("input[name=token]", web.harness.token(principal))
    page.click("button[type=submit]")


def order_in_zone(h: Harness, camera: str, zone: str, order: str, label: str, face: Any) -> MatcherClient:
    """A camera in a zone watched by local-operator, and an order over it with ``face`` enrolled,
    in force at the harness's START; returns the camera gateway's client, to report sightings."""
    admin, registry = h.as_("local-admin"), h.as_("local-registry")
    admin.create_camera(camera, description="east gate", reason="installed")
    admin.create_zone(zone, [camera], description="protection zone", reason="zone")
    admin.set_operator_zones("local-operator", [zone], reason="desk")
    registry.create_order(
        order,
        label=label,
        legal_reference="Circuit Court 26-PO-77",
        zones=[zone],
        start=START - timedelta(hours=1),
        end=START + timedelta(days=60),
        reason="order of protection",
    )
    registry.enroll_order_face(order, face, reason="photo from the order file")
    return h.as_("local-camera")
