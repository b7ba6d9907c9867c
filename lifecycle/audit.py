"""The append-only, tamper-evident audit log (P16), holding no biometric content (P8).

**Written at once, chained by one sealer** (DESIGN decisions 11 and 12, as transparency logs
do). A record is inserted in the transaction of the change it records, so it commits or vanishes
with the change and an answer is never given before its record is durable; but it is inserted
without a chain position, so concurrent writers (the calls of one process, and the replicas of
one PostgreSQL) never contend for the chain's head. The sealer then takes the records not yet
chained, in the order they were written, gives each the next sequence number and an HMAC-SHA256
over its fields and the previous record's hash, in one transaction; on PostgreSQL a transaction
advisory lock makes one sealer at a time the chain's only writer, whichever replica it runs in.
Sealing follows a commit within ``SEAL_DELAY`` seconds, and every read of the log (listing,
verifying, reporting) seals first.

The HMAC key lives outside the database (its own file beside the key-encryption key, see
:mod:`matcher.kek`; not derived from the current KEK, which rotates after purges), so somebody who
can write the database but not read the key file cannot forge a consistent chain after an edit,
deletion or reordering. Truncating the tail leaves a valid chain, so the head
(sequence and hash) is also written to an anchor file outside the database after sealing;
verification fails when the database's chain no longer reaches the anchor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.orm import Session

from lifecycle.clock import Clock
from lifecycle.db import Database
from lifecycle.models import AuditRecord
from lifecycle.text import bounded, bounded_value

log = logging.getLogger(__name__)
GENESIS = "0" * 64
ANCHOR_INTERVAL = 0.2  # seconds between rewrites of the anchor file
SEAL_DELAY = 0.05  # seconds from a commit to its records' sealing (more records per seal)
SEAL_BATCH = 5000
_SEALER_LOCK = 7316  # PostgreSQL advisory lock: one sealer at a time across replicas
# Where the call being served came from (the gRPC peer); every record appended while it is set
# says so, so that each audit record answers "where from" without every caller passing it on.
CALL_ORIGIN: ContextVar[str] = ContextVar("matcher_call_origin", default="")
OK, REFUSED, FAILED = "ok", "refused", "failed"
AUDIT_TABLE = AuditRecord.__tablename__


@dataclass(frozen=True)
class Verification:
    ok: bool
    records_checked: int
    first_bad_sequence: int
    problem: str
    head_hash: str


def _canonical(record: AuditRecord) -> bytes:
    fields = [
        record.seq,
        record.at.isoformat(timespec="microseconds"),
        record.actor,
        record.action,
        record.outcome,
        record.resource,
        record.reason,
        record.count,
        record.code,
        record.detail_json,
        record.prev_hash,
    ]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()


class AuditLog:
    """Appends, seals and verifies the chain. One instance per process."""

    def __init__(self, db: Database, clock: Clock, key: bytes, anchor_path: Path | None) -> None:
        self._db = db
        self._clock = clock
        self._key = key
        self._anchor_path = anchor_path
        self._anchor_lock = threading.Lock()
        self._anchored_seq = self._read_anchor()[0] if anchor_path else 0
        self._pending: tuple[int, str] = (self._anchored_seq, GENESIS)
        self._timer: threading.Timer | None = None
        self._seal_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._sealer = threading.Thread(target=self._seal_loop, name="audit-sealer", daemon=True)
        self._sealer.start()
        db.on_commit.append(self._committed)

    def _digest(self, record: AuditRecord) -> str:
        return hmac.new(self._key, _canonical(record), hashlib.sha256).hexdigest()

    # --- writing ------------------------------------------------------------------------------

    def _row(
        self,
        *,
        actor: str,
        action: str,
        resource: str,
        reason: str = "",
        outcome: str = OK,
        count: int = 0,
        code: str = "",
        detail: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        """A record's columns, bounded and printable; not yet chained (the sealer chains it)."""
        details = {str(k)[:64]: bounded_value(v) for k, v in dict(detail or {}).items()}
        if CALL_ORIGIN.get() and "peer" not in details:
            details["peer"] = bounded(CALL_ORIGIN.get(), 200)
        return {
            "at": self._clock.now(),
            "actor": bounded(actor, 200),
            "action": bounded(action, 64),
            "outcome": outcome,
            "resource": bounded(resource, 300),
            "reason": bounded(reason, 1000),
            "count": count,
            "code": bounded(code, 64),
            "detail_json": json.dumps(details, sort_keys=True, separators=(",", ":"), default=str),
            "seq": None,
            "prev_hash": None,
            "hash": None,
        }

    def append(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        resource: str,
        reason: str = "",
        outcome: str = OK,
        count: int = 0,
        code: str = "",
        detail: Mapping[str, object] | None = None,
    ) -> AuditRecord:
        """Adds a record inside the caller's transaction: it commits or vanishes with the change."""
        record = AuditRecord(
            **self._row(
                actor=actor,
                action=action,
                resource=resource,
                reason=reason,
                outcome=outcome,
                count=count,
                code=code,
                detail=detail,
            )
        )
        session.add(record)
        Database.wrote(session, AUDIT_TABLE)
        return record

    def _committed(self, written: frozenset[str]) -> None:
        if AUDIT_TABLE in written:
            self._wake.set()

    def record(
        self,
        *,
        actor: str,
        action: str,
        resource: str,
        reason: str = "",
        outcome: str = OK,
        count: int = 0,
        code: str = "",
        detail: Mapping[str, object] | None = None,
    ) -> None:
        """Appends one record on its own (reads, refusals whose change rolled back) and returns
        once it is durable: group-committed with whatever else the writer is committing."""
        row = self._row(
            actor=actor,
            action=action,
            resource=resource,
            reason=reason,
            outcome=outcome,
            count=count,
            code=code,
            detail=detail,
        )
        self._db.append(cast(Table, AuditRecord.__table__), row)

    # --- sealing ------------------------------------------------------------------------------

    def _seal_loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait()
            if self._stopped.is_set():
                return
            self._stopped.wait(SEAL_DELAY)  # let a burst of commits land in one seal
            self._wake.clear()
            try:
                self.seal()
            except Exception as error:  # The next commit or read retries; say so, without data.
                log.error("audit sealing failed (%s); it will be retried", type(error).__name__)

    def seal(self) -> int:
        """Chains every record written so far that is not chained yet; returns how many."""
        with self._seal_lock:
            sealed = 0
            while True:
                with self._db.transaction() as session:
                    if not self._db.is_sqlite:  # one sealer at a time, in whichever replica
                        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEALER_LOCK})
                    head = session.execute(
                        select(AuditRecord.seq, AuditRecord.hash)
                        .where(AuditRecord.seq.is_not(None))
                        .order_by(AuditRecord.seq.desc())
                        .limit(1)
                    ).first()
                    seq, prev = (
                        (int(head[0]), str(head[1]))
                        if head is not None and head[0] is not None
                        else (0, GENESIS)
                    )
                    rows = list(
                        session.scalars(
                            select(AuditRecord)
                            .where(AuditRecord.seq.is_(None))
                            .order_by(AuditRecord.id)
                            .limit(SEAL_BATCH)
                        )
                    )
                    changes = []
                    for row in rows:
                        seq += 1
                        row.seq, row.prev_hash = seq, prev
                        prev = self._digest(row)
                        changes.append({"key": row.id, "seq": seq, "prev": row.prev_hash, "hash": prev})
                    for row in rows:
                        session.expunge(row)
                    if changes:
                        table = cast(Table, AuditRecord.__table__)
                        session.connection().execute(
                            update(table)
                            .where(table.c.id == bindparam("key"))
                            .values(
                                seq=bindparam("seq"), prev_hash=bindparam("prev"), hash=bindparam("hash")
                            ),
                            changes,
                        )
                if changes:
                    self._moved(seq, prev)
                sealed += len(changes)
                if len(rows) < SEAL_BATCH:
                    return sealed

    def close(self) -> None:
        """Seals what is left, writes the anchor, stops the sealer (at shutdown)."""
        self._stopped.set()
        self._wake.set()
        self._sealer.join(timeout=10)
        self.seal()
        self.flush()

    # --- the anchor ---------------------------------------------------------------------------

    def _read_anchor(self) -> tuple[int, str]:
        if self._anchor_path is None or not self._anchor_path.exists():
            return 0, GENESIS
        seq_text, digest = self._anchor_path.read_text().split()
        return int(seq_text), digest

    def _moved(self, seq: int, digest: str) -> None:
        """Moves the anchor to a sealed record, at most every ANCHOR_INTERVAL seconds.

        Written after the seal's commit: a crash may leave the anchor behind the database
        (weaker, never a false alarm); it is never ahead of it. Rewriting the file on every seal
        would cost more than the seal; a truncation of the last fraction of a second goes
        unnoticed instead, which flush() closes at shutdown and before every verification.
        """
        if self._anchor_path is None:
            return
        with self._anchor_lock:
            if seq <= self._pending[0]:
                return
            self._pending = (seq, digest)
            if self._timer is None:
                self._timer = threading.Timer(ANCHOR_INTERVAL, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Writes the latest sealed head to the anchor file now."""
        if self._anchor_path is None:
            return
        with self._anchor_lock:
            self._timer = None
            seq, digest = self._pending
            if seq <= self._anchored_seq:
                return
            tmp = self._anchor_path.with_suffix(".tmp")
            tmp.write_text(f"{seq} {digest}\n")
            os.replace(tmp, self._anchor_path)
            self._anchored_seq = seq

    # --- reading ------------------------------------------------------------------------------

    def records(
        self,
        *,
        after_seq: int = 0,
        limit: int = 100,
        resource: str = "",
        action: str = "",
    ) -> list[AuditRecord]:
        """Sealed records in chain order (the log is sealed first, so nothing written is missing)."""
        self.seal()
        with self._db.reading() as session:
            query = select(AuditRecord).where(AuditRecord.seq > after_seq)
            if resource:
                query = query.where(
                    (AuditRecord.resource == resource)
                    | AuditRecord.resource.startswith(resource + "/", autoescape=True)
                )
            if action:
                query = query.where(AuditRecord.action == action)
            query = query.order_by(AuditRecord.seq).limit(limit)
            return list(session.scalars(query))

    def verify(self, *, seal: bool = True) -> Verification:
        """Recomputes the whole chain; reports the first record that was edited, removed or moved.

        ``seal``: chain what was written first (the service); ``matcher doctor`` only looks."""
        if seal:
            self.seal()
        self.flush()
        with self._db.reading() as session:
            rows: Iterable[AuditRecord] = session.scalars(
                select(AuditRecord)
                .where(AuditRecord.seq.is_not(None))
                .order_by(AuditRecord.seq)
                .execution_options(yield_per=1000)
            )
            expected_seq, prev_hash, checked = 1, GENESIS, 0
            for record in rows:
                checked += 1
                if record.seq != expected_seq:
                    return Verification(
                        False,
                        checked,
                        expected_seq,
                        f"record {expected_seq} is missing (found {record.seq} next)",
                        prev_hash,
                    )
                if record.prev_hash != prev_hash:
                    return Verification(
                        False,
                        checked,
                        record.seq,
                        "record does not follow the one before it (removed or reordered)",
                        prev_hash,
                    )
                if not hmac.compare_digest(record.hash or "", self._digest(record)):
                    return Verification(False, checked, record.seq, "record content was altered", prev_hash)
                prev_hash, expected_seq = record.hash or "", expected_seq + 1
        anchor_seq, anchor_hash = self._read_anchor()
        last_seq = expected_seq - 1
        if anchor_seq > last_seq:
            return Verification(
                False,
                checked,
                last_seq + 1,
                f"log truncated: the anchor outside the database names record {anchor_seq}, "
                f"the log ends at {last_seq}",
                prev_hash,
            )
        if anchor_seq:
            with self._db.reading() as session:
                at_anchor = session.scalars(select(AuditRecord).where(AuditRecord.seq == anchor_seq)).first()
            if at_anchor is None or at_anchor.hash != anchor_hash:
                return Verification(
                    False,
                    checked,
                    anchor_seq,
                    "the record named by the anchor outside the database was replaced",
                    prev_hash,
                )
        return Verification(True, checked, 0, "", prev_hash)
