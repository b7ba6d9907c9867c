"""Alert operators' page: the live alerts of their zones, by server-sent events, and acknowledgement.

The page opens ``/alerts/events``, which subscribes to the service as the operator
(``SubscribeAlerts``: first the unacknowledged alerts, then live ones, of the operator's zones
only; the service filters) and forwards each alert as an event. The browser's ``Last-Event-ID``
carries the resume token on reconnection. A worker thread reads the gRPC stream; when the page
goes away the stream is cancelled, and when the session ends (signed out, idle, or refused) the
stream says so and stops. The stream does not count as activity: a forgotten tab does not keep a
session alive. Without script, ``/alerts/now`` lists the unacknowledged alerts and each has an
acknowledge button.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from matcher.client import MatcherError
from matcher.console.sessions import OPERATOR, Session
from matcher.console.web import call, console_of, posted, render, see_other, shown, signed_in, when
from matcher.v1 import sightings_pb2

HEARTBEAT = 10.0  # seconds between keep-alive comments (and session checks) on a quiet stream
BACKLOG_WAIT = 1.5  # how long the page without script waits for the unacknowledged alerts
_ALERT = re.compile(r"^alerts/[A-Za-z0-9._-]{1,128}$")
_RESUME = re.compile(r"^[A-Za-z0-9._:=-]{0,256}$")


def as_json(alert: sightings_pb2.Alert) -> dict[str, object]:
    return {
        "name": alert.name,
        "order": alert.order,
        "person": alert.person_label,
        "camera": alert.camera,
        "zones": list(alert.zones),
        "score": round(alert.score, 3),
        "captured": when(alert.capture_time),
        "created": when(alert.create_time),
    }


async def alerts_page(request: Request) -> Response:
    signed_in(request, OPERATOR)
    return render(request, "alerts.html", alerts=None)


async def alerts_now(request: Request) -> Response:
    session = signed_in(request, OPERATOR)
    alerts = await call(lambda: list(session.client.subscribe_alerts(timeout=BACKLOG_WAIT)))
    return render(request, "alerts.html", alerts=[as_json(a) for a in alerts])


def _event(kind: str, data: object, event_id: str = "") -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"


async def _events(request: Request, session: Session, resume: str) -> AsyncIterator[str]:
    sessions = console_of(request).sessions
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stream = session.client.alert_stream(resume)

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone: the console is stopping
            stream.cancel()

    def pump() -> None:
        try:
            for alert in stream:
                put(alert)
            put(None)
        except MatcherError as error:
            put(error)

    threading.Thread(target=pump, name="alert-stream", daemon=True).start()
    try:
        yield "retry: 3000\n\n"
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), HEARTBEAT)
            except TimeoutError:
                if not sessions.alive(session):
                    yield _event("signed-out", {"words": "Your session has ended: sign in again."})
                    return
                yield ": keep-alive\n\n"
                continue
            if item is None:
                return
            if isinstance(item, MatcherError):
                explained = shown(item)
                yield _event(
                    "refused", {"reason": explained.reason, "rule": explained.rule, "words": explained.words}
                )
                return
            assert isinstance(item, sightings_pb2.Alert)
            yield _event("alert", as_json(item), item.resume_token)
    finally:
        stream.cancel()


async def alert_events(request: Request) -> Response:
    session = signed_in(request, OPERATOR, touch=False)
    resume = request.headers.get("last-event-id", "")
    if not _RESUME.match(resume):
        resume = ""
    return StreamingResponse(
        _events(request, session, resume),
        media_type="text/event-stream",
        headers={"x-accel-buffering": "no"},
    )


async def alert_ack(request: Request) -> Response:
    session, form = await posted(request, OPERATOR)
    name = form.get("alert")
    wants_json = "application/json" in request.headers.get("accept", "")
    if not _ALERT.match(name):
        return JSONResponse({"ok": False}, 400) if wants_json else see_other("/alerts/now")
    try:
        await call(session.client.ack_alert, name)
    except MatcherError as error:
        if not wants_json:
            raise
        explained = shown(error)
        return JSONResponse({"ok": False, "rule": explained.rule, "words": explained.words}, 409)
    return JSONResponse({"ok": True}) if wants_json else see_other("/alerts/now")


ROUTES = [
    Route("/alerts", alerts_page, methods=["GET"]),
    Route("/alerts/now", alerts_now, methods=["GET"]),
    Route("/alerts/events", alert_events, methods=["GET"]),
    Route("/alerts/ack", alert_ack, methods=["POST"]),
]
