"""Enrolment and search in a waiver's own search scope (P1, P15, P7, P8): the matching side.

The policy (who may, while what lasts, what ends it) is :mod:`lifecycle.waiver_searches`; this
module holds the crypto and the gallery. Templates are encrypted under the waiver's own key and
added to the gallery scope ``waivers/<id>``, which no case search names. A search is confirmed
against the database in the transaction that audits it, so a waiver revoked or ended meanwhile
never answers; probes are dropped after matching (P7); the audit record says how many faces and
hits, never whose (P8).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from lifecycle import search_models as w
from lifecycle.actions import Action
from lifecycle.cases import Lifecycle, require_reason
from lifecycle.errors import Kind, PolicyError
from lifecycle.waiver_searches import WaiverSearches, search_scope
from matcher import crypto, wiping
from matcher.embeddings import Vector
from matcher.face_matching import FaceMatcher
from matcher.keys import ScopeKeys

OWNER = 0  # A search's templates have no subject: one owner id for all of its rows.
MAX_LABEL = 64


def waiver_template_aad(waiver_id: str, template_id: str, model: str) -> bytes:
    return f"matcher/v1/waiver-template/{waiver_id}/{template_id}/{model}".encode()


@dataclass(frozen=True)
class WaiverMatch:
    template_id: str
    label: str
    score: float


class WaiverSearchEngine:
    def __init__(
        self, lifecycle: Lifecycle, searches: WaiverSearches, keys: ScopeKeys, faces: FaceMatcher
    ) -> None:
        self._lc = lifecycle
        self.searches = searches
        self._keys = keys
        self._faces = faces

    def enroll(
        self, actor: str, waiver_id: str, label: str, vector: Vector, model: str, reason: str
    ) -> w.WaiverTemplate:
        """The sought person's face, under an active waiver only (P1, P15)."""
        reason = require_reason(reason)
        label = label.strip()
        if not label or len(label) > MAX_LABEL:
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "FIELD_INVALID",
                f"a face enrolled for a search needs a label of 1-{MAX_LABEL} characters (a reference "
                "such as MISSING-1, not a name)",
            )
        dim = self._faces.model_dim(model)
        template_id = secrets.token_hex(8)
        with self._faces.staging() as staged:
            with self._lc.db.transaction() as session:
                self.searches.active(session, waiver_id)
                key = self._keys.waiver_key(session, waiver_id, create=True)
                nonce, ciphertext = crypto.encrypt(
                    key, vector.astype("<f4").tobytes(), waiver_template_aad(waiver_id, template_id, model)
                )
                row = w.WaiverTemplate(
                    id=template_id,
                    waiver_id=waiver_id,
                    label=label,
                    model=model,
                    dim=dim,
                    nonce=nonce,
                    ciphertext=ciphertext,
                    created_at=self._lc.clock.now(),
                    created_by=actor,
                )
                session.add(row)
                self._lc.audit.append(
                    session,
                    actor=actor,
                    action=Action.WAIVER_ENROLL,
                    resource=f"waivers/{waiver_id}",
                    reason=reason,
                    count=1,
                    detail={"template": template_id, "model": model, "rule": "P15", "waived_rule": "P1"},
                )
            staged.add(search_scope(waiver_id), OWNER, [template_id], vector[np.newaxis, :], model)
        return row

    def search(
        self,
        actor: str,
        waiver_id: str,
        probes: list[Vector],
        model: str,
        reason: str,
        top_k: int,
        min_score: float,
    ) -> list[list[WaiverMatch]]:
        """Each probe against the waiver's scope only, while the waiver lasts (P1, P15, P7)."""
        reason = require_reason(reason)
        if not 1 <= top_k <= 100:
            raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "top_k must be between 1 and 100")
        with self._lc.db.reading() as session:
            self.searches.active(session, waiver_id)
        found = self._faces.search_scopes([search_scope(waiver_id)], probes, model, top_k, min_score)
        face_count = len(probes)
        del probes  # P7
        results: list[list[WaiverMatch]] = []
        with self._lc.db.transaction() as session:
            self.searches.active(session, waiver_id)  # revoked or ended meanwhile: no answer
            ids = {hit.template_id for hits in found for hit in hits}
            labels = dict(
                session.execute(
                    select(w.WaiverTemplate.id, w.WaiverTemplate.label).where(
                        w.WaiverTemplate.id.in_(ids), w.WaiverTemplate.waiver_id == waiver_id
                    )
                ).all()
            )
            for hits in found:
                results.append(
                    [
                        WaiverMatch(h.template_id, labels[h.template_id], h.score)
                        for h in hits
                        if h.template_id in labels
                    ]
                )
            self._lc.audit.append(
                session,
                actor=actor,
                action=Action.WAIVER_SEARCH,
                resource=f"waivers/{waiver_id}",
                reason=reason,
                count=sum(len(r) for r in results),
                detail={
                    "probes": face_count,
                    "top_k": top_k,
                    "min_score": min_score,
                    "model": model,
                    "rule": "P15",
                    "waived_rule": "P1",
                },
            )
        return results

    def rebuild(self) -> int:
        """Loads the templates of searches whose waiver is active now, and nothing else."""
        loaded = 0
        with self._faces.changing(), self._lc.db.transaction() as session:
            for waiver in self.searches.live_waivers(session):
                rows = list(
                    session.scalars(select(w.WaiverTemplate).where(w.WaiverTemplate.waiver_id == waiver.id))
                )
                if not rows:
                    continue
                key = self._keys.waiver_key(session, waiver.id, create=False)
                for row in rows:
                    if row.model not in self._faces.models:
                        continue
                    plain = wiping.decrypt_into(
                        key, row.nonce, row.ciphertext, waiver_template_aad(waiver.id, row.id, row.model)
                    )
                    vector = np.frombuffer(plain, dtype="<f4").astype(np.float32)
                    with wiping.wiped(plain, vector):
                        self._faces.add_to_scope(
                            search_scope(waiver.id), OWNER, [row.id], vector[np.newaxis, :], row.model
                        )
                    loaded += 1
        return loaded

    def reconcile(self) -> tuple[int, int]:
        """Makes the waiver scopes hold exactly the templates of searches whose waiver is active
        (another replica's enrolment, or a waiver that ended or was revoked there)."""

        def wanted() -> dict[str, tuple[str, int, str]]:
            found: dict[str, tuple[str, int, str]] = {}
            with self._lc.db.reading() as session:
                for waiver in self.searches.live_waivers(session):
                    rows = session.execute(
                        select(w.WaiverTemplate.id, w.WaiverTemplate.model).where(
                            w.WaiverTemplate.waiver_id == waiver.id
                        )
                    )
                    for template_id, model in rows:
                        found[template_id] = (search_scope(waiver.id), OWNER, model)
            return found

        return self._faces.sync(wanted, self._load, lambda scope: scope.startswith("waivers/"))

    def _load(self, template_ids: list[str]) -> dict[str, Vector]:
        loaded: dict[str, Vector] = {}
        with self._lc.db.reading() as session:
            for row in session.scalars(select(w.WaiverTemplate).where(w.WaiverTemplate.id.in_(template_ids))):
                key = self._keys.waiver_key(session, row.waiver_id, create=False)
                loaded[row.id] = wiping.decrypt_vector(
                    key, row.nonce, row.ciphertext, waiver_template_aad(row.waiver_id, row.id, row.model)
                )
        return loaded
