"""The gRPC handlers of the matcher.v1 contract, built from its descriptors: admission by
construction, before a byte of the request is read.

Why not the generated ``add_*Servicer_to_server`` functions: they register each method with the
shape the contract gives it, so gRPC reads (and buffers) a unary request's whole body before any
of our code runs, and a handler that forgets a decorator is served without admission. Here every
method of every service in the contract is registered as a request-streaming handler over raw
bytes, so the behaviour below runs on the call's headers alone:

1. authenticate from the headers (or the verified certificate): an unauthenticated call is
   refused at once, its body never read, and its audit record is throttled per peer
   (:class:`FailureLedger`), so a flood costs neither memory nor a database write per call;
2. take a slot of the principal's share (:class:`Shares`): a principal may have at most so many
   calls and so many streams in flight, so sixteen stalled calls, or sixteen idle consoles, cannot
   occupy the service;
3. read the body, with a bound on how long it may take to arrive;
4. run the call's policy pipeline (:mod:`matcher.transport.calls`) on a worker thread; long-lived
   streams wait on the event loop, never on a worker.

A method of the contract without a declaration (``@rpc`` and friends) stops the server from
starting: nothing is served unadmitted.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from concurrent.futures import Executor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Protocol, TypeVar

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from lifecycle.audit import CALL_ORIGIN
from matcher.broadcast import Broadcast
from matcher.transport import calls, validation
from matcher.transport.auth import Credential, Failure
from matcher.transport.calls import Admitted, CallInfo, MethodSpec, Shape
from matcher.transport.errors import Refusal

if TYPE_CHECKING:
    from matcher.app import App

log = logging.getLogger(__name__)
# One line per call: its id, method, principal, status, reason code and duration; never a template,
# plate, label or reason text (the audit log holds reasons, under access control).
access_log = logging.getLogger("matcher.calls")
T = TypeVar("T")
EOF = grpc.aio.EOF


# --- shares of the service ---------------------------------------------------------------------


class Shares:
    """How many calls and streams each principal has in flight (touched on the event loop only)."""

    def __init__(self, max_calls: int, max_streams: int) -> None:
        self.max_calls = max_calls
        self.max_streams = max_streams
        self._calls: defaultdict[str, int] = defaultdict(int)
        self._streams: defaultdict[str, int] = defaultdict(int)

    def take(self, principal: str, stream: bool) -> bool:
        counts, limit = (self._streams, self.max_streams) if stream else (self._calls, self.max_calls)
        if counts[principal] >= limit:
            return False
        counts[principal] += 1
        return True

    def give_back(self, principal: str, stream: bool) -> None:
        counts = self._streams if stream else self._calls
        counts[principal] -= 1
        if counts[principal] <= 0:
            del counts[principal]


def too_many(stream: bool, limit: int) -> Refusal:
    what = "streams" if stream else "calls"
    return Refusal(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TOO_MANY_CALLS",
        f"you have {limit} {what} in flight, your share of the service; wait for one to finish",
    )


# --- failed authentications --------------------------------------------------------------------


def peer_host(peer: str) -> str:
    """``ipv4:10.0.0.9:5555`` -> ``ipv4:10.0.0.9`` (the port changes with every connection)."""
    return peer.rsplit(":", 1)[0] if peer.count(":") >= 2 else peer


@dataclass
class _Window:
    started: float
    recorded: int = 0
    suppressed: int = 0
    methods: set[str] = field(default_factory=set)


class FailureLedger:
    """Records failed authentications without letting a flood of them cost a write each.

    Per peer host and minute, the first ``per_window`` failures are recorded one by one (audit
    record, lockout count where the credential had an owner, notice to the designee: P11, P16);
    the rest are counted and recorded as one summary record when the minute ends. Recording runs
    on one background thread, so an unauthenticated caller never waits for, or occupies, a
    worker.
    """

    def __init__(self, app: App, per_window: int = 20, window_seconds: float = 60.0) -> None:
        self._app = app
        self._per_window = per_window
        self._window = window_seconds
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._queue: list[tuple[Credential, str, str, int]] = []
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auth-failures", daemon=True)
        self._thread.start()

    def note(self, credential: Credential, peer: str, action: str) -> None:
        host, now = peer_host(peer), time.monotonic()
        with self._lock:
            window = self._windows.get(host)
            if window is None or now - window.started >= self._window:
                self._flush_window(host, window)
                window = self._windows[host] = _Window(now)
            if window.recorded < self._per_window:
                window.recorded += 1
                self._queue.append((credential, peer, action, 1))
            else:
                window.suppressed += 1
                window.methods.add(action)
        self._wake.set()

    def _flush_window(self, host: str, window: _Window | None) -> None:
        if window is not None and window.suppressed:
            summary = Credential(None, Failure.NO_CREDENTIAL, None, "suppressed")
            self._queue.append((summary, host, ",".join(sorted(window.methods))[:64], window.suppressed))

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._window / 4)
            self._wake.clear()
            self._drain(close_all=False)

    def flush(self) -> None:
        """Records everything noted so far, summaries of open windows included (shutdown)."""
        self._drain(close_all=True)

    def _drain(self, *, close_all: bool) -> None:
        with self._drain_lock:
            now = time.monotonic()
            with self._lock:
                for host, window in list(self._windows.items()):
                    if close_all or now - window.started >= self._window:
                        self._flush_window(host, window)
                        del self._windows[host]
                batch, self._queue = self._queue, []
            for credential, peer, action, count in batch:
                try:
                    self._app.access.record_auth_failure(
                        credential.presented,
                        owner=credential.owner,
                        why=credential.failure.value if credential.failure else "",
                        peer=peer,
                        action=action,
                        count=count,
                    )
                except Exception as error:
                    calls.log_failure("recording a failed authentication", error)

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()


# --- feeds of server streams -------------------------------------------------------------------


@dataclass
class Feed(Generic[T]):
    """What a server-streaming method answers: messages to send at once, then live items.

    ``render`` turns a live item into this subscriber's message, or None when it is not for it;
    ``refill`` re-reads what may have been missed after the live queue overflowed (it runs on a
    worker thread); ``key`` identifies a message, so that one sent from the backlog or a refill
    is not sent again when it also arrives live (a bounded memory of recent keys).
    """

    backlog: list[Message]
    render: Callable[[T], Message | None]
    key: Callable[[Message], Hashable] | None = None
    refill: Callable[[], list[Message]] | None = None


class _Recent:
    """The keys of the last messages sent, bounded (a subscription may live for days)."""

    def __init__(self, key: Callable[[Message], Hashable] | None, size: int = 4096) -> None:
        self._key = key
        self._size = size
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def first_time(self, message: Message) -> bool:
        if self._key is None:
            return True
        key = self._key(message)
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True


class Session(Protocol):
    """What a client-streaming method answers: it takes the streamed items in batches."""

    def take(self, items: list[Message | Refusal]) -> None: ...

    def finish(self) -> Message: ...


# --- the handlers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """One method of the contract with its declaration and implementation."""

    service: str
    descriptor: MethodDescriptor
    spec: MethodSpec
    implementation: Callable[..., Any]
    request_type: type[Message]
    source: Callable[[App], Broadcast[Any]] | None


class Dispatcher:
    """Builds and serves every method of the given services."""

    def __init__(self, app: App, executor: Executor) -> None:
        self.app = app
        self.executor = executor
        settings = app.settings
        self.shares = Shares(settings.max_calls_per_principal, settings.max_streams_per_principal)
        self.failures = FailureLedger(app)
        self.body_timeout = settings.request_body_timeout_seconds
        self.stream_item_limit = settings.max_message_bytes

    def handlers(self, services: Iterable[tuple[ServiceDescriptor, object]]) -> list[grpc.GenericRpcHandler]:
        """The generic handlers of the services; raises when a method has no declaration."""
        generic = []
        missing = []
        for descriptor, servicer in services:
            methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
            for method in descriptor.methods:
                implementation = getattr(servicer, method.name, None)
                spec = calls.spec_of(implementation)
                if implementation is None or spec is None:
                    missing.append(method.full_name)
                    continue
                bound = Bound(
                    descriptor.full_name,
                    method,
                    spec,
                    implementation,
                    message_factory.GetMessageClass(method.input_type),
                    getattr(implementation, "__matcher_feed_source__", None),
                )
                methods[method.name] = self._handler(bound)
            generic.append(grpc.method_handlers_generic_handler(descriptor.full_name, methods))
        if missing:
            raise RuntimeError(
                "methods of the contract without an admission declaration: " + ", ".join(missing)
            )
        return generic

    def _handler(self, bound: Bound) -> grpc.RpcMethodHandler[Any, Any]:
        shape = bound.spec.shape
        if shape is Shape.SERVER_STREAM:
            return grpc.stream_stream_rpc_method_handler(
                self._accounted_stream(bound, self._server_stream(bound)), response_serializer=_serialize
            )
        behaviour = self._client_stream(bound) if shape is Shape.CLIENT_STREAM else self._unary(bound)
        return grpc.stream_unary_rpc_method_handler(
            self._accounted(bound, behaviour), response_serializer=_serialize
        )

    # --- accounting: metrics and the access log ----------------------------------------------

    def _accounted(self, bound: Bound, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def accounted(
            requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
        ) -> Any:
            call = _Call.start(bound.descriptor.name)
            try:
                return await behaviour(requests, context)
            except asyncio.CancelledError:
                call.cancelled()
                raise
            finally:
                self._account(call)

        return accounted

    def _accounted_stream(self, bound: Bound, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def accounted(
            requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Message]:
            call = _Call.start(bound.descriptor.name)
            try:
                async for message in behaviour(requests, context):
                    yield message
            except (asyncio.CancelledError, GeneratorExit):
                call.cancelled()
                raise
            finally:
                self._account(call)

        return accounted

    def _account(self, call: _Call) -> None:
        seconds = time.perf_counter() - call.started
        self.app.metrics.observe_call(call.method, call.code, call.reason, seconds)
        access_log.info(
            "%s %s %s %s %.1f ms",
            call.method,
            call.principal or "-",
            call.code,
            call.reason or "-",
            seconds * 1000,
            extra={
                "call_id": call.id,
                "method": call.method,
                "principal": call.principal or "",
                "status": call.code,
                "reason": call.reason,
                "duration_ms": round(seconds * 1000, 3),
            },
        )

    # --- shared steps ----------------------------------------------------------------------

    async def _principal(self, bound: Bound, context: grpc.aio.ServicerContext[Any, Any]) -> str:
        """Step 1: the authenticated principal, or the call ends here (body unread)."""
        credential = self.app.auth.authenticate(context.invocation_metadata() or (), context)
        if credential.principal is None:
            self.failures.note(credential, context.peer(), bound.spec.action)
            await _abort(context, calls.unauthenticated())
        assert credential.principal is not None
        call = _CALL.get(None)
        if call is not None:
            call.principal = credential.principal
        return credential.principal

    async def _read(self, context: grpc.aio.ServicerContext[Any, Any]) -> bytes | None:
        """Step 3: the next message of the call, or None at the end of the stream."""
        try:
            raw = await asyncio.wait_for(context.read(), self.body_timeout)
        except TimeoutError:
            await _abort(
                context,
                Refusal(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    "REQUEST_BODY_TIMEOUT",
                    f"the request's body did not arrive within {self.body_timeout:g} s of its headers",
                ),
            )
        return None if raw is EOF else bytes(raw)

    async def _work(self, function: Callable[..., T], *args: Any) -> T:
        """Runs policy work on a worker thread, with the caller's context variables."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self.executor, context.run, function, *args)

    async def _guarded(
        self, bound: Bound, principal: str, function: Callable[..., T], *args: Any
    ) -> T | Refusal:
        """Like :meth:`_work`; a failure that escaped the pipeline is logged without its payload,
        audited and answered INTERNAL, never left to gRPC (which would log its traceback)."""
        try:
            return await self._work(function, *args)
        except Exception as error:
            return await self._work(calls.failure, self.app, principal, bound.spec.action, "?", "", error)

    def _info(self, principal: str, context: grpc.aio.ServicerContext[Any, Any], size: int) -> CallInfo:
        return CallInfo(principal, context.peer(), context.time_remaining(), size)

    # --- unary -----------------------------------------------------------------------------

    def _unary(self, bound: Bound) -> Callable[..., Any]:
        async def behaviour(
            requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
        ) -> Message:
            principal = await self._principal(bound, context)
            if not self.shares.take(principal, stream=False):
                await _abort(context, too_many(False, self.shares.max_calls))
            try:
                raw = await self._read(context) or b""
                info = self._info(principal, context, len(raw))
                outcome = await self._guarded(
                    bound,
                    principal,
                    calls.serve_unary,
                    self.app,
                    bound.spec,
                    bound.implementation,
                    info,
                    raw,
                    bound.request_type,
                )
            finally:
                self.shares.give_back(principal, stream=False)
            if isinstance(outcome, Refusal):
                await _abort(context, outcome)
            return outcome

        return behaviour

    # --- server streams --------------------------------------------------------------------

    def _server_stream(self, bound: Bound) -> Callable[..., Any]:
        assert bound.source is not None, f"{bound.descriptor.full_name} names no live source"
        source = bound.source

        async def behaviour(
            requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Message]:
            principal = await self._principal(bound, context)
            if not self.shares.take(principal, stream=True):
                await _abort(context, too_many(True, self.shares.max_streams))
            hub = source(self.app)
            subscription = None
            # Whatever fails from here on (the request, a refusal, the method, the stream), the
            # ``finally`` unregisters the subscription and gives the share back: none outlives
            # its call (issue 10).
            try:
                subscription = hub.subscribe()  # Before the backlog is read: nothing falls between.
                raw = await self._read(context) or b""
                info = self._info(principal, context, len(raw))
                outcome = await self._guarded(bound, principal, self._open_feed, bound, info, raw)
                if isinstance(outcome, Refusal):
                    await _abort(context, outcome)
                assert isinstance(outcome, Feed)
                recent = _Recent(outcome.key)
                for message in outcome.backlog:
                    if recent.first_time(message):
                        yield message
                while True:
                    item = await subscription.next()
                    if subscription.overflowed and outcome.refill is not None:
                        subscription.overflowed = False  # Live items were dropped: re-read.
                        for message in await self._work(outcome.refill):
                            if recent.first_time(message):
                                yield message
                    live = outcome.render(item)
                    if live is not None and recent.first_time(live):
                        yield live
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as error:  # A failure while streaming is audited like a unary one.
                refusal = await self._work(
                    calls.failure, self.app, principal, bound.spec.action, "?", "", error
                )
                await _abort(context, refusal)
            finally:
                if subscription is not None:
                    hub.unsubscribe(subscription)
                self.shares.give_back(principal, stream=True)

        return behaviour

    def _open_feed(self, bound: Bound, info: CallInfo, raw: bytes) -> Feed[Any] | Refusal:
        origin = CALL_ORIGIN.set(info.peer)
        try:
            admitted = calls.admit(
                self.app, bound.spec, info, calls.parse(bound.request_type, raw), bound.request_type
            )
            if isinstance(admitted, Refusal):
                return admitted
            request = admitted.request
            return calls.run_method(
                self.app, bound.spec, info, admitted, lambda: bound.implementation(request, info.principal)
            )
        finally:
            CALL_ORIGIN.reset(origin)

    # --- client streams --------------------------------------------------------------------

    def _client_stream(self, bound: Bound) -> Callable[..., Any]:
        async def behaviour(
            requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
        ) -> Message:
            principal = await self._principal(bound, context)
            if not self.shares.take(principal, stream=True):
                await _abort(context, too_many(True, self.shares.max_streams))
            try:
                info = self._info(principal, context, 0)
                opened = await self._guarded(bound, principal, self._open_session, bound, info)
                if isinstance(opened, Refusal):
                    await _abort(context, opened)
                assert not isinstance(opened, Refusal)
                admitted, session = opened
                pending: asyncio.Queue[bytes | None] = asyncio.Queue(256)
                reader = asyncio.ensure_future(self._pump(context, pending))
                try:
                    while True:
                        first = await pending.get()
                        batch = [first]
                        while not pending.empty() and len(batch) < 64:
                            batch.append(pending.get_nowait())
                        items = [raw for raw in batch if raw is not None]
                        if items:
                            outcome = await self._guarded(
                                bound, principal, self._take, bound, info, admitted, session, items
                            )
                            if isinstance(outcome, Refusal):
                                await _abort(context, outcome)
                        if None in batch:
                            break
                    result: Message | Refusal = await self._guarded(
                        bound,
                        principal,
                        calls.run_method,
                        self.app,
                        bound.spec,
                        info,
                        admitted,
                        session.finish,
                    )
                finally:
                    reader.cancel()
            finally:
                self.shares.give_back(principal, stream=True)
            if isinstance(result, Refusal):
                await _abort(context, result)
            return result

        return behaviour

    async def _pump(
        self, context: grpc.aio.ServicerContext[Any, Any], pending: asyncio.Queue[bytes | None]
    ) -> None:
        """Reads the stream's items as they come, so that a batch forms while one is processed."""
        while True:
            raw = await context.read()
            if raw is EOF:
                await pending.put(None)
                return
            await pending.put(bytes(raw))

    def _open_session(self, bound: Bound, info: CallInfo) -> tuple[Admitted, Session] | Refusal:
        origin = CALL_ORIGIN.set(info.peer)
        try:
            admitted = calls.admit(self.app, bound.spec, info, bound.request_type(), bound.request_type)
            if isinstance(admitted, Refusal):
                return admitted
            session = calls.run_method(
                self.app, bound.spec, info, admitted, lambda: bound.implementation(info.principal)
            )
            if isinstance(session, Refusal):
                return session
            return admitted, session
        finally:
            CALL_ORIGIN.reset(origin)

    def _take(
        self, bound: Bound, info: CallInfo, admitted: Admitted, session: Session, batch: list[bytes]
    ) -> Refusal | None:
        origin = CALL_ORIGIN.set(info.peer)
        try:
            items: list[Message | Refusal] = []
            for raw in batch:
                if len(raw) > self.stream_item_limit:
                    items.append(
                        Refusal(
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            "MESSAGE_TOO_LARGE",
                            f"an item is at most {self.stream_item_limit} bytes",
                        )
                    )
                    continue
                item = calls.parse(bound.request_type, raw)
                problem = None if item is None else validation.problem(item)
                if item is None or problem is not None:
                    items.append(
                        Refusal(
                            grpc.StatusCode.INVALID_ARGUMENT,
                            "REQUEST_MALFORMED" if item is None else "FIELD_INVALID",
                            problem or f"an item is not a valid {bound.request_type.DESCRIPTOR.full_name}",
                        )
                    )
                    continue
                items.append(item)
            outcome = calls.run_method(self.app, bound.spec, info, admitted, lambda: session.take(items))
            return outcome if isinstance(outcome, Refusal) else None
        finally:
            CALL_ORIGIN.reset(origin)


@dataclass
class _Call:
    """What the access log and the metrics say of one call (never its content, P8)."""

    id: str
    method: str
    started: float
    principal: str = ""
    code: str = "OK"
    reason: str = ""

    @classmethod
    def start(cls, method: str) -> _Call:
        call = cls(secrets.token_hex(8), method, time.perf_counter())
        _CALL.set(call)
        return call

    def cancelled(self) -> None:
        if self.code == "OK":
            self.code = "CANCELLED"


_CALL: ContextVar[_Call] = ContextVar("matcher_call")


def feed_source(source: Callable[[App], Broadcast[Any]]) -> Callable[[T], T]:
    """Names the live source a server-streaming method's feed draws from."""

    def decorate(method: T) -> T:
        setattr(method, "__matcher_feed_source__", source)  # noqa: B010
        return method

    return decorate


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


async def _abort(context: grpc.aio.ServicerContext[Any, Any], refusal: Refusal) -> NoReturn:
    """Ends the call with the refusal's status and error details (``abort`` always raises)."""
    call = _CALL.get(None)
    if call is not None:
        call.code, call.reason = refusal.code.name, refusal.reason
    status = refusal.to_status()
    await context.abort(status.code, status.details, status.trailing_metadata)
    raise AssertionError("grpc.aio's abort returned")


__all__ = ["Dispatcher", "FailureLedger", "Feed", "Session", "Shares", "feed_source"]
