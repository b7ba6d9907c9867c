"""One serving process per system of record, until revocations fan out across replicas.

Each process keeps its own in-memory galleries: a second process serving the same database would
not see the other's enrolments, and would keep (though never answer with, since every hit is
confirmed in the database) copies of data the other revoked. Rather than run in that state, a
second process refuses to start, saying why: an exclusive lock on the data folder for SQLite, a
session-level advisory lock for PostgreSQL, both released when the process ends (even by kill -9).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

_ADVISORY_KEY = 7317


class AlreadyServing(RuntimeError):
    """Another matcher process serves this database."""


class InstanceLock:
    def __init__(self, holder: Any) -> None:
        self._holder = holder

    def release(self) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:
            holder.close()


def acquire(engine: Engine, data_dir: Path) -> InstanceLock:
    """Takes the lock or raises AlreadyServing with what to do about it."""
    if engine.dialect.name == "sqlite":
        path = data_dir / "matcher.lock"
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(descriptor, "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyServing(
                f"another matcher process serves {data_dir}; stop it first (one process per database)"
            ) from None
        return InstanceLock(handle)
    connection = engine.connect()
    connection.detach()  # Closing it must end the session (and the lock), not return it to the pool.
    if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _ADVISORY_KEY}).scalar():
        connection.close()
        raise AlreadyServing(
            "another matcher process serves this PostgreSQL database; running several replicas needs "
            "revocations to fan out between them, which this version does not do yet"
        )
    connection.commit()
    return InstanceLock(connection)
