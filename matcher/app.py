"""The composition root: every part of the service, built once and typed.

Servicers receive an :class:`App`, so mypy checks every call across the transport-to-domain seam
(a misspelt ``app.facez.serch(...)`` fails the lint). :func:`build_app` wires the parts in the
order the policy needs; :func:`prepare` finishes due purges and rebuilds the galleries before the
service may report SERVING (decision 4).

Nothing here reads a test hook: the policy clock is the system clock unless a caller (a test, in
process) passes another one, and fault points are armed only by ``tests/serve_for_tests.py``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from lifecycle.access import AccessControl, Notice
from lifecycle.audit import AuditLog
from lifecycle.cases import Lifecycle
from lifecycle.changes import ChangeFeed
from lifecycle.clock import Clock, SystemClock
from lifecycle.complaints import ComplaintBook
from lifecycle.db import Database
from lifecycle.disclosure import DisclosureDecider
from lifecycle.emergencies import EmergencyRegistry
from lifecycle.orders import Registry
from lifecycle.purge import PurgeWorker
from lifecycle.waiver_searches import WaiverSearches
from lifecycle.waivers import WaiverRegistry
from matcher import local_principals, single_instance
from matcher.broadcast import AlertView, Broadcast
from matcher.config import Settings
from matcher.face_matching import FaceMatcher
from matcher.faces import FacePipeline
from matcher.kek import KekGenerations, load_audit_key
from matcher.kek_rotation import KekRotation
from matcher.keys import ScopeKeys
from matcher.metrics import Metrics
from matcher.model_loading import Unavailable, load_pipeline, load_plate_reader
from matcher.plate_probing import UncertainReadGuard
from matcher.plate_watchlists import PlateWatchlists
from matcher.plates.reader import PlateReader
from matcher.plates.uncertainty import ReadLimits
from matcher.registered_individuals import RegisteredIndividuals
from matcher.replication import FACE_TABLES, ORDER_TABLES, PLATE_TABLES, WAIVER_TABLES, Replication
from matcher.transport.auth import Authenticator
from matcher.waiver_searches import WaiverSearchEngine

log = logging.getLogger("matcher")


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
    emergencies: EmergencyRegistry
    notices: Broadcast[Notice]
    worker: PurgeWorker
    rotation: KekRotation
    auth: Authenticator
    access: AccessControl
    pipeline: FacePipeline | Unavailable
    plate_reader: PlateReader | Unavailable
    default_face_model: str
    instance: single_instance.InstanceLock
    changes: ChangeFeed
    metrics: Metrics
    uncertain_reads: UncertainReadGuard
    complaints: ComplaintBook
    waiver_searches: WaiverSearchEngine
    ready: threading.Event = field(default_factory=threading.Event)

    @property
    def audit(self) -> AuditLog:
        return self.lifecycle.audit

    def close(self) -> None:
        """Stops the worker and releases the database (and the single-instance lock)."""
        self.worker.stop()
        self.changes.stop()
        self.lifecycle.audit.close()
        self.instance.release()
        self.db.dispose()


def build_app(settings: Settings, clock: Clock | None = None) -> App:
    """Builds the service over its system of record; ``clock`` is for in-process tests only."""
    settings.resolved()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    clock = clock or SystemClock()
    assert settings.kek_file is not None
    keyring = KekGenerations.load(settings.kek_file)
    audit_key = load_audit_key(settings.kek_file)  # before any rotation retires generation 0
    db = Database(settings.database_url)
    instance = single_instance.acquire(db.engine, settings.data_dir)
    audit = AuditLog(db, clock, audit_key, settings.audit_anchor_file)
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
    plates = PlateWatchlists(
        lifecycle,
        keys,
        ReadLimits(settings.plate_max_unknown, settings.plate_min_anchored),
        timedelta(days=settings.plate_hit_retention_days),
    )
    individuals = RegisteredIndividuals(
        lifecycle,
        Registry(lifecycle),
        keys,
        faces,
        Broadcast[AlertView](),
        alert_min_score=settings.alert_min_score,
        max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds),
    )
    rotation = KekRotation(db, keyring)
    worker = PurgeWorker(lifecycle, rotation)
    auth = Authenticator(settings.tokens_file, tls_enabled=settings.tls_enabled)
    access = AccessControl(db, clock, audit)
    waivers = WaiverRegistry(db, clock, audit)
    changes = ChangeFeed(db)
    changes.subscribe(access.forget)  # another process changed who may do what
    notices: Broadcast[Notice] = Broadcast()
    access.on_notice(lambda notice: notices.publish([notice]))  # P16: at once, to the designee
    local_principals.bootstrap(settings, access, auth)
    plate_reader = load_plate_reader(settings)
    metrics = Metrics()
    db.on_commit_timed.append(metrics.observe_commit)
    lifecycle.on_purge_done.append(metrics.purge_seconds.observe)
    changes.on_lag.append(metrics.fanout_lag.observe)
    app = App(
        settings,
        clock,
        db,
        lifecycle,
        faces,
        plates,
        individuals,
        DisclosureDecider(db, clock, audit),
        waivers,
        EmergencyRegistry(db, clock, audit),
        notices,
        worker,
        rotation,
        auth,
        access,
        pipeline,
        plate_reader,
        default_model,
        instance,
        changes,
        metrics,
        UncertainReadGuard(
            clock,
            settings.plate_max_uncertain_reads,
            timedelta(seconds=settings.plate_uncertain_window_seconds),
            lambda notice: notices.publish([notice]),  # P16: at once, to the designee
        ),
        ComplaintBook(db, clock, audit),
        WaiverSearchEngine(lifecycle, WaiverSearches(lifecycle, waivers), keys, faces),
    )
    metrics.watch(app)
    return app


def prepare(app: App) -> None:
    """Finishes an interrupted KEK rotation and due purges, rebuilds the galleries, then opens."""
    app.rotation.recover()
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
    searches = app.waiver_searches.rebuild()
    log.info(
        "galleries rebuilt: %d face templates, %d watchlist plates, %d order templates and %d "
        "waiver-search templates matchable",
        loaded,
        plates,
        orders,
        searches,
    )
    # From here on, what other replicas commit reaches these views (catching up first on what
    # they committed while the galleries were being rebuilt).
    replication = Replication(
        app.faces, app.plates, app.individuals, app.waiver_searches, app.worker, app.rotation.refresh
    )
    replication.on_applied.append(app.metrics.fanout_apply.observe)
    app.changes.subscribe(replication.changed)
    replication.changed(FACE_TABLES | ORDER_TABLES | WAIVER_TABLES | PLATE_TABLES | {"alerts"})
    app.worker.start()
    app.ready.set()
