"""Alert and notice subscriptions end with their call, whatever step fails (P5, P16; issue 10).

A server stream subscribes to its live source *before* it reads the backlog (so nothing falls
between the two) and only then runs the method; a step that fails in between (a refusal, a bad
resume token, a database error) once left the subscription registered for the life of the
process. Counted here on the real hubs of a real server (``Broadcast.watchers``), after real
failing calls. And the memory of what a stream sent, so as not to send it twice, is bounded.
"""

from __future__ import annotations

import threading

import grpc
import pytest
from sqlalchemy import text

from matcher.broadcast import Broadcast
from matcher.client import MatcherError
from matcher.transport.dispatch import _Recent
from tests.conftest import Harness, wait_until


def _watchers(h: Harness) -> tuple[int, int]:
    return h.app.individuals.hub.watchers(), h.app.notices.watchers()


def _refused(call: object) -> MatcherError:
    with pytest.raises(MatcherError) as error:
        list(call())  # type: ignore[operator]
    return error.value


def test_P5_P16_refused_subscriptions_leave_no_subscriber(harness: Harness) -> None:
    h = harness
    assert _watchers(h) == (0, 0)
    investigator, operator = h.as_("local-investigator"), h.as_("local-operator")
    for _ in range(3):
        denied = _refused(lambda: investigator.subscribe_alerts(timeout=5))
        assert denied.code == grpc.StatusCode.PERMISSION_DENIED
        denied = _refused(lambda: investigator.watch_notices(timeout=5))
        assert denied.code == grpc.StatusCode.PERMISSION_DENIED
        bad = _refused(lambda: operator.subscribe_alerts("not-a-token", timeout=5))
        assert (bad.code, bad.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "PAGE_TOKEN_INVALID")
    assert wait_until(lambda: _watchers(h) == (0, 0)), f"subscriptions leaked: {_watchers(h)}"


def test_P5_a_failure_inside_the_method_leaves_no_subscriber(harness: Harness) -> None:
    """A real failure of the step between subscribing and streaming: the backlog cannot be read."""
    h = harness
    if h.backend != "sqlite":
        pytest.skip("breaks the database on purpose: the SQLite file is the test's own")
    operator = h.as_("local-operator")
    with h.app.db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE alert_acks RENAME TO alert_acks_gone"))
    try:
        failed = _refused(lambda: operator.subscribe_alerts(timeout=5))
        assert failed.code == grpc.StatusCode.INTERNAL
        assert wait_until(lambda: _watchers(h) == (0, 0)), f"subscription leaked: {_watchers(h)}"
    finally:
        with h.app.db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE alert_acks_gone RENAME TO alert_acks"))


def test_P5_P16_streams_that_end_or_are_cancelled_unsubscribe(harness: Harness) -> None:
    h = harness
    operator, admin = h.as_("local-operator"), h.as_("local-admin")
    streams = [operator.alert_stream(timeout=30) for _ in range(3)]
    readers = [threading.Thread(target=lambda s=s: list(s)) for s in streams]
    for reader in readers:
        reader.start()
    notices = threading.Thread(target=lambda: list(admin.watch_notices(timeout=1.0)))
    notices.start()
    assert wait_until(lambda: _watchers(h) == (3, 1))
    for stream in streams:
        stream.cancel()
    for thread in (*readers, notices):
        thread.join(timeout=10)
    assert wait_until(lambda: _watchers(h) == (0, 0)), f"subscriptions leaked: {_watchers(h)}"


def test_the_memory_of_sent_messages_is_bounded() -> None:
    """A stream lives for days: what it remembers to avoid duplicates must not grow with it."""
    recent = _Recent(lambda message: message, size=100)
    assert all(recent.first_time(n) for n in range(100_000))  # type: ignore[arg-type]
    assert len(recent._keys) == 100
    assert not recent.first_time(99_999)  # type: ignore[arg-type]  # a recent one is not sent again
    assert recent.first_time(0)  # type: ignore[arg-type]  # long forgotten: at least once, never lost


def test_an_unsubscribed_watcher_is_gone_from_its_hub() -> None:
    import asyncio

    hub: Broadcast[int] = Broadcast()

    async def scenario() -> int:
        watcher = hub.subscribe()
        hub.unsubscribe(watcher)
        hub.unsubscribe(watcher)  # twice is harmless
        return hub.watchers()

    assert asyncio.run(scenario()) == 0
