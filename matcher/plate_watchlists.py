"""Plate watchlists: entries stored encrypted in the system of record, matched in memory.

Each open case has a :class:`matcher.plates.PlateIndex` (FAISS candidates, exact verification)
holding the entries of the case and of its active subjects. Entries follow the face templates'
lifecycle: P1 to add, unmatchable at the commit that releases their subject (P2) or closes their
case (P3), destroyed by the purge worker, never rebuilt after a restart. Reads are used for one
check and dropped (P7); hits are confirmed against the database in the transaction that audits
the check, and the audit keeps only counts, never which vehicle was seen where (P8).

Least privilege (issue 17; P8, P10, P14; the decision is in the README's plate section). A read
must not be so uncertain that it names a pattern rather than a vehicle
(:mod:`matcher.plates.uncertainty`). A hit is derived data of its entry (P8): the caller sees it
in full only in the cases it investigates; any other hit (every hit of a camera gateway) is
stored as a :class:`~lifecycle.models.PlateHitRecord` under the entry's key, for the case's
investigators, destroyed with the entry, its subject or its case, and the caller learns only
that the read hit and an opaque reference.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.actions import Action
from lifecycle.cases import Lifecycle, require_reason
from lifecycle.errors import Kind, PolicyError
from matcher import crypto, wiping
from matcher.broadcast import Broadcast
from matcher.keys import ScopeKeys
from matcher.plates import (
    MatchPolicy,
    PlateError,
    PlateErrorReason,
    PlateHit,
    PlateIndex,
    PlateRead,
    parse_entry,
)
from matcher.plates.hits import Edit, EditOp, MatchKind
from matcher.plates.uncertainty import ReadLimits
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


@dataclass(frozen=True)
class ReadOutcome:
    """One read's answer: the hits the caller may see, whether it hit at all, and the opaque
    reference of the hits stored for others (empty when none were)."""

    hits: list[Hit]
    hit: bool
    reference: str


@dataclass(frozen=True)
class StoredHit:
    """A stored hit, decrypted, for the case's investigators."""

    record: m.PlateHitRecord
    subject_id: str | None
    plate: str
    read: str
    camera: str
    hit: PlateHit


def hit_aad(row: m.PlateHitRecord) -> bytes:
    return f"matcher/v1/plate-hit/{row.case_id}/{row.subject_pk}/{row.id}".encode()


def plate_refusal(error: PlateError) -> PolicyError:
    # A read too uncertain to name a vehicle would name many (issue 17): P8's "derived data".
    rule = "P8" if error.reason is PlateErrorReason.READ_TOO_UNCERTAIN else None
    return PolicyError(Kind.INVALID_ARGUMENT, str(error.reason), str(error), rule=rule)


def entry_aad(row: m.PlateEntry) -> bytes:
    """What a plate entry's ciphertext is bound to (also re-encrypted by matcher.kek_rotation)."""
    return f"matcher/v1/plate-entry/{row.case_id}/{row.subject_pk}/{row.id}".encode()


class PlateWatchlists:
    """Implements :class:`lifecycle.purge_listener.PurgeListener` for the plate indexes."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        keys: ScopeKeys,
        limits: ReadLimits,
        hit_retention: timedelta = timedelta(days=30),
    ) -> None:
        self._lc = lifecycle
        self._keys = keys
        self.limits = limits
        self._hit_retention = hit_retention
        # Stored hits, told at once to the case's investigators watching (WatchPlateHits).
        self.hub: Broadcast[StoredHit] = Broadcast()
        # Hits other replicas stored reach this one's watchers too (matcher.replication): the
        # newest record seen, and the records this process published itself since.
        with lifecycle.db.reading() as session:
            self._hit_cursor = int(session.scalar(select(func.max(m.PlateHitRecord.pk))) or 0)
        self._published_here: set[int] = set()
        self._lock = RWLock()
        self._indexes: dict[str, PlateIndex] = {}
        # index id -> (case, subject pk); the index itself only knows integers.
        self._owners: dict[int, tuple[str, int | None]] = {}
        self._epoch = 0  # bumped by every revocation here (see ``reconcile``)
        lifecycle.subscribe(self)
        lifecycle.add_due_source(self)  # P9: stored hits expire (the purge worker asks)

    # --- PurgeListener --------------------------------------------------------------------

    @contextmanager
    def revoking(self) -> Iterator[None]:
        with self._lock.write():
            yield

    def basis_ended(self, case_id: str, subject_pk: int | None) -> None:
        with self._lock.write():
            self._epoch += 1
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
        plain = wiping.decrypt_into(key, row.nonce, row.ciphertext, entry_aad(row))
        with wiping.wiped(plain):  # The JSON buffer goes at once; the strings live as long as needed.
            payload = json.loads(plain)
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

    def reconcile(self) -> tuple[int, int]:
        """Makes the indexes hold exactly the entries the system of record says are matchable
        (another replica's additions, removals, releases and closes); returns (dropped, added).
        A revocation here while entries were being decrypted discards the additions (the next
        notice retries), so nothing revoked is added back."""
        epoch = self._epoch
        with self._lc.db.reading() as session:
            wanted = {
                row.index_id: (row.case_id, row.subject_pk)
                for row in session.execute(
                    select(m.PlateEntry.index_id, m.PlateEntry.case_id, m.PlateEntry.subject_pk)
                    .join(m.Case, m.Case.id == m.PlateEntry.case_id)
                    .outerjoin(m.Subject, m.Subject.pk == m.PlateEntry.subject_pk)
                    .where(
                        m.Case.state == m.CASE_OPEN,
                        (m.PlateEntry.subject_pk.is_(None)) | (m.Subject.state == m.SUBJECT_ACTIVE),
                    )
                )
            }
        dropped = 0
        with self._lock.write():
            for index_id, (case_id, _) in list(self._owners.items()):
                if index_id not in wanted:
                    index = self._indexes.get(case_id)
                    if index is not None:
                        index.remove(index_id)
                    del self._owners[index_id]
                    dropped += 1
            missing = [index_id for index_id in wanted if index_id not in self._owners]
        if not missing:
            return dropped, 0
        with self._lc.db.reading() as session:
            rows = session.scalars(select(m.PlateEntry).where(m.PlateEntry.index_id.in_(missing))).all()
            plates = [
                (row.index_id, row.case_id, row.subject_pk, self._decrypt(session, row)[0]) for row in rows
            ]
        added = 0
        with self._lock.write():
            if self._epoch != epoch:
                return dropped, 0
            for index_id, case_id, subject_pk, plate in plates:
                if index_id not in self._owners:
                    self._index(case_id).add(index_id, parse_entry(plate))
                    self._owners[index_id] = (case_id, subject_pk)
                    added += 1
        return dropped, added

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
                row.nonce, row.ciphertext = crypto.encrypt(key, plaintext, entry_aad(row))
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
                session.execute(  # Its hits go with it (P8: derived data).
                    delete(m.PlateHitRecord).where(
                        m.PlateHitRecord.case_id == case_id, m.PlateHitRecord.entry_id == entry_id
                    )
                )
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
        *,
        detail_cases: frozenset[str] = frozenset(),
        captured_at: datetime | None = None,
        too_uncertain: int = 0,
    ) -> list[ReadOutcome]:
        """Matches reads (one text, or every plate of a photo) against the named open cases, or
        every open case when none is named; one audit record for the whole check.

        Least privilege (issue 17; P8, P10, P14). ``detail_cases`` are the cases the caller
        investigates: their hits are answered in full (entry, plate, case, subject). A hit in any
        other case (every hit of a camera gateway's read) is not shown: it is stored as a
        :class:`~lifecycle.models.PlateHitRecord` for the case's investigators, and the caller
        learns only that the read hit and an opaque reference. Only those cases may be named:
        a caller naming another case (a gateway probing which cases exist) is refused.

        Every read must pass :attr:`limits` (``READ_TOO_UNCERTAIN`` otherwise, issue 17);
        ``too_uncertain`` counts the plates of a photo left unchecked for that, for the record.
        The audit record says that a check happened and how many hits, never a plate (P7, P8).
        """
        reason = require_reason(reason)
        if len(set(case_ids)) != len(case_ids):
            raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "name each case once")
        if any(case_id not in detail_cases for case_id in case_ids):
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "FIELD_INVALID",
                "only a case's investigators name its watchlist; a camera's read is checked "
                "against every open case's, so name no case",
                rule="P10",
            )
        for read in reads:  # Issue 17: before the index is consulted, so it matches nothing.
            try:
                self.limits.check(read, policy)
            except PlateError as error:
                raise plate_refusal(error) from None
        read_texts = [read.text for read in reads]
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
        del reads  # P7: the reads are used for this check only (and kept only in stored hits).
        now = self._lc.clock.now()
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
            hit_count = 0
            stored: list[StoredHit] = []
            for read_text, found in zip(read_texts, candidates, strict=True):
                shown: list[Hit] = []
                reference = ""
                for case_id, hit in found:
                    if hit.entry_id not in confirmed:
                        continue
                    row, subject_id = confirmed[hit.entry_id]
                    hit_count += 1
                    if case_id in detail_cases:
                        plate, _ = self._decrypt(session, row)
                        shown.append(Hit(row.id, case_id, subject_id, plate, hit))
                        continue
                    reference = reference or secrets.token_hex(8)
                    record = self._store_hit(
                        session, row, hit, read_text, camera, captured_at, reference, actor, now
                    )
                    plate, _ = self._decrypt(session, row)
                    stored.append(StoredHit(record, subject_id, plate, read_text, camera[:100], hit))
                shown.sort(key=lambda h: (h.hit.rank_key(), h.case_id))
                results.append(ReadOutcome(shown, bool(shown) or bool(reference), reference))
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.PLATES_CHECK,
                resource=f"cases/{case_ids[0]}" if len(case_ids) == 1 else "cases",
                reason=reason,
                count=hit_count,
                detail={
                    "cases": case_ids or "all open",
                    "camera": camera[:100],
                    "reads": len(results) + too_uncertain,
                    "too_uncertain": too_uncertain,
                    "hits_stored": len(stored),
                    "rule": "P8",
                },
            )
            if stored:
                session.flush()  # Assigns the records' pks (resume tokens).
        self._published_here.update(hit.record.pk for hit in stored)
        self.hub.publish(stored)  # After the commit: told only what is stored.
        return results

    # --- stored hits (issue 17) -----------------------------------------------------------

    def _store_hit(
        self,
        session: Session,
        entry: m.PlateEntry,
        hit: PlateHit,
        read: str,
        camera: str,
        captured_at: datetime | None,
        reference: str,
        actor: str,
        now: datetime,
    ) -> m.PlateHitRecord:
        """Stores one hit under the entry's key (P2, P3 erase it with the entry)."""
        row = m.PlateHitRecord(
            id=secrets.token_hex(8),
            reference=reference,
            case_id=entry.case_id,
            subject_pk=entry.subject_pk,
            entry_id=entry.id,
            nonce=b"",
            ciphertext=b"",
            captured_at=captured_at,
            created_at=now,
            created_by=actor,
        )
        payload = {
            "read": read,
            "camera": camera[:100],
            "kind": hit.kind.value,
            "distance": hit.distance,
            "edits": [[e.op.value, e.position, e.entry_char, e.read_char] for e in hit.edits],
            "unknown": list(hit.unknown_positions),
        }
        key = self._key(session, entry.case_id, entry.subject_pk, create=False)
        row.nonce, row.ciphertext = crypto.encrypt(key, json.dumps(payload).encode(), hit_aad(row))
        session.add(row)
        return row

    # --- DueSource: P9, a stored hit is a plate read, kept 30 days --------------------------

    def expire_due(self) -> None:
        """Deletes the stored hits older than the retention period (P9: plate reads are
        surveillance data, kept 30 days by default), except in a case under a legal hold (P4);
        one audit record per case, with the count."""
        now = self._lc.clock.now()
        cutoff = now - self._hit_retention
        with self._lc.db.transaction() as session:
            cases = list(
                session.scalars(
                    select(m.PlateHitRecord.case_id).where(m.PlateHitRecord.created_at <= cutoff).distinct()
                )
            )
            for case_id in sorted(cases):
                if self._lc.held_until(session, case_id, now) is not None:
                    continue
                expired = delete(m.PlateHitRecord).where(
                    m.PlateHitRecord.case_id == case_id, m.PlateHitRecord.created_at <= cutoff
                )
                count = session.execute(expired).rowcount  # type: ignore[attr-defined]
                self._lc.audit.append(
                    session,
                    actor="system:purge-worker",
                    action="plate.hits.expire",
                    resource=f"cases/{case_id}",
                    reason=f"stored plate hits are kept {self._hit_retention.days} days",
                    count=int(count or 0),
                    detail={"rule": "P9"},
                )

    def next_due(self) -> datetime | None:
        """When the next stored hit expires (or, in a held case, when its hold ends)."""
        now = self._lc.clock.now()
        with self._lc.db.reading() as session:
            oldest = session.execute(
                select(m.PlateHitRecord.case_id, func.min(m.PlateHitRecord.created_at)).group_by(
                    m.PlateHitRecord.case_id
                )
            ).all()
            due = []
            for case_id, created_at in oldest:
                at = created_at + self._hit_retention
                held = self._lc.held_until(session, case_id, now)
                due.append(max(at, held) if held is not None else at)
            return min(due, default=None)

    def latest_hit(self, case_id: str) -> int:
        """The pk of the case's newest stored hit (0 when none): where a watch starts."""
        with self._lc.db.transaction() as session:
            return int(
                session.scalar(
                    select(func.max(m.PlateHitRecord.pk)).where(m.PlateHitRecord.case_id == case_id)
                )
                or 0
            )

    def catch_up_hits(self) -> int:
        """Publishes to this process's watchers the hits other replicas stored since the last
        look (at least once: a watcher's stream skips what it already sent)."""
        with self._lc.db.reading() as session:
            rows = session.execute(
                select(m.PlateHitRecord.pk, m.PlateHitRecord.case_id)
                .where(m.PlateHitRecord.pk > self._hit_cursor)
                .order_by(m.PlateHitRecord.pk)
            ).all()
        if not rows:
            return 0
        after, theirs = self._hit_cursor, {pk for pk, _ in rows if pk not in self._published_here}
        self._hit_cursor = max(pk for pk, _ in rows)
        self._published_here = {pk for pk in self._published_here if pk > self._hit_cursor}
        found: list[StoredHit] = []
        for case_id in sorted({case_id for pk, case_id in rows if pk in theirs}):
            found += [h for h in self.stored_hits(case_id, after, len(rows)) if h.record.pk in theirs]
        self.hub.publish(found)
        return len(found)

    def stored_hits(self, case_id: str, after: int, limit: int) -> list[StoredHit]:
        """The case's stored hits, oldest first, after the record ``after`` (its pk), with their
        entries; for the case's assigned investigators only (the permission table says so)."""
        with self._lc.db.transaction() as session:
            self._lc.case(session, case_id)
            rows = session.execute(
                select(m.PlateHitRecord, m.PlateEntry, m.Subject.subject_id)
                .join(m.PlateEntry, m.PlateEntry.id == m.PlateHitRecord.entry_id)
                .outerjoin(m.Subject, m.Subject.pk == m.PlateHitRecord.subject_pk)
                .where(m.PlateHitRecord.case_id == case_id, m.PlateHitRecord.pk > after)
                .order_by(m.PlateHitRecord.pk)
                .limit(limit)
            ).all()
            result = []
            for record, entry, subject_id in rows:
                plate, _ = self._decrypt(session, entry)
                key = self._key(session, record.case_id, record.subject_pk, create=False)
                payload = json.loads(crypto.decrypt(key, record.nonce, record.ciphertext, hit_aad(record)))
                hit = PlateHit(
                    entry.index_id,
                    MatchKind(payload["kind"]),
                    int(payload["distance"]),
                    tuple(Edit(EditOp(op), int(pos), ec, rc) for op, pos, ec, rc in payload["edits"]),
                    tuple(int(p) for p in payload["unknown"]),
                )
                result.append(
                    StoredHit(record, subject_id, plate, str(payload["read"]), str(payload["camera"]), hit)
                )
            return result
