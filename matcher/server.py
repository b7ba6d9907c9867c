"""The service process: start-up order, health, and shutdown.

Start-up order matters for the policy: the gRPC port opens first with health NOT_SERVING (so an
orchestrator sees a live process) and every call answered UNAVAILABLE; then every pending purge
that no legal hold suspends is finished; then the galleries are rebuilt from the database with
only what may be matched; only then does health report SERVING (decision 4). A crash therefore
never brings back data whose legal basis ended.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType

import faiss
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from lifecycle.access import AccessControl, Notice
from lifecycle.audit import AuditLog
from lifecycle.cases import Lifecycle
from lifecycle.clock import Clock, FileClock, SystemClock
from lifecycle.db import Database
from lifecycle.disclosure import DisclosureDecider
from lifecycle.orders import Registry
from lifecycle.purge import PurgeWorker
from lifecycle.waivers import WaiverRegistry
from matcher import local_principals, single_instance, tls
from matcher.broadcast import AlertView, Broadcast
from matcher.config import Settings
from matcher.crypto import KeyRing
from matcher.face_matching import FaceMatcher
from matcher.faces import FacePipeline
from matcher.keys import ScopeKeys
from matcher.model_loading import Unavailable, load_pipeline, load_plate_reader
from matcher.plate_watchlists import PlateWatchlists
from matcher.plates.reader import PlateReader
from matcher.registered_individuals import RegisteredIndividuals
from matcher.transport.access_service import AccessService
from matcher.transport.audit_service import AuditService
from matcher.transport.auth import Authenticator
from matcher.transport.case_service import CaseService
from matcher.transport.face_service import FaceService
from matcher.transport.governance_service import GovernanceService
from matcher.transport.plate_service import PlateService
from matcher.transport.registry_service import RegistryService
from matcher.transport.sighting_service import AlertService, SightingService
from matcher.v1 import (
    access_pb2,
    access_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    cases_pb2,
    cases_pb2_grpc,
    faces_pb2,
    faces_pb2_grpc,
    governance_pb2,
    governance_pb2_grpc,
    plates_pb2,
    plates_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    sightings_pb2,
    sightings_pb2_grpc,
)

log = logging.getLogger("matcher")
SERVICE_NAMES = (
    cases_pb2.DESCRIPTOR.services_by_name["CaseService"].full_name,
    faces_pb2.DESCRIPTOR.services_by_name["FaceService"].full_name,
    plates_pb2.DESCRIPTOR.services_by_name["PlateService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    access_pb2.DESCRIPTOR.services_by_name["AccessService"].full_name,
    registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
    governance_pb2.DESCRIPTOR.services_by_name["GovernanceService"].full_name,
    sightings_pb2.DESCRIPTOR.services_by_name["SightingService"].full_name,
    sightings_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name,
)


@dataclass
class App:
    """Everything the servicers share."""

    settings: Settings
    clock: Clock
    db: Database
    lifecycle: Lifecycle
    faces: FaceMatcher
    plates: PlateWatchlists
    individuals: RegisteredIndividuals
    disclosures: DisclosureDecider
    waivers: WaiverRegistry
    notices: Broadcast[Notice]
    worker: PurgeWorker
    auth: Authenticator
    access: AccessControl
    pipeline: FacePipeline | Unavailable
    plate_reader: PlateReader | Unavailable
    default_face_model: str
    instance: single_instance.InstanceLock
    ready: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        """Stops the worker and releases the database (and the single-instance lock)."""
        self.worker.stop()
        self.lifecycle.audit.flush()
        self.instance.release()
        self.db.dispose()


def build_app(settings: Settings, clock: Clock | None = None) -> App:
    settings.resolved()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if clock is None:
        if settings.clock_file is not None:
            log.warning("clock read from %s: for tests only, never in production", settings.clock_file)
            clock = FileClock(settings.clock_file)
        else:
            clock = SystemClock()
    assert settings.kek_file is not None
    keyring = KeyRing.load(settings.kek_file)
    db = Database(settings.database_url)
    instance = single_instance.acquire(db.engine, settings.data_dir)
    audit = AuditLog(db, clock, keyring.derive("matcher audit chain v1"), settings.audit_anchor_file)
    lifecycle = Lifecycle(db, clock, audit)
    pipeline = load_pipeline(settings)
    models = dict(settings.face_models)
    default_model = settings.default_face_model
    if isinstance(pipeline, FacePipeline):
        # Templates record the model that made them; the pipeline's model becomes the default.
        models[pipeline.model_id] = pipeline.recognizer.embedding_dim
        default_model = pipeline.model_id
    keys = ScopeKeys(keyring, clock)
    faces = FaceMatcher(lifecycle, keys, models)
    plates = PlateWatchlists(lifecycle, keys)
    individuals = RegisteredIndividuals(
        lifecycle,
        Registry(lifecycle),
        keys,
        faces,
        Broadcast[AlertView](),
        alert_min_score=settings.alert_min_score,
        max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds),
    )
    worker = PurgeWorker(lifecycle)
    auth = Authenticator(settings.tokens_file, tls_enabled=settings.tls_enabled)
    access = AccessControl(db, clock, audit)
    notices: Broadcast[Notice] = Broadcast()
    access.on_notice(lambda notice: notices.publish([notice]))  # P16: at once, to the designee
    local_principals.bootstrap(settings, access, auth)
    plate_reader = load_plate_reader(settings)
    return App(
        settings,
        clock,
        db,
        lifecycle,
        faces,
        plates,
        individuals,
        DisclosureDecider(db, clock, audit),
        WaiverRegistry(db, clock, audit),
        notices,
        worker,
        auth,
        access,
        pipeline,
        plate_reader,
        default_model,
        instance,
    )


def prepare(app: App) -> None:
    """Finishes due purges, rebuilds the galleries, then opens for business."""
    next_due = app.worker.run_due()
    if next_due is not None:
        log.info("purges suspended by legal holds; next falls due at %s", next_due.isoformat())
    loaded = app.faces.rebuild()
    for model, count in app.faces.unserved_models().items():
        log.warning(
            "%d stored templates were made by model %r, which is not configured: they are not "
            "matched; configure the model again or re-enrol those subjects",
            count,
            model,
        )
    plates = app.plates.rebuild()
    orders = app.individuals.rebuild()
    log.info(
        "galleries rebuilt: %d face templates, %d watchlist plates and %d order templates matchable",
        loaded,
        plates,
        orders,
    )
    app.worker.start()
    app.ready.set()


def make_server(app: App) -> tuple[grpc.Server, health.HealthServicer, int]:
    # Slightly above the service's own limit, so that an oversized request reaches the handler,
    # which refuses it with a reason and an audit record; far beyond, gRPC drops it itself.
    limit = app.settings.max_message_bytes + 1024 * 1024
    # OpenMP's thread count is per thread: each gRPC worker sets its own, or it would search with
    # every core (measured in benchmarks/threads.py: 0.47-0.79x the speed of one thread).
    pool = futures.ThreadPoolExecutor(
        max_workers=app.settings.grpc_workers,
        initializer=faiss.omp_set_num_threads,
        initargs=(app.settings.faiss_threads,),
    )
    server = grpc.server(
        pool,
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            # Two servers on one port would split calls between two different in-memory galleries.
            ("grpc.so_reuseport", 0),
        ],
    )
    cases_pb2_grpc.add_CaseServiceServicer_to_server(CaseService(app), server)
    faces_pb2_grpc.add_FaceServiceServicer_to_server(FaceService(app), server)
    plates_pb2_grpc.add_PlateServiceServicer_to_server(PlateService(app), server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditService(app), server)
    access_pb2_grpc.add_AccessServiceServicer_to_server(AccessService(app), server)
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryService(app), server)
    governance_pb2_grpc.add_GovernanceServiceServicer_to_server(GovernanceService(app), server)
    sightings_pb2_grpc.add_SightingServiceServicer_to_server(SightingService(app), server)
    sightings_pb2_grpc.add_AlertServiceServicer_to_server(AlertService(app), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    settings = app.settings
    if settings.tls_enabled:
        assert settings.tls_cert and settings.tls_key and settings.tls_client_ca
        credentials = tls.server_credentials(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
        port = server.add_secure_port(settings.listen, credentials)
    else:
        port = server.add_insecure_port(settings.listen)
    if port == 0:
        raise SystemExit(f"cannot listen on {app.settings.listen}")
    return server, health_servicer, port


def set_serving(health_servicer: health.HealthServicer) -> None:
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


def serve(settings: Settings) -> None:
    """Runs the service until SIGINT or SIGTERM."""
    faiss.omp_set_num_threads(settings.faiss_threads)
    app = build_app(settings)
    server, health_servicer, port = make_server(app)
    server.start()
    log.info("listening on %s (port %d); finishing pending purges before serving", settings.listen, port)
    prepare(app)
    set_serving(health_servicer)
    log.info("SERVING")
    stopped = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    health_servicer.enter_graceful_shutdown()
    server.stop(grace=5).wait()
    app.close()
