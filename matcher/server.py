"""The service process: the asyncio gRPC server, start-up order, health, and shutdown.

Why asyncio: with a thread per call, sixteen calls that sent headers and no body, or sixteen idle
alert consoles, held all sixteen workers, and every call and the health check timed out. Here
calls wait for their bodies and streams wait for their next item on one event loop, costing a
coroutine each; worker threads run only policy work (database, FAISS, inference), which always
ends. See :mod:`matcher.transport.dispatch` for the admission that runs before a body is read.

Start-up order matters for the policy: the gRPC port opens first with health NOT_SERVING (so an
orchestrator sees a live process) and every call answered UNAVAILABLE; then every pending purge
that no legal hold suspends is finished; then the galleries are rebuilt from the database with
only what may be matched; only then does health report SERVING (decision 4). A crash therefore
never brings back data whose legal basis ended.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent import futures
from types import FrameType
from typing import Any, TypeVar, cast

import faiss
import grpc
import prometheus_client
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from lifecycle.clock import Clock
from lifecycle.schema import SchemaError
from matcher import tls
from matcher.app import App, build_app, prepare
from matcher.config import Settings
from matcher.crypto import KeyringError
from matcher.model_loading import Unavailable
from matcher.process_memory import harden, scrub_status
from matcher.single_instance import AlreadyServing
from matcher.transport.access_service import AccessService
from matcher.transport.audit_service import AuditService
from matcher.transport.case_service import CaseService
from matcher.transport.dispatch import Dispatcher, FailureLedger, peer_host
from matcher.transport.face_service import FaceService
from matcher.transport.governance_service import GovernanceService
from matcher.transport.plate_service import PlateService
from matcher.transport.presence_service import PresenceService
from matcher.transport.registry_service import RegistryService
from matcher.transport.sighting_service import AlertService, SightingService
from matcher.v1 import (
    access_pb2,
    audit_pb2,
    cases_pb2,
    faces_pb2,
    governance_pb2,
    plates_pb2,
    presence_pb2,
    registry_pb2,
    sightings_pb2,
)

log = logging.getLogger("matcher")
T = TypeVar("T")
SERVICES = (
    (cases_pb2, "CaseService", CaseService),
    (faces_pb2, "FaceService", FaceService),
    (plates_pb2, "PlateService", PlateService),
    (audit_pb2, "AuditService", AuditService),
    (access_pb2, "AccessService", AccessService),
    (registry_pb2, "RegistryService", RegistryService),
    (governance_pb2, "GovernanceService", GovernanceService),
    (sightings_pb2, "SightingService", SightingService),
    (sightings_pb2, "AlertService", AlertService),
    (presence_pb2, "PresenceService", PresenceService),
)
SERVICE_NAMES = tuple(module.DESCRIPTOR.services_by_name[name].full_name for module, name, _ in SERVICES)
FACES, PLATES, PRESENCE = "matcher.v1.FaceService", "matcher.v1.PlateService", "matcher.v1.PresenceService"
LIVENESS = "liveness"
_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class OpenServiceLimit(grpc.aio.ServerInterceptor):
    """Bounds the unauthenticated services (health checking and reflection).

    They answer anyone, so what they may hold is bounded: at most ``per_host`` calls in flight
    per peer host and ``total`` in all; beyond that a call is refused RESOURCE_EXHAUSTED at once.
    A stalled reflection stream is a coroutine here, not a worker, so the bound is about memory.
    """

    def __init__(self, per_host: int, total: int) -> None:
        self._per_host = per_host
        self._total = total
        self._by_host: defaultdict[str, int] = defaultdict(int)
        self._all = 0

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(_OPEN_PREFIXES):
            return handler
        return _bounded_handler(handler, self)

    def enter(self, peer: str) -> bool:
        host = peer_host(peer)
        if self._all >= self._total or self._by_host[host] >= self._per_host:
            return False
        self._all += 1
        self._by_host[host] += 1
        return True

    def leave(self, peer: str) -> None:
        host = peer_host(peer)
        self._all -= 1
        self._by_host[host] -= 1
        if self._by_host[host] <= 0:
            del self._by_host[host]


def _bounded_handler(
    handler: grpc.RpcMethodHandler[Any, Any], limit: OpenServiceLimit
) -> grpc.RpcMethodHandler[Any, Any]:
    async def refuse(context: Any) -> None:
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many open health or reflection calls")

    if handler.unary_unary is not None:
        inner = handler.unary_unary

        async def unary(request: Any, context: Any) -> Any:
            if not limit.enter(context.peer()):
                await refuse(context)
            try:
                return await inner(request, context)
            finally:
                limit.leave(context.peer())

        return grpc.unary_unary_rpc_method_handler(
            unary, handler.request_deserializer, handler.response_serializer
        )
    # The stubs type RpcMethodHandler for the threaded server (behaviours return Iterator); under
    # grpc.aio the health and reflection behaviours are async generators.
    streaming = cast(
        "Callable[[Any, Any], AsyncIterator[Any]] | None", handler.unary_stream or handler.stream_stream
    )
    assert streaming is not None

    async def stream(request: Any, context: Any) -> Any:
        if not limit.enter(context.peer()):
            await refuse(context)
        try:
            async for item in streaming(request, context):
                yield item
        finally:
            limit.leave(context.peer())

    make = (
        grpc.unary_stream_rpc_method_handler
        if handler.unary_stream is not None
        else grpc.stream_stream_rpc_method_handler
    )
    return make(stream, handler.request_deserializer, handler.response_serializer)


def worker_pool(workers: int, faiss_threads: int) -> futures.ThreadPoolExecutor:
    """The threads that do the policy work and the searches.

    OpenMP's thread count is per thread: each worker sets its own, or it would search with every
    core (benchmarks/threads.py measures what these workers see, and the report's finding is
    computed from that measurement).
    """
    return futures.ThreadPoolExecutor(
        max_workers=workers,
        thread_name_prefix="matcher-worker",
        initializer=faiss.omp_set_num_threads,
        initargs=(faiss_threads,),
    )


class Service:
    """The gRPC server on its own event loop thread, driven from ordinary (synchronous) code.

    ``start`` opens the port (health NOT_SERVING), ``serving`` flips health to SERVING once
    :func:`matcher.app.prepare` is done, ``stop`` drains and closes. Tests run it in process.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        settings = app.settings
        self.executor = worker_pool(settings.grpc_workers, settings.faiss_threads)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="grpc-loop", daemon=True)
        self._thread.start()
        self.dispatcher: Dispatcher | None = None
        self._health: health.aio.HealthServicer | None = None
        self._server: grpc.aio.Server | None = None
        self.port = self._run(self._build())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _build(self) -> int:
        app, settings = self.app, self.app.settings
        # Slightly above the service's own limit, so that an oversized request reaches the
        # handler, which refuses it with a reason and an audit record; beyond, gRPC drops it.
        limit = settings.max_message_bytes + 1024 * 1024
        server = grpc.aio.server(
            interceptors=[OpenServiceLimit(settings.max_open_calls_per_host, settings.max_open_calls)],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.max_concurrent_streams", settings.max_streams_per_connection),
                # Without BDP probing a stream's receive window stays at HTTP/2's 64 KiB, so what
                # a caller can push before its headers are even looked at is bounded (100 x 17 MiB
                # unauthenticated uploads: 3 MiB held, against 233 MiB with probing). The cost is
                # upload speed on long round trips (64 KiB per round trip); see README.
                ("grpc.http2.bdp_probe", 1 if settings.http2_bdp_probe else 0),
                # Two servers on one port would split calls between two in-memory galleries.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.dispatcher = Dispatcher(app, self.executor)
        services = [
            (module.DESCRIPTOR.services_by_name[name], servicer(app)) for module, name, servicer in SERVICES
        ]
        server.add_generic_rpc_handlers(self.dispatcher.handlers(services))
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        for name, _ in self.health_statuses(serving=False):
            await self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        try:
            if settings.tls_enabled:
                assert settings.tls_cert and settings.tls_key and settings.tls_client_ca
                credentials = tls.server_credentials(
                    settings.tls_cert, settings.tls_key, settings.tls_client_ca
                )
                port = server.add_secure_port(settings.listen, credentials)
            else:
                port = server.add_insecure_port(settings.listen)
        except RuntimeError:
            port = 0
        if port == 0:
            raise StartError(f"cannot listen on {settings.listen}: the address is in use or not this host's")
        await server.start()
        self._server = server
        return int(port)

    def health_statuses(self, *, serving: bool) -> list[tuple[str, bool]]:
        """What health checking says, by name (grpc.health.v1 takes any service name).

        ``""`` is readiness: SERVING only once pending purges are finished and the galleries are
        rebuilt; ``liveness`` is SERVING as soon as the port is open (an orchestrator restarts a
        process that is not alive, and waits for one that is not ready). A service whose models
        are missing is NOT_SERVING as a whole, and its part that needs no model says so by name:
        ``matcher.v1.FaceService/embeddings``, ``matcher.v1.PlateService/texts``,
        ``matcher.v1.PresenceService/emergencies`` (the presence count needs the face detector).
        """
        faces = not isinstance(self.app.pipeline, Unavailable)
        plates = not isinstance(self.app.plate_reader, Unavailable)
        statuses = [("", serving)]
        for name in SERVICE_NAMES:
            whole = faces if name in (FACES, PRESENCE) else plates if name == PLATES else True
            statuses.append((name, serving and whole))
        statuses += [
            (f"{FACES}/embeddings", serving),
            (f"{PLATES}/texts", serving),
            (f"{PRESENCE}/emergencies", serving),
        ]
        return statuses

    @property
    def failures(self) -> FailureLedger:
        assert self.dispatcher is not None
        return self.dispatcher.failures

    def serving(self) -> None:
        """Health reports SERVING for the service and every one of its services."""

        async def flip() -> None:
            assert self._health is not None
            for name, up in self.health_statuses(serving=True):
                status = (
                    health_pb2.HealthCheckResponse.SERVING
                    if up
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                await self._health.set(name, status)

        self._run(flip())

    def stop(self, grace: float | None = 5.0) -> None:
        """Stops taking calls, lets running ones finish for ``grace`` seconds, and closes."""

        async def halt() -> None:
            assert self._server is not None and self._health is not None
            await self._health.enter_graceful_shutdown()
            await self._server.stop(grace)
            # Calls still waiting (for a body, for their next alert) end here, inside the loop,
            # rather than being destroyed pending when it closes.
            current = asyncio.current_task()
            waiting = [task for task in asyncio.all_tasks() if task is not current]
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            await self._loop.shutdown_asyncgens()

        try:
            self._run(halt())
        finally:
            if self.dispatcher is not None:
                self.dispatcher.failures.stop()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self.executor.shutdown(wait=True, cancel_futures=False)


def start(app: App) -> Service:
    """Opens the port, finishes due purges and rebuilds the galleries, then reports SERVING."""
    service = Service(app)
    log.info(
        "listening on %s (port %d); finishing pending purges before serving",
        app.settings.listen,
        service.port,
    )
    prepare(app)
    service.serving()
    log.info("SERVING")
    return service


class StartError(Exception):
    """The service cannot start; the message names the problem and its fix, in one line."""


def _built(settings: Settings, clock: Clock | None) -> App:
    """``build_app``, with each failure an operator can fix said in one line."""
    problem = settings.plate_setting_problem()
    if problem is not None:
        raise StartError(problem)
    try:
        return build_app(settings, clock)
    except KeyringError as error:
        raise StartError(f"{error}; fix the key file or MATCHER_KEK (see README, Configuration)") from None
    except OSError as error:
        raise StartError(
            f"cannot read {error.filename} ({error.strerror}): it must be a file the service's user "
            "can read (mode 0600 for key files)"
        ) from None
    except (AlreadyServing, SchemaError) as error:
        raise StartError(str(error)) from None
    except OperationalError:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise StartError(
            f"cannot reach the database at {where}: check that it runs and that --database-url is right"
        ) from None


def _serve_metrics(app: App) -> None:
    address = app.settings.metrics_listen
    if not address:
        return
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise StartError(f"--metrics-listen {address!r} is not HOST:PORT")
    try:
        prometheus_client.start_http_server(
            int(port), addr=host or "127.0.0.1", registry=app.metrics.registry
        )
    except OSError as error:
        raise StartError(
            f"cannot serve metrics on {address} ({error.strerror}): choose a free --metrics-listen port"
        ) from None
    log.info("metrics on http://%s/metrics", address)


def serve(settings: Settings, clock: Clock | None = None) -> None:
    """Runs the service until SIGINT or SIGTERM (``clock``: tests/serve_for_tests.py only)."""
    for done, measure in [scrub_status(), *harden()]:
        log.log(logging.INFO if done else logging.WARNING, "memory: %s", measure)
    faiss.omp_set_num_threads(settings.faiss_threads)
    app = _built(settings, clock)
    try:
        _serve_metrics(app)
        service = start(app)
    except BaseException:
        app.close()
        raise
    stopped = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    service.stop(grace=5)
    app.close()
