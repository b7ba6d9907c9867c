"""The append-only, tamper-evident audit log (P16), holding no biometric content (P8).

Each record carries an HMAC-SHA256 over its own fields and the previous record's hash. The HMAC
key is derived from the key-encryption key, which lives outside the database, so somebody who can
write the database but not read the key file cannot forge a consistent chain after an edit,
deletion or reordering. Truncating the tail leaves a valid chain, so the head (sequence and hash)
is also written to an anchor file outside the database after every commit; verification fails
when the database's chain no longer reaches the anchor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from lifecycle.clock import Clock
from lifecycle.db import Database
from lifecycle.models import AuditRecord
from lifecycle.text import bounded, bounded_value

GENESIS = "0" * 64
ANCHOR_INTERVAL = 0.2  # seconds between rewrites of the anchor file
# Where the call being served came from (the gRPC peer); every record appended while it is set
# says so, so that each audit record answers "where from" without every caller passing it on.
CALL_ORIGIN: ContextVar[str] = ContextVar("matcher_call_origin", default="")
OK, REFUSED, FAILED = "ok", "refused", "failed"


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
    """Appends and verifies the chain. One instance per process."""

    def __init__(self, db: Database, clock: Clock, key: bytes, anchor_path: Path | None) -> None:
        self._db = db
        self._clock = clock
        self._key = key
        self._anchor_path = anchor_path
        self._anchor_lock = threading.Lock()
        self._anchored_seq = self._read_anchor()[0] if anchor_path else 0
        self._pending: tuple[int, str] = (self._anchored_seq, GENESIS)
        self._timer: threading.Timer | None = None

    def _digest(self, record: AuditRecord) -> str:
        return hmac.new(self._key, _canonical(record), hashlib.sha256).hexdigest()

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
        self._db.lock_audit_head(session)
        head = session.execute(
            select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
        ).first()
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
        details = {str(k)[:64]: bounded_value(v) for k, v in dict(detail or {}).items()}
        if CALL_ORIGIN.get() and "peer" not in details:
            details["peer"] = bounded(CALL_ORIGIN.get(), 200)
        record = AuditRecord(
            seq=seq,
            at=self._clock.now(),
            actor=bounded(actor, 200),
            action=bounded(action, 64),
            outcome=outcome,
            resource=bounded(resource, 300),
            reason=bounded(reason, 1000),
            count=count,
            code=bounded(code, 64),
            detail_json=json.dumps(details, sort_keys=True, separators=(",", ":"), default=str),
            prev_hash=prev_hash,
        )
        record.hash = self._digest(record)
        session.add(record)
        if self._anchor_path is not None:
            event.listen(session, "after_commit", lambda _s: self._write_anchor(seq, record.hash), once=True)
        return record

    def record(self, **fields: object) -> None:
        """Appends one record in a transaction of its own (refusals, whose change rolled back)."""
        with self._db.transaction() as session:
            self.append(session, **fields)  # type: ignore[arg-type]

    def _read_anchor(self) -> tuple[int, str]:
        if self._anchor_path is None or not self._anchor_path.exists():
            return 0, GENESIS
        seq_text, digest = self._anchor_path.read_text().split()
        return int(seq_text), digest

    def _write_anchor(self, seq: int, digest: str) -> None:
        """Moves the anchor to a committed record, at most every ANCHOR_INTERVAL seconds.

        Written after the commit: a crash may leave the anchor behind the database (weaker, never
        a false alarm); it is never ahead of it. Rewriting the file on every record cost more than
        the record's own commit; a truncation of the last fraction of a second goes unnoticed
        instead, which flush() closes at shutdown and before every verification.
        """
        with self._anchor_lock:
            if seq <= self._pending[0]:
                return
            self._pending = (seq, digest)
            if self._timer is None:
                self._timer = threading.Timer(ANCHOR_INTERVAL, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Writes the latest committed head to the anchor file now."""
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

    def records(
        self,
        *,
        after_seq: int = 0,
        limit: int = 100,
        resource: str = "",
        action: str = "",
    ) -> list[AuditRecord]:
        with self._db.transaction() as session:
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

    def verify(self) -> Verification:
        """Recomputes the whole chain; reports the first record that was edited, removed or moved."""
        self.flush()
        with self._db.transaction() as session:
            rows: Iterable[AuditRecord] = session.scalars(
                select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=1000)
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
                if not hmac.compare_digest(record.hash, self._digest(record)):
                    return Verification(False, checked, record.seq, "record content was altered", prev_hash)
                prev_hash, expected_seq = record.hash, record.seq + 1
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
            with self._db.transaction() as session:
                at_anchor = session.get(AuditRecord, anchor_seq)
            if at_anchor is None or at_anchor.hash != anchor_hash:
                return Verification(
                    False,
                    checked,
                    anchor_seq,
                    "the record named by the anchor outside the database was replaced",
                    prev_hash,
                )
        return Verification(True, checked, 0, "", prev_hash)
