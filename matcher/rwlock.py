"""A readers-writer lock: many searches at once, or one change of the matchable set.

Phase-fair. A waiting writer blocks readers that arrive after it (a revocation is never starved by
a stream of searches), and when a writer releases, every reader that was waiting goes before the
next writer (a search is never starved by a stream of enrolments): a search waits for at most the
change in progress, or the one queued ahead of it, never for a stream of them. Writers hold the
lock only for an in-memory change (never across a commit), so that wait is microseconds.

The writer side is re-entrant for the thread that holds it, because the purge path calls back
into code that takes it again, and a writer may read what it holds.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class RWLock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None
        self._writer_depth = 0
        self._writers_waiting = 0
        # Each writer's release starts a new phase; readers waiting since an earlier phase are
        # owed the lock before any other writer takes it.
        self._phase = 0
        self._waiting_readers: Counter[int] = Counter()

    def _readers_owed(self) -> bool:
        return any(phase < self._phase for phase in self._waiting_readers)

    @contextmanager
    def read(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:  # A writer may read what it holds.
                self._readers += 1
            elif self._writer is not None or self._writers_waiting:
                phase = self._phase
                self._waiting_readers[phase] += 1
                try:
                    while self._writer is not None or (self._writers_waiting and self._phase == phase):
                        self._cond.wait()
                finally:
                    self._waiting_readers[phase] -= 1
                    if not self._waiting_readers[phase]:
                        del self._waiting_readers[phase]
                self._readers += 1
                if not self._readers_owed():
                    self._cond.notify_all()  # The last owed reader is in: a writer may queue.
            else:
                self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._writer_depth += 1
            else:
                self._writers_waiting += 1
                try:
                    while self._writer is not None or self._readers or self._readers_owed():
                        self._cond.wait()
                finally:
                    self._writers_waiting -= 1
                self._writer, self._writer_depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._writer_depth -= 1
                if not self._writer_depth:
                    self._writer = None
                    self._phase += 1
                    self._cond.notify_all()
