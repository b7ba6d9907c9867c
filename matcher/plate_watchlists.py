"""Plate watchlists: entries stored encrypted in the system of record, matched in memory.

Each open case has a :class:`matcher.plates.PlateIndex` (FAISS candidates, exact verification)
holding the entries of the case and of its active subjects. Entries follow the face templates'
lifecycle: P1 to add, unmatchable at the commit that releases their subject (P2) or closes their
case (P3), destroyed by the purge worker, never rebuilt after a restart. Reads are used for one
check and dropped (P7); hits are confirmed against the database in the transaction that audits
the check, and the audit keeps only counts, never which vehicle was seen where (P8).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.actions import Action
from lifecycle.cases import Lifecycle, require_reason
from lifecycle.errors import Kind, PolicyError
from matcher import crypto
from matcher.keys import ScopeKeys
from matcher.plates import MatchPolicy, PlateError, PlateHit, PlateIndex, PlateRead, parse_entry
from matcher.rwlock import RWLock

MAX_NOTE = 500


@dataclass(frozen=True)
class Entry:
    """A decrypted watchlist entry."""

    row: m.PlateEntry
    subject_id: str | None
    plate: str
    pattern: str
    note: str


@dataclass(frozen=True)
class Hit:
    entry_id: str
    case_id: str
    subject_id: str | None
    plate: str
    hit: PlateHit


def plate_refusal(error: PlateError) -> PolicyError:
    return PolicyError(Kind.INVALID_ARGUMENT, str(error.reason), str(error))


def _aad(row: m.PlateEntry) -> bytes:
    return f"matcher/v1/plate-entry/{row.case_id}/{row.subject_pk}/{row.id}".encode()


class PlateWatchlists:
    """Implements :class:`lifecycle.purge_listener.PurgeListener` for the plate indexes."""

    def __init__(self, lifecycle: Lifecycle, keys: ScopeKeys) -> None:
        self._lc = lifecycle
        self._keys = keys
        self._lock = RWLock()
        self._indexes: dict[str, PlateIndex] = {}
        # index id -> (case, subject pk); the index itself only knows integers.
        self._owners: dict[int, tuple[str, int | None]] = {}
        lifecycle.subscribe(self)

    # --- PurgeListener --------------------------------------------------------------------

    @contextmanager
    def revoking(self) -> Iterator[None]:
        with self._lock.write():
            yield

    def basis_ended(self, case_id: str, subject_pk: int | None) -> None:
        with self._lock.write():
            index = self._indexes.get(case_id)
            if index is None:
                return
            if subject_pk is None:
                del self._indexes[case_id]
                self._owners = {k: v for k, v in self._owners.items() if v[0] != case_id}
                return
            for index_id, owner in list(self._owners.items()):
                if owner == (case_id, subject_pk):
                    index.remove(index_id)
                    del self._owners[index_id]

    # --- storage --------------------------------------------------------------------------

    def _key(self, session: Session, case_id: str, subject_pk: int | None, *, create: bool) -> bytes:
        if subject_pk is None:
            return self._keys.case_key(session, case_id, create=create)
        return self._keys.subject_key(session, case_id, subject_pk, create=create)

    def _decrypt(self, session: Session, row: m.PlateEntry) -> tuple[str, str]:
        key = self._key(session, row.case_id, row.subject_pk, create=False)
        payload = json.loads(crypto.decrypt(key, row.nonce, row.ciphertext, _aad(row)))
        return str(payload["plate"]), str(payload.get("note", ""))

    def _index(self, case_id: str) -> PlateIndex:
        index = self._indexes.get(case_id)
        if index is None:
            index = self._indexes[case_id] = PlateIndex()
        return index

    def size(self) -> int:
        """Matchable watchlist plates in all (never per case or subject, P8)."""
        with self._lock.read():
            return len(self._owners)

    def rebuild(self) -> int:
        """Loads the entries of open cases and their active subjects only (decision 1)."""
        loaded = 0
        with self._lock.write(), self._lc.db.transaction() as session:
            self._indexes.clear()
            self._owners.clear()
            rows = session.scalars(
                select(m.PlateEntry)
                .join(m.Case, m.Case.id == m.PlateEntry.case_id)
                .outerjoin(m.Subject, m.Subject.pk == m.PlateEntry.subject_pk)
                .where(
                    m.Case.state == m.CASE_OPEN,
                    (m.PlateEntry.subject_pk.is_(None)) | (m.Subject.state == m.SUBJECT_ACTIVE),
                )
            ).all()
            for row in rows:
                plate, _ = self._decrypt(session, row)
                self._index(row.case_id).add(row.index_id, parse_entry(plate))
                self._owners[row.index_id] = (row.case_id, row.subject_pk)
                loaded += 1
        return loaded

    # --- entries --------------------------------------------------------------------------

    def add(
        self, actor: str, case_id: str, subject_id: str, plate: str, region: str, note: str, reason: str
    ) -> Entry:
        """P1: an entry needs an open case, and an active person of interest or suspect if tied."""
        reason = require_reason(reason)
        try:
            pattern = parse_entry(plate)
        except PlateError as error:
            raise plate_refusal(error) from None
        if len(note) > MAX_NOTE or len(region) > 32:
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"note at most {MAX_NOTE}, region 32 characters"
            )
        entry_id = secrets.token_hex(8)
        with self._lock.write():
            with self._lc.db.transaction() as session:
                subject_pk = None
                if subject_id:
                    subject_pk = self._lc.targetable_subject(session, case_id, subject_id).pk
                else:
                    self._lc.open_case(session, case_id, for_update=True)
                row = m.PlateEntry(
                    id=entry_id,
                    case_id=case_id,
                    subject_pk=subject_pk,
                    region=region.strip().upper(),
                    nonce=b"",
                    ciphertext=b"",
                    created_at=self._lc.clock.now(),
                    created_by=actor,
                )
                key = self._key(session, case_id, subject_pk, create=True)
                plaintext = json.dumps({"plate": plate.strip(), "note": note.strip()}).encode()
                row.nonce, row.ciphertext = crypto.encrypt(key, plaintext, _aad(row))
                session.add(row)
                session.flush()  # Assigns index_id.
                self._lc.audit.append(
                    session,
                    actor=actor,
                    action=Action.PLATE_ADD,
                    resource=f"cases/{case_id}/plateEntries/{entry_id}",
                    reason=reason,
                    count=1,
                    detail={"subject": subject_id or "", "rule": "P1"},
                )
            self._index(case_id).add(row.index_id, pattern)
            self._owners[row.index_id] = (case_id, subject_pk)
        return Entry(row, subject_id or None, plate.strip(), pattern.text, note.strip())

    def entries(self, case_id: str) -> list[Entry]:
        with self._lc.db.transaction() as session:
            self._lc.case(session, case_id)
            rows = session.execute(
                select(m.PlateEntry, m.Subject.subject_id)
                .outerjoin(m.Subject, m.Subject.pk == m.PlateEntry.subject_pk)
                .where(m.PlateEntry.case_id == case_id)
                .order_by(m.PlateEntry.index_id)
            ).all()
            result = []
            for row, subject_id in rows:
                plate, note = self._decrypt(session, row)
                result.append(Entry(row, subject_id, plate, parse_entry(plate).text, note))
            return result

    def remove(self, actor: str, case_id: str, entry_id: str, reason: str) -> None:
        """Deletes one entry (secure_delete overwrites it) and takes it out of the index."""
        reason = require_reason(reason)
        with self._lock.write():
            with self._lc.db.transaction() as session:
                self._lc.case(session, case_id, for_update=True)
                row = session.scalars(
                    select(m.PlateEntry).where(m.PlateEntry.case_id == case_id, m.PlateEntry.id == entry_id)
                ).first()
                if row is None:
                    raise PolicyError(
                        Kind.NOT_FOUND,
                        "PLATE_ENTRY_NOT_FOUND",
                        f"plate entry {entry_id!r} does not exist in case {case_id!r}",
                    )
                index_id = row.index_id
                session.delete(row)
                self._lc.audit.append(
                    session,
                    actor=actor,
                    action=Action.PLATE_REMOVE,
                    resource=f"cases/{case_id}/plateEntries/{entry_id}",
                    reason=reason,
                    count=1,
                )
            index = self._indexes.get(case_id)
            if index is not None:
                index.remove(index_id)
            self._owners.pop(index_id, None)

    # --- reads ----------------------------------------------------------------------------

    def check(
        self,
        actor: str,
        case_ids: list[str],
        reads: list[PlateRead],
        policy: MatchPolicy,
        camera: str,
        reason: str,
    ) -> list[list[Hit]]:
        """Matches reads (one text, or every plate of a photo) against the named open cases, or
        every open case when none is named; one audit record for the whole check."""
        reason = require_reason(reason)
        if len(set(case_ids)) != len(case_ids):
            raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "name each case once")
        with self._lock.read():
            scopes = case_ids or sorted(self._indexes)
            candidates = [
                [
                    (case_id, hit)
                    for case_id in scopes
                    if case_id in self._indexes
                    for hit in self._indexes[case_id].match(read, policy)
                ]
                for read in reads
            ]
        del reads  # P7: the reads are used for this check only.
        with self._lc.db.transaction() as session:
            self._lc.require_open(session, case_ids)
            wanted = {hit.entry_id for found in candidates for _, hit in found}
            confirmed: dict[int, tuple[m.PlateEntry, str | None]] = {}
            if wanted:
                rows = session.execute(
                    select(m.PlateEntry, m.Subject.subject_id)
                    .join(m.Case, m.Case.id == m.PlateEntry.case_id)
                    .outerjoin(m.Subject, m.Subject.pk == m.PlateEntry.subject_pk)
                    .where(
                        m.PlateEntry.index_id.in_(wanted),
                        m.Case.state == m.CASE_OPEN,
                        (m.PlateEntry.subject_pk.is_(None)) | (m.Subject.state == m.SUBJECT_ACTIVE),
                    )
                ).all()
                confirmed = {row.index_id: (row, subject_id) for row, subject_id in rows}
            results = []
            for found in candidates:
                hits = []
                for case_id, hit in found:
                    if hit.entry_id in confirmed:
                        row, subject_id = confirmed[hit.entry_id]
                        plate, _ = self._decrypt(session, row)
                        hits.append(Hit(row.id, case_id, subject_id, plate, hit))
                hits.sort(key=lambda h: (h.hit.rank_key(), h.case_id))
                results.append(hits)
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.PLATES_CHECK,
                resource=f"cases/{case_ids[0]}" if len(case_ids) == 1 else "cases",
                reason=reason,
                count=sum(len(hits) for hits in results),
                detail={"cases": case_ids or "all open", "camera": camera[:100], "reads": len(results)},
            )
        return results
