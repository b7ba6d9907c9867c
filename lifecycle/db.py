"""The system of record: engine set-up for SQLite (default) and PostgreSQL, and group commit.

SQLite runs with ``secure_delete=ON`` so that deleted rows are overwritten rather than left in
free pages (P18, decision 5), foreign keys on, WAL journal and ``synchronous=FULL``.

**Group commit (DESIGN decision 11).** Every call writes at least its audit record, and a commit
is a disk flush, so with one transaction per call concurrent calls queued on the database's one
write lock (SQLite) and the service did one call at a time. Here every unit of work
(:meth:`Database.transaction`) runs as a savepoint inside a shared batch transaction on one
writer connection, units one after another, and a committer thread commits the batch: the units
that arrived while a commit was flushing all run in the next batch and share its flush, so
throughput grows with concurrency instead of queuing on a lock. A unit that raises rolls back
only its own savepoint and returns at once; a unit that succeeds returns only after its batch is
durable, so an answer is never given before its audit record is on disk (P16). When a commit
fails (the database went away) every unit of that batch is told so (:class:`DatabaseUnavailable`)
and the next batch starts on a fresh connection.

Reads that must not wait for the writer use :meth:`Database.reading`: separate connections whose
transactions begin deferred (SQLite WAL readers see the last committed state and never block).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)
MAX_BATCH_UNITS = 256
CHANGES = "changes"
# Writes no view depends on: they leave no notice in ``changes`` (lifecycle.changes).
UNNOTICED = frozenset({"audit_records", "auth_failures", CHANGES})


class Base(DeclarativeBase):
    """Declarative base of every table of the system of record."""


class UtcDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC and gives them back timezone-aware.

    SQLite has no time zones; storing naive UTC everywhere keeps comparisons in SQL correct on
    both databases, and refusing naive input catches a local time before it becomes a wrong expiry.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware instants")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class DatabaseUnavailable(Exception):
    """The system of record could not commit (or be reached); the unit's change did not happen."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA busy_timeout=10000",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_read(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def make_engine(url: str, *, reads_only: bool = False) -> Engine:
    """Creates the engine with the safety settings of its dialect.

    ``reads_only`` (SQLite): transactions begin deferred, so reading never takes the write lock;
    in WAL mode such readers run beside the one writer and see the last committed state.
    ``hide_parameters``: a failed statement's error never quotes its parameters (labels,
    reasons, plates), so no exception path can write them to a log (P8).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_read if reads_only else _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)
    return engine


def _note_flushed(session: Session, _context: Any) -> None:
    """Records the tables a unit's ORM changes touched (for on_commit and lifecycle.changes)."""
    touched = session.info.setdefault("wrote", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table:
            touched.add(table)


def _note_statement(state: Any) -> None:
    """Records the table of an ORM-enabled INSERT, UPDATE or DELETE statement."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is not None and getattr(table, "name", None):
            state.session.info.setdefault("wrote", set()).add(table.name)


def create_schema(engine: Engine) -> None:
    """Creates missing tables. (Schema migrations arrive with the first change to a table.)"""
    from lifecycle import (  # noqa: F401  (tables)
        access_models,
        changes,
        governance_models,
        models,
        order_models,
        search_models,
    )

    Base.metadata.create_all(engine)


@dataclass
class _Batch:
    """The units committed together: one writer transaction.

    ``rows`` are appended records (audit records of reads) inserted in one statement per table
    just before the commit: a call that only needs its record to be durable costs the batch an
    element of a list, not a savepoint.
    """

    connection: Connection
    session: Session
    units: int = 0
    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Database:
    """The engine, group-committed write units, and readers that never wait for the writer."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        """``create``: add missing tables (the service; ``matcher doctor`` only looks)."""
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        self._read_engine = make_engine(url, reads_only=True) if self.is_sqlite else self.engine
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        if create:
            create_schema(self.engine)
        # The writer: one batch at a time, units one after another (re-entrant: a unit may open
        # a nested unit, which becomes a nested savepoint of the same batch).
        self._writer = threading.RLock()
        self._batch: _Batch | None = None
        self._depth = threading.local()
        self._kick = threading.Condition(threading.Lock())
        self._count = threading.Lock()
        self._waiting = 0  # threads waiting for the writer: they will share the next flush
        self._stopping = False
        self.commits = 0  # batches committed (the benchmarks report units per commit)
        self.origin = str(uuid.uuid4())  # this process, in the notices of lifecycle.changes
        # Told after every batch is durable, with the tables it inserted into (see ``wrote``).
        self.on_commit: list[Callable[[frozenset[str]], None]] = []
        # Told of every commit's size (units) and duration in seconds (the operator's metrics).
        self.on_commit_timed: list[Callable[[int, float], None]] = []
        self.units = 0
        self._committer = threading.Thread(target=self._commit_loop, name="group-commit", daemon=True)
        self._committer.start()

    # --- writing ------------------------------------------------------------------------------

    def _open_batch(self) -> _Batch:
        connection = self.engine.connect()
        connection.begin()
        session = Session(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
        event.listen(session, "after_flush", _note_flushed)
        event.listen(session, "do_orm_execute", _note_statement)
        return _Batch(connection, session)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: durable when the block ends, rolled back alone when it raises."""
        depth = getattr(self._depth, "value", 0)
        if depth:  # Nested in a unit of this thread: a savepoint of the same batch.
            batch = self._batch
            assert batch is not None
            with batch.session.begin_nested():
                yield batch.session
            return
        while True:
            with self._writer:
                batch = self._batch
                if batch is None or batch.units < MAX_BATCH_UNITS:
                    break
            batch.done.wait()  # A full batch: let the committer take it first.
        with self._count:
            self._waiting += 1
        with self._writer:
            with self._count:
                self._waiting -= 1
            if self._batch is None:
                try:
                    self._batch = self._open_batch()
                except (OperationalError, DBAPIError) as error:
                    raise DatabaseUnavailable("the database cannot be reached") from error
            batch = self._batch
            self._depth.value = 1
            try:
                with batch.session.begin_nested():
                    yield batch.session
                batch.units += 1
            finally:
                self._depth.value = 0
            with self._count:
                alone = self._waiting == 0
            if alone:  # Nobody to share the flush with: commit now, without a hand-over.
                self.flush()
        if not alone:
            with self._kick:
                self._kick.notify()
        batch.done.wait()
        if batch.error is not None:
            raise DatabaseUnavailable(
                "the database could not commit; the change did not happen"
            ) from batch.error

    def append(self, table: Table, row: dict[str, Any]) -> None:
        """Inserts one row with the next batch and returns once it is durable (group commit).

        For rows that need no reads and cannot conflict (audit records): the caller does not
        enter the writer's critical section at all, so a thousand concurrent calls cost the
        writer one multi-row insert and one flush.
        """
        while True:
            with self._writer:
                if self._batch is not None and self._batch.units >= MAX_BATCH_UNITS:
                    full = self._batch
                else:
                    if self._batch is None:
                        try:
                            self._batch = self._open_batch()
                        except (OperationalError, DBAPIError) as error:
                            raise DatabaseUnavailable("the database cannot be reached") from error
                    batch = self._batch
                    batch.rows.setdefault(table, []).append(row)
                    batch.units += 1
                    break
            full.done.wait()
        with self._kick:
            self._kick.notify()
        batch.done.wait()
        if batch.error is not None:
            raise DatabaseUnavailable(
                "the database could not commit; the record was not written"
            ) from batch.error

    def _commit_loop(self) -> None:
        while True:
            with self._kick:
                while self._batch is None or not self._batch.units:
                    if self._stopping:
                        return
                    self._kick.wait(0.5)
            self.flush()

    def flush(self) -> None:
        """Commits the open batch now (the committer does this continuously)."""
        with self._writer:
            batch, self._batch = self._batch, None
            if batch is None:
                return
            started = time.perf_counter()
            try:
                batch.session.commit()
                for table, rows in batch.rows.items():
                    batch.connection.execute(insert(table), rows)
                written = frozenset(t.name for t in batch.rows) | frozenset(
                    batch.session.info.get("wrote", ())
                )
                noticed = sorted(written - UNNOTICED)
                if noticed and CHANGES in Base.metadata.tables:
                    batch.connection.execute(
                        insert(Base.metadata.tables[CHANGES]),
                        {"at": datetime.now(UTC), "origin": self.origin, "tables": ",".join(noticed)},
                    )
                batch.connection.commit()
                self.commits += 1
                self.units += batch.units
                for callback in self.on_commit:
                    callback(written)
                for timed in self.on_commit_timed:
                    timed(batch.units, time.perf_counter() - started)
            except BaseException as error:
                batch.error = error
                log.error("a batch of %d units could not commit: %s", batch.units, type(error).__name__)
                try:
                    batch.connection.rollback()
                except Exception:
                    batch.connection.invalidate()
            finally:
                batch.session.close()
                batch.connection.close()
                batch.done.set()

    @staticmethod
    def wrote(session: Session, table: str) -> None:
        """Notes that a unit inserted into ``table``, for the ``on_commit`` listeners."""
        session.info.setdefault("wrote", set()).add(table)

    # --- reading ------------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work that does not wait for, or block, the writer (SQLite WAL)."""
        with self._read_sessions() as session, session.begin():
            yield session

    # --- maintenance --------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Moves the WAL into the database file and truncates it, so purged pages leave no copy."""
        if not self.is_sqlite:
            return
        with self._writer:
            self.flush()
            # A raw connection: SQLAlchemy's connection would first open a transaction (BEGIN
            # IMMEDIATE), inside which SQLite refuses to checkpoint.
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                busy, _log_pages, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                cursor.close()
            finally:
                raw.close()
        if busy:
            raise RuntimeError("WAL checkpoint blocked by a reader; the purge step will be retried")

    def dispose(self) -> None:
        with self._kick:
            self._stopping = True
            self._kick.notify()
        self.flush()
        self._committer.join(timeout=5)
        self.engine.dispose()
        self._read_engine.dispose()
