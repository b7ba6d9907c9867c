"""Replicas: what another process committed reaches this one's memory.

Several ``matcher serve`` processes may serve one PostgreSQL database. Each holds in memory only
what is matchable (galleries, watchlist indexes) and its live subscribers; PostgreSQL stays the
system of record. Every commit that writes a table some view depends on leaves a row in the
durable change sequence (:mod:`lifecycle.changes`), in the same transaction, and on PostgreSQL a
``NOTIFY``; every other process wakes on it (or finds it on its next poll, or after a reconnect)
and reconciles the views those tables feed with the database:

- cases, subjects, face templates: the case galleries (enrolments added, releases and closes
  dropped);
- orders, order templates: the registered individuals' scopes;
- waivers, waiver templates: the scopes of searches a waiver allows outside cases (P15);
- plate entries (and cases, subjects): the watchlist indexes;
- alerts: published to this process's alert subscribers (an operator on replica 2 gets the alert
  a sighting raised on replica 1); stored plate hits likewise, to the case investigators watching;
- purges: the purge worker wakes (exactly one replica carries each purge out, under a lock);
- data keys: a KEK rotation another replica made is taken in (its new generation used, the
  destroyed one forgotten: the key folder is shared, see :mod:`matcher.kek`).

Reconciliation is idempotent and reads the state, not the notices, so a missed notice costs only
latency. Query-time confirmation (every hit is re-checked in the database before it is answered)
means no replica ever answers with revoked data, even inside the fan-out bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from lifecycle.purge import PurgeWorker
from matcher.face_matching import FaceMatcher
from matcher.plate_watchlists import PlateWatchlists
from matcher.registered_individuals import RegisteredIndividuals
from matcher.waiver_searches import WaiverSearchEngine

log = logging.getLogger(__name__)

FACE_TABLES = frozenset({"cases", "subjects", "face_templates"})
ORDER_TABLES = frozenset({"orders", "order_templates"})
WAIVER_TABLES = frozenset({"waivers", "waiver_templates"})
PLATE_TABLES = frozenset({"cases", "subjects", "plate_entries"})
KEY_TABLES = frozenset({"data_keys", "order_keys", "waiver_keys"})


class Replication:
    """Applies other processes' changes to this process's views (a ChangeFeed listener)."""

    def __init__(
        self,
        faces: FaceMatcher,
        plates: PlateWatchlists,
        individuals: RegisteredIndividuals,
        waiver_searches: WaiverSearchEngine,
        purges: PurgeWorker,
        refresh_keys: Callable[[], None],
    ) -> None:
        self._faces = faces
        self._plates = plates
        self._individuals = individuals
        self._waiver_searches = waiver_searches
        self._purges = purges
        self._refresh_keys = refresh_keys
        # Told how long each application took, in seconds (the operator's metrics).
        self.on_applied: list[Callable[[float], None]] = []

    def changed(self, tables: frozenset[str]) -> None:
        started = time.perf_counter()
        if tables & KEY_TABLES:
            self._refresh_keys()  # first: what follows may need a key another replica re-wrapped
        if tables & FACE_TABLES:
            self._faces.reconcile()
        if tables & ORDER_TABLES:
            self._individuals.reconcile()
        if tables & WAIVER_TABLES:
            self._waiver_searches.reconcile()
        if tables & PLATE_TABLES:
            self._plates.reconcile()
        if "alerts" in tables:
            self._individuals.catch_up_alerts()
        if "plate_hits" in tables:
            self._plates.catch_up_hits()
        if tables & {"purges", "orders", "cases", "subjects", "waivers"}:
            self._purges.wake()
        for observe in self.on_applied:
            observe(time.perf_counter() - started)
