"""Seeded benchmark data and exact ground truth.

Every benchmark draws its templates and probes from here so that the same seed gives the same
numbers on every machine, and so that "identical answers" is checked against one definition of
truth: a float64 NumPy brute force, independent of FAISS. Probes are near-duplicates of enrolled
templates (as a still of an enrolled person would be), so every search has a clear best match and
a tail of near-ties, which is where approximate or filtered searches go wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 512
Vectors = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]

# Score differences below this are float32 rounding, not a different answer: two templates whose
# exact scores differ by less may come back in either order from any float32 engine.
TIE_TOLERANCE = 1e-5


def gallery_vectors(n: int, seed: int, dim: int = DIM) -> Vectors:
    """``n`` random unit vectors (the distribution of well-spread face embeddings)."""
    vectors = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def probes_near(vectors: Vectors, count: int, seed: int, rows: Ids | None = None) -> Vectors:
    """Noisy copies of randomly chosen templates (of ``rows`` if given), L2-normalised."""
    rng = np.random.default_rng(seed)
    pool = np.arange(len(vectors)) if rows is None else rows
    picks = vectors[pool[rng.integers(0, len(pool), count)]]
    noise = rng.standard_normal(picks.shape, dtype=np.float32) / np.sqrt(vectors.shape[1])
    noisy = picks + 0.5 * noise
    normalised: Vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    return normalised


def exact_topk(vectors: Vectors, probes: Vectors, k: int, chunk: int = 65_536) -> tuple[Ids, Any]:
    """Brute-force top-k by inner product in float64: the reference every engine is held to.

    Chunked over the gallery so that a million templates need no 4 GB float64 copy.
    """
    k = min(k, len(vectors))
    best_scores = np.full((len(probes), 0), -np.inf)
    best_ids = np.zeros((len(probes), 0), dtype=np.int64)
    probes64 = probes.astype(np.float64)
    for first in range(0, len(vectors), chunk):
        scores = probes64 @ vectors[first : first + chunk].astype(np.float64).T
        ids = np.broadcast_to(np.arange(first, first + scores.shape[1]), scores.shape)
        scores = np.concatenate([best_scores, scores], axis=1)
        ids = np.concatenate([best_ids, ids], axis=1)
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_ids = np.take_along_axis(ids, keep, axis=1)
    return best_ids, best_scores


@dataclass
class Agreement:
    """How a set of answers compares with the exact top-k.

    ``identical`` counts probes whose id lists are exactly the reference's; ``equivalent`` also
    accepts lists that differ only by the order or choice among near-ties (exact scores equal
    within :data:`TIE_TOLERANCE`), which is the strongest claim a float32 engine can make.
    """

    probes: int = 0
    identical: int = 0
    equivalent: int = 0

    @property
    def ok(self) -> bool:
        return self.equivalent == self.probes

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "probes": self.probes,
            "identical": self.identical,
            "equivalent": self.equivalent,
            "ok": self.ok,
        }


def compare(
    vectors: Vectors, probes: Vectors, got: list[list[int]], truth_ids: Ids, truth_scores: Any
) -> Agreement:
    """Checks each probe's returned ids (best first) against the exact reference."""
    agreement = Agreement()
    for probe, ids, ref_ids, ref_scores in zip(probes, got, truth_ids, truth_scores, strict=True):
        agreement.probes += 1
        if list(ids) == ref_ids.tolist():
            agreement.identical += 1
            agreement.equivalent += 1
            continue
        if len(ids) != len(ref_ids) or len(set(ids)) != len(ids):
            continue
        scores = vectors[np.asarray(ids, dtype=np.int64)].astype(np.float64) @ probe.astype(np.float64)
        if np.all(np.abs(scores - ref_scores) <= TIE_TOLERANCE):
            agreement.equivalent += 1
    return agreement
