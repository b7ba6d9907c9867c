"""The system of record: engine set-up for SQLite (default) and PostgreSQL.

SQLite runs with ``secure_delete=ON`` so that deleted rows are overwritten rather than left in
free pages (P18, decision 5), foreign keys on, WAL journal, and ``BEGIN IMMEDIATE`` for every
transaction so that the audit chain's head is read and extended by one writer at a time.
PostgreSQL serialises audit appends with a transaction-scoped advisory lock instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


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
    """
    # hide_parameters: a failed statement's error never quotes its parameters (labels, reasons,
    # plates), so no exception path can write them to a log (P8).
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_read if reads_only else _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)
    return engine


def create_schema(engine: Engine) -> None:
    """Creates missing tables. (Schema migrations arrive with the first change to a table.)"""
    from lifecycle import access_models, governance_models, models, order_models  # noqa: F401  (tables)

    Base.metadata.create_all(engine)


class Database:
    """The engine plus a session factory whose sessions always run inside one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = make_engine(url, reads_only=True) if self.is_sqlite else self.engine
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        create_schema(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back when it raises."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work that does not wait for, or block, the writer (SQLite WAL)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def lock_audit_head(self, session: Session) -> None:
        """Serialises audit appends so that two writers never extend the chain from one head."""
        if not self.is_sqlite:  # SQLite already holds the write lock from BEGIN IMMEDIATE.
            session.execute(text("SELECT pg_advisory_xact_lock(7316)"))

    def checkpoint(self) -> None:
        """Moves the WAL into the database file and truncates it, so purged pages leave no copy."""
        if not self.is_sqlite:
            return
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
        self.engine.dispose()
        self._read_engine.dispose()
