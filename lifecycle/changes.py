"""What changed in the system of record, for the processes that keep views of it.

Each process keeps exact in-memory views of the data every call reads (who may do what, which
cases are open, the galleries); DESIGN decision 11 wants them kept exact "by the same commits
that change them". Within a process the group committer tells its listeners after every batch
(:attr:`lifecycle.db.Database.on_commit`, with the tables the batch wrote). Other processes
(another replica, or the host operator's break-glass command) learn it from this table: every
batch that wrote a table some view depends on inserts one row here, in the same transaction, so
a change and its notice commit together or not at all, and a process that missed a notice (it
was restarting, its connection dropped) catches up from the durable sequence.
:class:`ChangeFeed` reads the rows written by other processes and calls the same listeners.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.db import Base, Database, UtcDateTime

log = logging.getLogger(__name__)
POLL_SECONDS = 0.1
RETENTION = timedelta(days=1)
PRUNE_EVERY_SECONDS = 3600.0


class Change(Base):
    """One committed batch's notice: which tables it wrote, from which process."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    origin: Mapped[str] = mapped_column(String(36), index=True)
    tables: Mapped[str] = mapped_column(Text)


Listener = Callable[[frozenset[str]], None]


class ChangeFeed:
    """Tells this process's listeners of changes other processes committed."""

    def __init__(self, db: Database, poll_seconds: float = POLL_SECONDS) -> None:
        self._db = db
        self._poll = poll_seconds
        self._listeners: list[Listener] = []
        # Told, for each batch another process committed, how many seconds it took to arrive.
        self.on_lag: list[Callable[[float], None]] = []
        with db.reading() as session:
            self._cursor = int(session.scalar(select(func.max(Change.id))) or 0)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _run(self) -> None:
        pruned = time.monotonic()
        while not self._stopped.wait(self._poll):
            try:
                self.catch_up()
                if time.monotonic() - pruned > PRUNE_EVERY_SECONDS:
                    pruned = time.monotonic()
                    self.prune(datetime.now(UTC))
            except Exception as error:  # The database may be away; the next poll retries.
                log.warning("change feed: %s; retrying", type(error).__name__)

    def catch_up(self) -> int:
        """Reads what other processes committed since the last look; returns how many batches."""
        with self._db.reading() as session:
            rows = session.execute(
                select(Change.id, Change.tables, Change.at)
                .where(Change.id > self._cursor, Change.origin != self._db.origin)
                .order_by(Change.id)
            ).all()
            newest = session.scalar(select(func.max(Change.id)))
        now = datetime.now(UTC)
        for _, _, at in rows:
            for observe in self.on_lag:
                observe(max(0.0, (now - at).total_seconds()))
        tables = frozenset(name for _, names, _ in rows for name in names.split(",") if name)
        if newest is not None:
            self._cursor = max(self._cursor, int(newest))
        if tables:
            for listener in self._listeners:
                listener(tables)
        return len(rows)

    def prune(self, now: datetime) -> None:
        """Forgets notices older than a day (every process has long caught up with them)."""
        with self._db.transaction() as session:
            session.execute(delete(Change).where(Change.at < now - RETENTION))

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
