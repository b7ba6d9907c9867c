"""KEK rotation: the step of a purge that destroys every copy of the purged scope's key (P2, P3, P5, P18).

Deleting a key's row leaves copies (PostgreSQL's dead tuples and WAL, every backup), each wrapped
by the KEK. Rotation makes those copies useless:

1. a new KEK generation is written to its own private file (:mod:`matcher.kek`);
2. in one transaction it becomes current and every surviving scope key is re-wrapped under it;
   a case that lost a subject (P2) also gets a new case key, under which its surviving subject
   keys are re-wrapped and its case-level watchlist entries re-encrypted, because the purged
   subject's key, in a backup, is wrapped by the case key and not by the KEK;
3. once that is durable and no stored key names an older generation, every older generation's
   file is overwritten, fsynced and removed.

A crash after 1 or 2 leaves two generations; :meth:`KekRotation.recover` (at start, before the
service serves) finishes the re-wrap and destroys the old ones. The purge worker runs one rotation
for all purges that reached it together, and reports them done only after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle import faults
from lifecycle import models as m
from lifecycle import order_models as o
from lifecycle import search_models as w
from lifecycle.db import Database
from matcher import crypto
from matcher.kek import KekGenerations
from matcher.keys import hold_kek, order_key_aad, waiver_key_aad
from matcher.plate_watchlists import entry_aad, hit_aad

log = logging.getLogger(__name__)


class KekRotation:
    """Implements :class:`lifecycle.purge.KeyRotation` over the KEK generations' files."""

    def __init__(self, db: Database, keks: KekGenerations) -> None:
        self._db = db
        self._keks = keks

    @property
    def generation(self) -> int:
        return self._keks.current

    def rotate(self, refresh_cases: Collection[str] = ()) -> int:
        """Re-wraps every surviving key under a new generation and destroys the old ones."""
        started = time.perf_counter()
        generation = self._keks.write_generation()
        faults.hit("kek.after_generation_written")
        rewrapped = self._rewrap(generation, refresh_cases)
        faults.hit("kek.after_rewrap")
        destroyed = self._destroy_older(generation)
        faults.hit("kek.after_old_destroyed")
        log.info(
            "KEK generation %d: %d scope keys re-wrapped, %d case keys renewed, generations %s "
            "destroyed, in %.3f s",
            generation,
            rewrapped,
            len(refresh_cases),
            destroyed,
            time.perf_counter() - started,
        )
        return generation

    def refresh(self) -> None:
        """Another replica changed the shared key folder (a rotation): take it in."""
        self._keks.refresh()

    def recover(self) -> None:
        """Finishes a rotation a crash interrupted: both generations present (at start)."""
        generations = self._keks.generations
        if len(generations) == 1:
            return
        current = self._keks.current
        log.warning("KEK generations %s present: finishing an interrupted rotation", generations)
        self._rewrap(current, ())
        self._destroy_older(current)

    # --- the steps ----------------------------------------------------------------------------

    def _rewrap(self, generation: int, refresh_cases: Collection[str]) -> int:
        """Step 2: one transaction. New keys are wrapped under ``generation`` from its start.

        The switch happens inside the writer's unit, so every key another unit wrapped before is
        visible here (and re-wrapped), and every key wrapped after is under the new generation.
        """
        keks = self._keks
        with self._db.transaction() as session:
            hold_kek(session, exclusive=True)  # replicas: no key is being wrapped meanwhile
            keks.make_current(generation)
            for case_id in sorted(refresh_cases):
                self._renew_case_key(session, case_id)
            count = 0
            for row in session.scalars(select(m.DataKey).where(m.DataKey.subject_pk.is_(None))):
                if keks.generation_of(row.wrapped) != generation:
                    row.wrapped = keks.rewrap(row.wrapped, crypto.case_key_aad(row.case_id))
                    count += 1
            for order_key in session.scalars(select(o.OrderKey)):
                if keks.generation_of(order_key.wrapped) != generation:
                    order_key.wrapped = keks.rewrap(order_key.wrapped, order_key_aad(order_key.order_id))
                    count += 1
            for waiver_key in session.scalars(select(w.WaiverKey)):  # P15's searches outside cases
                if keks.generation_of(waiver_key.wrapped) != generation:
                    waiver_key.wrapped = keks.rewrap(waiver_key.wrapped, waiver_key_aad(waiver_key.waiver_id))
                    count += 1
        return count

    def _renew_case_key(self, session: Session, case_id: str) -> None:
        """P2: a new case key, so the released subject's key (wrapped by the old one) stays dead."""
        keks = self._keks
        case_row = session.scalars(
            select(m.DataKey).where(m.DataKey.case_id == case_id, m.DataKey.subject_pk.is_(None))
        ).first()
        if case_row is None:
            return  # The case itself was purged.
        case_aad = crypto.case_key_aad(case_id)
        old = keks.unwrap(None, case_row.wrapped, case_aad)
        new, case_row.wrapped = keks.new_key(None, case_aad)
        subjects = session.scalars(
            select(m.DataKey).where(m.DataKey.case_id == case_id, m.DataKey.subject_pk.is_not(None))
        )
        for row in subjects:
            assert row.subject_pk is not None
            aad = crypto.subject_key_aad(case_id, row.subject_pk)
            row.wrapped = keks.wrap(new, keks.unwrap(old, row.wrapped, aad), aad)
        entries = session.scalars(
            select(m.PlateEntry).where(m.PlateEntry.case_id == case_id, m.PlateEntry.subject_pk.is_(None))
        )
        for entry in entries:
            aad = entry_aad(entry)
            plain = crypto.decrypt(old, entry.nonce, entry.ciphertext, aad)
            entry.nonce, entry.ciphertext = crypto.encrypt(new, plain, aad)
        # Stored gateway hits of those entries are under the case key too (issue 17).
        hits = session.scalars(
            select(m.PlateHitRecord).where(
                m.PlateHitRecord.case_id == case_id, m.PlateHitRecord.subject_pk.is_(None)
            )
        )
        for hit in hits:
            aad = hit_aad(hit)
            plain = crypto.decrypt(old, hit.nonce, hit.ciphertext, aad)
            hit.nonce, hit.ciphertext = crypto.encrypt(new, plain, aad)

    def _destroy_older(self, generation: int) -> list[int]:
        """Step 3: only once no stored key names an older generation (checked on a fresh read)."""
        with self._db.reading() as session:
            wrapped = list(session.scalars(select(m.DataKey.wrapped).where(m.DataKey.subject_pk.is_(None))))
            wrapped += list(session.scalars(select(o.OrderKey.wrapped)))
            wrapped += list(session.scalars(select(w.WaiverKey.wrapped)))
        stale = sum(1 for blob in wrapped if self._keks.generation_of(blob) != generation)
        if stale:
            raise RuntimeError(f"{stale} keys are not yet under KEK generation {generation}; retrying")
        return self._keks.destroy_before(generation)
