"""The in-memory face gallery: every matchable template of one model in one FAISS flat index.

Why one store rather than a FAISS index object per case (DESIGN decision 2, as measured in
benchmarks/): a search that names several cases must not become a Python loop over many small
indexes. All templates of a model live in one ``IndexFlatIP`` over L2-normalised vectors (exact
cosine search), and each case owns a set of rows; a search passes the rows of the named cases as
an ``IDSelectorArray``, which FAISS's flat index scans directly (cost proportional to the rows of
the named cases, not to the whole store). The per-scope semantics are kept: a case's or subject's
rows are dropped as a unit, and nothing outside the named cases can ever be returned.

Why rows are never removed with ``remove_ids``: a plain flat index renumbers on removal, and the
removed vectors' bytes may survive in the buffer's unused tail. Instead the store has a fixed
capacity of rows; dropping a template overwrites its row with zeros in place and puts the row on
a free list. Growing copies into a fresh, larger index and zeroes the old buffer before release.
So a destroyed template leaves no plaintext copy in the index's memory.

Not thread-safe by itself: :class:`matcher.face_matching.FaceMatcher` guards it with a
readers-writer lock.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class GalleryHit:
    template_id: str
    case_id: str
    subject_pk: int
    score: float


class FaceGallery:
    def __init__(self, dim: int, initial_capacity: int = 1024) -> None:
        self.dim = dim
        self._capacity = 0
        self._index = faiss.IndexFlatIP(dim)
        self._view: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._free: list[int] = []
        self._row_template: list[str | None] = []
        self._template_row: dict[str, int] = {}  # the rows' template ids, for ``holds``
        self._row_case: list[str | None] = []
        self._row_subject = np.zeros(0, dtype=np.int64)
        self._subject_rows: dict[str, dict[int, list[int]]] = {}
        self._case_rows: dict[str, npt.NDArray[np.int64]] = {}
        self.searches = 0  # How often the index was consulted (routing tests check it was not).
        self._grow(initial_capacity)

    def __len__(self) -> int:
        return self._capacity - len(self._free)

    @property
    def capacity(self) -> int:
        return self._capacity

    def _grow(self, capacity: int) -> None:
        index = faiss.IndexFlatIP(self.dim)
        index.add(np.zeros((capacity, self.dim), dtype=np.float32))
        view = faiss.rev_swig_ptr(index.get_xb(), capacity * self.dim).reshape(capacity, self.dim)
        old = self._capacity
        view[:old] = self._view
        self._view[:] = 0.0  # The old buffer is released next: leave no template in it.
        self._index, self._view = index, view
        self._row_template.extend([None] * (capacity - old))
        self._row_case.extend([None] * (capacity - old))
        self._row_subject = np.concatenate([self._row_subject, np.full(capacity - old, -1, dtype=np.int64)])
        self._free.extend(range(capacity - 1, old - 1, -1))  # Pop from the end: lowest first.
        self._capacity = capacity

    def add(self, case_id: str, subject_pk: int, template_ids: list[str], vectors: Vectors) -> None:
        """Adds L2-normalised vectors of one subject."""
        if vectors.shape != (len(template_ids), self.dim):
            raise ValueError(f"expected {len(template_ids)} vectors of dimension {self.dim}")
        if len(template_ids) > len(self._free):
            self._grow(max(2 * self._capacity, len(self) + len(template_ids)))
        rows = [self._free.pop() for _ in template_ids]
        self._view[rows] = vectors
        for row, template_id in zip(rows, template_ids, strict=True):
            self._row_template[row] = template_id
            self._row_case[row] = case_id
            self._template_row[template_id] = row
        self._row_subject[rows] = subject_pk
        self._subject_rows.setdefault(case_id, {}).setdefault(subject_pk, []).extend(rows)
        self._case_rows.pop(case_id, None)

    def _release(self, rows: list[int]) -> None:
        self._view[rows] = 0.0
        for row in rows:
            template = self._row_template[row]
            if template is not None:
                self._template_row.pop(template, None)
            self._row_template[row] = None
            self._row_case[row] = None
        self._row_subject[rows] = -1
        self._free.extend(rows)

    def drop_subject(self, case_id: str, subject_pk: int) -> int:
        """Zeroes and frees a subject's rows; returns how many there were."""
        rows = self._subject_rows.get(case_id, {}).pop(subject_pk, [])
        self._release(rows)
        self._case_rows.pop(case_id, None)
        return len(rows)

    def drop_case(self, case_id: str) -> int:
        subjects = self._subject_rows.pop(case_id, {})
        rows = [row for subject_rows in subjects.values() for row in subject_rows]
        self._release(rows)
        self._case_rows.pop(case_id, None)
        return len(rows)

    def holds(self, template_id: str) -> bool:
        return template_id in self._template_row

    def entries(self) -> dict[str, tuple[str, int]]:
        """Every template held: its id -> (scope, owner). For replicas' reconciliation."""
        return {
            template: (scope, int(self._row_subject[row]))
            for row, (template, scope) in enumerate(zip(self._row_template, self._row_case, strict=True))
            if template is not None and scope is not None
        }

    def rows_of(self, case_id: str) -> npt.NDArray[np.int64]:
        rows = self._case_rows.get(case_id)
        if rows is None:
            subjects = self._subject_rows.get(case_id, {})
            flat = [row for subject_rows in subjects.values() for row in subject_rows]
            rows = np.array(sorted(flat), dtype=np.int64)
            self._case_rows[case_id] = rows
        return rows

    def search(
        self, case_ids: list[str], probes: Vectors, k: int, min_score: float
    ) -> list[list[GalleryHit]]:
        """Exact top-k per probe among the rows of the named cases, best first."""
        self.searches += 1
        parts = [self.rows_of(case_id) for case_id in case_ids]
        rows = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if rows.size == 0:
            return [[] for _ in range(len(probes))]
        selector = faiss.IDSelectorArray(rows.size, faiss.swig_ptr(rows))
        params = faiss.SearchParameters()
        params.sel = selector
        scores, labels = self._index.search(probes, min(k, int(rows.size)), params=params)
        results: list[list[GalleryHit]] = []
        for probe_scores, probe_labels in zip(scores, labels, strict=True):
            hits = []
            for score, row in zip(probe_scores.tolist(), probe_labels.tolist(), strict=True):
                template_id = self._row_template[row] if row >= 0 else None
                case_id = self._row_case[row] if row >= 0 else None
                if template_id is None or case_id is None or score < min_score:
                    continue
                hits.append(GalleryHit(template_id, case_id, int(self._row_subject[row]), score))
            results.append(hits)
        return results

    def contains_vector(self, vector: Vectors) -> bool:
        """Whether these exact float32 values are anywhere in the buffer (used by purge tests)."""
        return bool(np.any(np.all(self._view == vector, axis=1)))
