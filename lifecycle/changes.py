r"""What changed in the system of record, for the processes that keep views of it.

Each process keeps exact in-memory views of the data every call reads (who may do what, which
cases are open, the galleries); DESIGN decision 11 wants them kept exact "by the same commits
that change them". Within a process the group committer tells its listeners after every batch
(:attr:`lifecycle.db.Database.on_commit`, with the tables the batch wrote). Other processes
(another replica, or the host operator's break-glass command) learn it from this table: every
batch that wrote a table some view depends on inserts one row here, in the same transaction, so
a change and its notice commit together or not at all, and a process that missed a notice (it
was restarting, its connection dropped) catches up from the durable sequence.
:class:`ChangeFeed` reads the rows written by other processes and calls the same listeners.

On PostgreSQL each such commit also sends ``NOTIFY matcher_changes`` and the feed ``LISTEN``\ s, so
other replicas learn of a change within milliseconds; the poll remains as the safety net. Ids
come from a sequence, and concurrent transactions commit out of id order: an id skipped over
(allocated, not yet visible) is remembered and looked for again for :data:`LATE_COMMIT`, so a
late commit is never missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Integer, String, Text, delete, func, make_url, select
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.db import NOTIFY_CHANNEL, Base, Database, UtcDateTime

log = logging.getLogger(__name__)
POLL_SECONDS = 0.1  # without LISTEN/NOTIFY (SQLite): how often to look
LISTEN_POLL_SECONDS = 1.0  # with it (PostgreSQL): a safety net for a lost notification
# A notice whose id was allocated but not yet committed when a later one was read (concurrent
# writers on PostgreSQL commit out of id order) is looked for again for this long.
LATE_COMMIT = timedelta(seconds=30)
MAX_GAPS = 10_000
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

    def __init__(self, db: Database, poll_seconds: float | None = None) -> None:
        self._db = db
        self._listen = not db.is_sqlite
        self._poll = poll_seconds or (LISTEN_POLL_SECONDS if self._listen else POLL_SECONDS)
        self._listeners: list[Listener] = []
        # Told, for each batch another process committed, how many seconds it took to arrive.
        self.on_lag: list[Callable[[float], None]] = []
        with db.reading() as session:
            self._cursor = int(session.scalar(select(func.max(Change.id))) or 0)
        self._gaps: dict[int, float] = {}  # skipped ids -> until when to look for them (monotonic)
        self._lock = threading.Lock()  # one catch-up at a time (the feed's thread, or a caller)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _run(self) -> None:
        pruned = time.monotonic()
        notices = self._notifications() if self._listen else None
        while not self._stopped.is_set():
            try:
                if notices is None:
                    self._stopped.wait(self._poll)
                else:
                    next(notices)
                self.catch_up()
                if time.monotonic() - pruned > PRUNE_EVERY_SECONDS:
                    pruned = time.monotonic()
                    self.prune(datetime.now(UTC))
            except Exception as error:  # The database may be away; the next round retries.
                log.warning("change feed: %s; retrying", type(error).__name__)
                self._stopped.wait(self._poll)

    def _notifications(self) -> Iterator[None]:
        """Yields at every NOTIFY of another commit, and at least every poll interval; reconnects
        (with back-off) when the listening connection drops, catching up after each reconnect."""
        import psycopg

        url = make_url(self._db.url).set(drivername="postgresql")
        backoff = 0.1
        while not self._stopped.is_set():
            try:
                with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    backoff = 0.1
                    yield  # catch up on what was committed while not listening
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=self._poll, stop_after=1):
                            pass
                        yield
            except psycopg.Error as error:
                log.warning("change feed: LISTEN connection lost (%s); reconnecting", type(error).__name__)
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                yield

    def catch_up(self) -> int:
        """Reads what other processes committed since the last look; returns how many batches."""
        with self._lock:
            return self._catch_up()

    def _catch_up(self) -> int:
        with self._db.reading() as session:
            rows = session.execute(
                select(Change.id, Change.tables, Change.at, Change.origin)
                .where((Change.id > self._cursor) | Change.id.in_(list(self._gaps)))
                .order_by(Change.id)
            ).all()
        now, clock = datetime.now(UTC), time.monotonic()
        theirs = []
        for row in rows:
            if self._gaps.pop(row.id, None) is None and row.id > self._cursor + 1:
                for missing in range(self._cursor + 1, row.id):
                    if len(self._gaps) < MAX_GAPS:
                        self._gaps[missing] = clock + LATE_COMMIT.total_seconds()
            self._cursor = max(self._cursor, row.id)
            if row.origin != self._db.origin:
                theirs.append(row)
        self._gaps = {gap: until for gap, until in self._gaps.items() if until > clock}
        for row in theirs:
            for observe in self.on_lag:
                observe(max(0.0, (now - row.at).total_seconds()))
        tables = frozenset(name for row in theirs for name in row.tables.split(",") if name)
        if tables:
            for listener in self._listeners:
                listener(tables)
        return len(theirs)

    def prune(self, now: datetime) -> None:
        """Forgets notices older than a day (every process has long caught up with them)."""
        with self._db.transaction() as session:
            session.execute(delete(Change).where(Change.at < now - RETENTION))

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
