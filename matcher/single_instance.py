"""One serving process per SQLite database; any number of replicas over PostgreSQL.

SQLite is one file on one host with one writer: a second process serving it would only contend
for its lock, so it refuses to start, saying why (an exclusive lock on the data folder, released
when the process ends, even by kill -9). Over PostgreSQL, replicas keep their in-memory views in
step through the change feed (:mod:`matcher.replication`), so no lock is taken.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine


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
    return InstanceLock(None)  # PostgreSQL: replicas (matcher.replication)
