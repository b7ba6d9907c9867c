"""Prometheus metrics for the operator: off unless ``--metrics-listen`` / MATCHER_METRICS_LISTEN.

What a city's operator needs on day two, and nothing a person could be found in: no label ever
carries a case id, subject id, order, plate, camera-to-person pair or reason text (counts of one
person's data are biometric data themselves, P8). Labels are the RPC's name, the gRPC status and
the machine-readable reason (a name of ``matcher.v1.ErrorReason``), and the face model.

- per RPC: calls by status and reason, latency histograms;
- matchable data: gallery templates per model, watchlist plates in all (never per case);
- lifecycle: pending purges and the age of the oldest, purge durations;
- the audit log: units per group commit, commit latency, records waiting to be sealed;
- live delivery: alert and notice subscribers, alert delivery lag;
- the change feed: how long other processes' changes took to arrive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from lifecycle import models as m

if TYPE_CHECKING:
    from matcher.app import App

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's counters and histograms, and a collector of its current state."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.calls = Counter(
            "matcher_rpc_calls",
            "RPCs answered, by method, gRPC status and reason",
            ["method", "code", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "matcher_rpc_duration_seconds",
            "Time from a call's headers to its answer",
            ["method"],
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.commit_units = Histogram(
            "matcher_db_commit_units",
            "Units of work (calls' changes and records) per group commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "matcher_db_commit_duration_seconds",
            "Time to commit one batch",
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.purge_seconds = Histogram(
            "matcher_purge_duration_seconds",
            "Time from a purge's request to its receipt (legal holds included)",
            buckets=(0.01, 0.1, 1, 10, 60, 600, 3600, 86400, 30 * 86400),
            registry=self.registry,
        )
        self.alert_lag = Histogram(
            "matcher_alert_delivery_lag_seconds",
            "Time from an alert's creation to its delivery on a live stream",
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.fanout_lag = Histogram(
            "matcher_change_fanout_lag_seconds",
            "Time from another process's commit to this process learning of it",
            buckets=_LATENCY,
            registry=self.registry,
        )

        self.fanout_apply = Histogram(
            "matcher_change_apply_duration_seconds",
            "Time to bring this process's galleries, indexes and subscribers up to another's commit",
            buckets=_LATENCY,
            registry=self.registry,
        )

    def observe_call(self, method: str, code: str, reason: str, seconds: float) -> None:
        self.calls.labels(method, code, reason).inc()
        self.latency.labels(method).observe(seconds)

    def observe_commit(self, units: int, seconds: float) -> None:
        self.commit_units.observe(units)
        self.commit_seconds.observe(seconds)

    def watch(self, app: App) -> None:
        """Adds the collector of the service's current state (read at each scrape)."""
        self.registry.register(_StateCollector(app))


class _StateCollector(Collector):
    def __init__(self, app: App) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        app = self._app
        templates = GaugeMetricFamily(
            "matcher_gallery_templates", "Face templates matchable now, per model", labels=["model"]
        )
        for model, count in app.faces.sizes().items():
            templates.add_metric([model], count)
        yield templates
        yield GaugeMetricFamily(
            "matcher_watchlist_plates", "Watchlist plates matchable now", value=app.plates.size()
        )
        yield GaugeMetricFamily(
            "matcher_alert_subscribers", "Live alert streams", value=app.individuals.hub.watchers()
        )
        yield GaugeMetricFamily(
            "matcher_notice_subscribers", "Live notice streams", value=app.notices.watchers()
        )
        with app.db.reading() as session:
            pending, oldest = session.execute(
                select(func.count(), func.min(m.Purge.requested_at)).where(m.Purge.state != m.PURGE_DONE)
            ).one()
            unsealed = session.scalar(
                select(func.count()).select_from(m.AuditRecord).where(m.AuditRecord.seq.is_(None))
            )
        yield GaugeMetricFamily(
            "matcher_purges_pending", "Purges not yet done (held ones included)", value=pending
        )
        age = (app.clock.now() - oldest.replace(tzinfo=UTC)).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "matcher_purge_oldest_pending_seconds", "Age of the oldest pending purge", value=age
        )
        yield GaugeMetricFamily(
            "matcher_audit_unsealed_records", "Audit records not yet chained", value=unsealed or 0
        )
        yield GaugeMetricFamily(
            "matcher_ready",
            "1 once pending purges are done and galleries rebuilt",
            value=int(app.ready.is_set()),
        )


def seconds_since(instant: datetime) -> float:
    """Wall-clock seconds since a UTC instant (delivery lags)."""
    return max(0.0, time.time() - instant.timestamp())
