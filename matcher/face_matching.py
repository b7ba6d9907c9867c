"""Face enrolment and search over the system of record and the in-memory galleries.

The database holds every template, encrypted (decision 1); the galleries hold only what may be
matched right now: templates of active subjects of open cases, decrypted at start-up or at
enrolment.

Fairness (issue 12): the galleries' readers-writer lock is held only for an in-memory change,
never across a database commit (which waits for the group committer and a disk flush) or a
photo's inference, so a search waits for at most one such change. What makes that safe:

- An enrolment's templates are staged during its unit of work and added to the gallery only
  after the commit is durable (:meth:`FaceMatcher.staging`), so a search never returns a template
  whose enrolment has not committed. A revocation of the same scope that ended in between wins:
  its templates are discarded, not added back.
- A revocation (release, close, an order's or waiver's end) commits first and then drops the
  in-memory copies under the write side (commit-then-drop). In the window between the two, every
  search confirms its hits against the system of record after the index answered (case searches
  in :meth:`FaceMatcher.search`; orders and waivers in the transaction that stores their alert or
  audit), so a search either completed before the revocation or never answers with the revoked
  data (P2, P3). The same confirmation makes a replica whose memory lags behind another's
  revocation safe.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.actions import Action
from lifecycle.cases import Lifecycle, require_reason
from lifecycle.errors import Kind, PolicyError
from matcher import crypto, wiping
from matcher.embeddings import Vector
from matcher.gallery import FaceGallery, GalleryHit, Vectors
from matcher.keys import ScopeKeys
from matcher.rwlock import RWLock

log = logging.getLogger(__name__)
# Compiled once (SQLAlchemy caches its compiled form): the hits that are still matchable.
_CONFIRM = (
    select(m.FaceTemplate.id, m.Subject.subject_id)
    .join(m.Subject, m.Subject.pk == m.FaceTemplate.subject_pk)
    .join(m.Case, m.Case.id == m.FaceTemplate.case_id)
    .where(
        m.FaceTemplate.id.in_(bindparam("ids", expanding=True)),
        m.Subject.state == bindparam("active"),
        m.Case.state == bindparam("open"),
    )
)
MAX_CASES_PER_SEARCH = 1000
MAX_TOP_K = 100


@dataclass(frozen=True)
class FaceMatch:
    case_id: str
    subject_id: str
    template_id: str
    score: float


class FaceMatcher:
    """Implements :class:`lifecycle.purge_listener.PurgeListener` for the face galleries."""

    def __init__(self, lifecycle: Lifecycle, keys: ScopeKeys, models: dict[str, int]) -> None:
        self._lc = lifecycle
        self._keys = keys
        self.models = dict(models)
        self._galleries = {model: FaceGallery(dim) for model, dim in models.items()}
        self._lock = RWLock()
        # Bumped by every revocation here: a reconciliation that read the database before one
        # must not add back what it revoked (see ``sync``).
        self._epoch = 0
        # Enrolments between their unit of work and their addition, and the revocations that
        # happened meanwhile (epoch, scope, owner or None for the whole scope).
        self._staged_units = 0
        self._ended: list[tuple[int, str, int | None]] = []
        lifecycle.subscribe(self)

    # --- PurgeListener --------------------------------------------------------------------

    @contextmanager
    def revoking(self) -> Iterator[None]:
        """Blocks nothing: searches stay correct across the commit by query-time confirmation,
        and ``basis_ended`` drops the copies right after it (see the module's docstring)."""
        yield

    def basis_ended(self, case_id: str, subject_pk: int | None) -> None:
        with self._lock.write():
            self._epoch += 1
            if self._staged_units:  # An enrolment committing meanwhile must not add these back.
                self._ended.append((self._epoch, case_id, subject_pk))
            for gallery in self._galleries.values():
                if subject_pk is None:
                    gallery.drop_case(case_id)
                else:
                    gallery.drop_subject(case_id, subject_pk)

    # --- keys -----------------------------------------------------------------------------

    def model_dim(self, model: str) -> int:
        dim = self.models.get(model)
        if dim is None:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "MODEL_UNKNOWN",
                f"model {model!r} is not served here; models: {', '.join(sorted(self.models))}",
            )
        return dim

    # --- start-up -------------------------------------------------------------------------

    def rebuild(self) -> int:
        """Loads the templates of active subjects of open cases, and nothing else (decision 1)."""
        loaded = 0
        with self._lock.write(), self._lc.db.transaction() as session:
            subjects = session.execute(
                select(m.Subject.case_id, m.Subject.pk)
                .join(m.Case, m.Case.id == m.Subject.case_id)
                .where(m.Case.state == m.CASE_OPEN, m.Subject.state == m.SUBJECT_ACTIVE)
                .order_by(m.Subject.pk)
            ).all()
            for case_id, subject_pk in subjects:
                templates = list(
                    session.scalars(select(m.FaceTemplate).where(m.FaceTemplate.subject_pk == subject_pk))
                )
                if not templates:
                    continue
                key = self._keys.subject_key(session, case_id, subject_pk, create=False)
                by_model: dict[str, tuple[list[str], list[bytearray]]] = {}
                for template in templates:
                    if template.model not in self._galleries:
                        continue  # Reported by the caller: stored under a model not served now.
                    # Decrypted into a buffer that is zeroed below, never into immutable bytes.
                    plain = wiping.decrypt_into(
                        key,
                        template.nonce,
                        template.ciphertext,
                        crypto.template_aad(case_id, subject_pk, template.id, template.model),
                    )
                    ids, plains = by_model.setdefault(template.model, ([], []))
                    ids.append(template.id)
                    plains.append(plain)
                for model, (ids, plains) in by_model.items():
                    vectors = np.stack([np.frombuffer(plain, dtype="<f4") for plain in plains])
                    with wiping.wiped(vectors, *plains):
                        self._galleries[model].add(
                            case_id, subject_pk, ids, vectors.astype(np.float32, copy=False)
                        )
                    loaded += len(ids)
        return loaded

    def unserved_models(self) -> dict[str, int]:
        """Models that stored templates were made with but that are not configured now."""
        with self._lc.db.reading() as session:
            rows = session.execute(select(m.FaceTemplate.model, func.count()).group_by(m.FaceTemplate.model))
            return {model: count for model, count in rows if model not in self.models}

    # --- enrolment ------------------------------------------------------------------------

    def enroll(
        self, actor: str, case_id: str, subject_id: str, vector: Vector, model: str, reason: str
    ) -> m.FaceTemplate:
        """P1: stores the template encrypted and makes it matchable, atomically with its audit."""
        return self.enroll_many(actor, case_id, subject_id, vector[np.newaxis, :], model, reason)[0]

    def enroll_many(
        self, actor: str, case_id: str, subject_id: str, vectors: Vectors, model: str, reason: str
    ) -> list[m.FaceTemplate]:
        """Enrols several L2-normalised templates of one subject in one transaction (bulk loads).

        The P1 check, the encrypted rows, the audit record (with the count) and the gallery
        update happen together or not at all.
        """
        reason = require_reason(reason)
        dim = self.model_dim(model)
        if vectors.ndim != 2 or vectors.shape[1] != dim or not len(vectors):
            raise ValueError("vectors do not have the model's dimension")
        ids = [secrets.token_hex(8) for _ in range(len(vectors))]
        now = self._lc.clock.now()
        with self.staging() as staged:
            with self._lc.db.transaction() as session:
                subject = self._lc.targetable_subject(session, case_id, subject_id)
                key = self._keys.subject_key(session, case_id, subject.pk, create=True)
                rows = []
                for template_id, vector in zip(ids, vectors, strict=True):
                    plain = np.ascontiguousarray(vector, dtype="<f4")  # No copy for a float32 row.
                    nonce, ciphertext = crypto.encrypt(
                        key,
                        wiping.as_bytes(plain),  # Encrypted from the array: no bytes copy to leave behind.
                        crypto.template_aad(case_id, subject.pk, template_id, model),
                    )
                    if plain is not vector:  # A copy was made after all (another dtype): zero it.
                        wiping.wipe(plain)
                    rows.append(
                        m.FaceTemplate(
                            id=template_id,
                            case_id=case_id,
                            subject_pk=subject.pk,
                            model=model,
                            dim=dim,
                            nonce=nonce,
                            ciphertext=ciphertext,
                            created_at=now,
                            created_by=actor,
                        )
                    )
                session.add_all(rows)
                self._lc.audit.append(
                    session,
                    actor=actor,
                    action=Action.FACE_ENROLL,
                    resource=f"cases/{case_id}/subjects/{subject_id}",
                    reason=reason,
                    count=len(rows),
                    detail={"templates": ids[:20], "model": model, "rule": "P1"},
                )
            staged.add(case_id, subject.pk, ids, vectors, model)
        return rows

    def templates(self, case_id: str, subject_id: str) -> list[m.FaceTemplate]:
        with self._lc.db.reading() as session:
            subject = self._lc.subject(session, case_id, subject_id)
            return list(
                session.scalars(
                    select(m.FaceTemplate)
                    .where(m.FaceTemplate.subject_pk == subject.pk)
                    .order_by(m.FaceTemplate.created_at, m.FaceTemplate.id)
                )
            )

    # --- search ---------------------------------------------------------------------------

    def search(
        self,
        actor: str,
        case_ids: list[str],
        probes: list[Vector],
        model: str,
        reason: str,
        top_k: int,
        min_score: float,
    ) -> list[list[FaceMatch]]:
        """Exact search of the probes in the named open cases; the probes are not kept (P7)."""
        reason = require_reason(reason)
        if not case_ids:
            raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "name at least one case to search")
        if len(set(case_ids)) != len(case_ids) or len(case_ids) > MAX_CASES_PER_SEARCH:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "FIELD_INVALID",
                f"name each case once, at most {MAX_CASES_PER_SEARCH} cases per search",
            )
        if not 1 <= top_k <= MAX_TOP_K:
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"top_k must be between 1 and {MAX_TOP_K}"
            )
        if not -1.0 <= min_score <= 1.0:
            raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "min_score must be between -1 and 1")
        self.model_dim(model)
        batch = np.stack(probes).astype(np.float32, copy=False)
        with self._lock.read(), wiping.wiped(batch):  # P7: the probe is used for this match only.
            gallery_hits = self._galleries[model].search(case_ids, batch, top_k, min_score)
        wanted = {hit.template_id for hits in gallery_hits for hit in hits}
        # Query-time confirmation (decision 4): the named cases are open, and every hit is still
        # an active subject's template of an open case, read from the system of record after the
        # index answered. Read on a reader, never the writer's lock (decision 11).
        with self._lc.db.reading() as session:
            self._lc.require_open(session, case_ids)
            confirmed = self._confirmed(session, wanted) if wanted else {}
        results = [
            [
                FaceMatch(hit.case_id, confirmed[hit.template_id], hit.template_id, hit.score)
                for hit in hits
                if hit.template_id in confirmed
            ]
            for hits in gallery_hits
        ]
        self._lc.audit.record(
            actor=actor,
            action=Action.FACES_SEARCH,
            resource=search_resource(case_ids),
            reason=reason,
            count=sum(len(matches) for matches in results),
            detail={
                "cases": case_ids,
                "probes": len(probes),
                "top_k": top_k,
                "min_score": round(min_score, 4),
                "model": model,
            },
        )
        return results

    @staticmethod
    def _confirmed(session: Session, template_ids: set[str]) -> dict[str, str]:
        """The hits that are still matchable: template id -> subject id."""
        return dict(
            session.execute(
                _CONFIRM, {"ids": list(template_ids), "active": m.SUBJECT_ACTIVE, "open": m.CASE_OPEN}
            ).all()
        )

    # --- replicas: what other processes committed -------------------------------------------

    def reconcile(self) -> tuple[int, int]:
        """Makes the case galleries hold exactly the templates the system of record says are
        matchable now: other processes' enrolments are added, their releases and closes dropped.

        Called when another replica committed a change to cases, subjects or templates
        (:mod:`matcher.replication`); idempotent, so a missed notice costs only latency.
        """

        def wanted() -> dict[str, tuple[str, int, str]]:
            with self._lc.db.reading() as session:
                rows = session.execute(
                    select(
                        m.FaceTemplate.id,
                        m.FaceTemplate.case_id,
                        m.FaceTemplate.subject_pk,
                        m.FaceTemplate.model,
                    )
                    .join(m.Subject, m.Subject.pk == m.FaceTemplate.subject_pk)
                    .join(m.Case, m.Case.id == m.FaceTemplate.case_id)
                    .where(m.Case.state == m.CASE_OPEN, m.Subject.state == m.SUBJECT_ACTIVE)
                ).all()
            return {row.id: (row.case_id, row.subject_pk, row.model) for row in rows}

        # Case scopes are bare case ids; orders/... and waivers/... scopes are reconciled elsewhere.
        return self.sync(wanted, self._load_case_templates, lambda scope: "/" not in scope)

    def _load_case_templates(self, template_ids: list[str]) -> dict[str, Vector]:
        loaded: dict[str, Vector] = {}
        with self._lc.db.reading() as session:
            for template in session.scalars(
                select(m.FaceTemplate).where(m.FaceTemplate.id.in_(template_ids))
            ):
                key = self._keys.subject_key(session, template.case_id, template.subject_pk, create=False)
                loaded[template.id] = wiping.decrypt_vector(
                    key,
                    template.nonce,
                    template.ciphertext,
                    crypto.template_aad(template.case_id, template.subject_pk, template.id, template.model),
                )
        return loaded

    def sync(
        self,
        read_wanted: Callable[[], Mapping[str, tuple[str, int, str]]],
        load: Callable[[list[str]], dict[str, Vector]],
        mine: Callable[[str], bool],
    ) -> tuple[int, int]:
        """Makes the scopes ``mine`` selects hold exactly what ``read_wanted`` says (template id ->
        (scope, owner, model)); ``load`` decrypts the missing ones. Returns (dropped, added).

        The wanted set is read under the write side, so no enrolment of this process can be
        added between the read and the comparison (one that committed before the read is in
        it; one that commits after cannot have been added yet). Owners no longer wanted are
        dropped as a revocation is (an enrolment committing meanwhile does not add them back).
        Decryption happens outside the lock, as an enrolment's does, and what a revocation ended
        meanwhile is not added; nor is what an enrolment added meanwhile added twice.
        """
        dropped = 0
        with self._lock.write():
            wanted = read_wanted()
            owners = {(scope, owner) for scope, owner, _ in wanted.values()}
            held: set[str] = set()
            for gallery in self._galleries.values():
                entries = gallery.entries()
                stale = {
                    (scope, owner)
                    for scope, owner in entries.values()
                    if mine(scope) and (scope, owner) not in owners
                }
                for scope, owner in stale:
                    self._epoch += 1
                    if self._staged_units:
                        self._ended.append((self._epoch, scope, owner))
                    dropped += gallery.drop_subject(scope, owner)
                held.update(t for t, pair in entries.items() if pair not in stale)
            missing = [t for t, (_, _, model) in wanted.items() if t not in held and model in self._galleries]
            if not missing:
                return dropped, 0
            epoch = self._epoch
            self._staged_units += 1
        try:
            vectors = load(missing)
        except BaseException:
            with self._lock.write():
                self._unstage()
            raise
        added = 0
        with self._lock.write():
            ended = [(scope, owner) for at, scope, owner in self._ended if at > epoch]
            self._unstage()
            groups: dict[tuple[str, int, str], list[str]] = {}
            for template in missing:
                scope, owner, model = wanted[template]
                revoked = any(s == scope and o in (None, owner) for s, o in ended)
                if template in vectors and not revoked and not self._galleries[model].holds(template):
                    groups.setdefault(wanted[template], []).append(template)
            for (scope, owner, model), ids in groups.items():
                self._galleries[model].add(scope, owner, ids, np.stack([vectors[t] for t in ids]))
                added += len(ids)
        wiping.wipe(*vectors.values())  # the galleries hold their own copies
        return dropped, added

    # --- other scopes (registered-individual orders) ---------------------------------------

    @contextmanager
    def changing(self) -> Iterator[None]:
        """The write side of the lock, for a start-up load (``rebuild``) that adds under it."""
        with self._lock.write():
            yield

    def add_to_scope(
        self, scope: str, owner: int, template_ids: list[str], vectors: Vectors, model: str
    ) -> None:
        """Makes templates matchable at once; only for a start-up load inside ``changing()``
        (an enrolment stages its templates instead, see ``staging``)."""
        self.model_dim(model)
        matchable = vectors.astype(np.float32)
        with self._lock.write(), wiping.wiped(matchable):
            self._galleries[model].add(scope, owner, template_ids, matchable)

    @contextmanager
    def staging(self) -> Iterator[Staged]:
        """Wraps an enrolment's unit of work: what it stages becomes matchable once the block
        ends without an error (the commit is durable by then), under the write side for the
        in-memory change only. A block that raises adds nothing; a revocation of the same scope
        or owner that ended since the block began wins (its templates are wiped, not added)."""
        with self._lock.write():
            epoch = self._epoch
            self._staged_units += 1
        staged = Staged(self)
        try:
            yield staged
        except BaseException:
            with self._lock.write():
                self._unstage()
            staged.discard()
            raise
        with self._lock.write():
            ended = [(scope, owner) for at, scope, owner in self._ended if at > epoch]
            self._unstage()
            for scope, owner, ids, vectors, model in staged.items:
                revoked = any(s == scope and o in (None, owner) for s, o in ended)
                gallery = self._galleries[model]
                fresh = [n for n, t in enumerate(ids) if not gallery.holds(t)]  # a reconcile's
                if revoked or not fresh:
                    continue
                if len(fresh) == len(ids):
                    gallery.add(scope, owner, ids, vectors)
                else:
                    subset = vectors[fresh]
                    with wiping.wiped(subset):
                        gallery.add(scope, owner, [ids[n] for n in fresh], subset)
        staged.discard()  # the galleries hold their own copies

    def _unstage(self) -> None:
        self._staged_units -= 1
        if not self._staged_units:
            self._ended.clear()

    def search_scopes(
        self, scopes: list[str], probes: list[Vector], model: str, top_k: int, min_score: float
    ) -> list[list[GalleryHit]]:
        """Exact search restricted to the given scopes; the caller confirms and audits."""
        self.model_dim(model)
        batch = np.stack(probes).astype(np.float32, copy=False)
        with self._lock.read(), wiping.wiped(batch):
            return self._galleries[model].search(scopes, batch, top_k, min_score)

    def contains_vector(self, vector: Vector) -> bool:
        with self._lock.read():
            return any(g.contains_vector(vector) for g in self._galleries.values())

    def size(self) -> int:
        with self._lock.read():
            return sum(len(g) for g in self._galleries.values())

    def sizes(self) -> dict[str, int]:
        """Matchable templates per model (an operator's figure: never per case or subject, P8)."""
        with self._lock.read():
            return {model: len(gallery) for model, gallery in self._galleries.items()}


class Staged:
    """The templates an enrolment's unit of work makes matchable once it is durable."""

    def __init__(self, matcher: FaceMatcher) -> None:
        self._matcher = matcher
        self.items: list[tuple[str, int, list[str], Vectors, str]] = []

    def add(self, scope: str, owner: int, template_ids: list[str], vectors: Vectors, model: str) -> None:
        self._matcher.model_dim(model)
        if vectors.shape != (len(template_ids), self._matcher.models[model]):
            raise ValueError("vectors do not have the model's dimension")
        self.items.append((scope, owner, list(template_ids), vectors.astype(np.float32), model))

    def discard(self) -> None:
        wiping.wipe(*(vectors for _, _, _, vectors, _ in self.items))
        self.items.clear()


def search_resource(case_ids: list[str]) -> str:
    """The audit resource of a search: the case, or the first case and how many more."""
    first = f"cases/{case_ids[0]}" if case_ids else "cases"
    return first if len(case_ids) <= 1 else f"{first}+{len(case_ids) - 1}"
