"""The FAISS gallery: exact answers, strict scoping, and no plaintext left behind in memory."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.gallery import FaceGallery
from tests.conftest import unit


def _vectors(seeds: range, dim: int = 16) -> np.ndarray:
    return np.stack([unit(s, dim) for s in seeds])


def test_growth_moves_rows_and_zeroes_the_old_buffer() -> None:
    gallery = FaceGallery(16, initial_capacity=4)
    first = _vectors(range(4))
    gallery.add("c", 1, ["a", "b", "c", "d"], first)
    old_index, old_view = gallery._index, gallery._view  # Keep the old buffer alive to read it.
    gallery.add("c", 2, ["e", "f"], _vectors(range(10, 12)))
    assert gallery.capacity == 8 and len(gallery) == 6
    assert not old_view.any(), "the released buffer still holds templates"
    assert old_index.ntotal == 4
    hits = gallery.search(["c"], first[:1], 1, 0.0)[0]
    assert hits[0].template_id == "a" and hits[0].score > 0.999


def test_P2_drop_subject_zeroes_its_rows_and_reuses_them() -> None:
    gallery = FaceGallery(16, initial_capacity=8)
    dropped, kept = _vectors(range(3)), _vectors(range(3, 5))
    gallery.add("c", 1, ["x1", "x2", "x3"], dropped)
    gallery.add("c", 2, ["k1", "k2"], kept)
    assert gallery.drop_subject("c", 1) == 3
    for vector in dropped:
        assert not gallery.contains_vector(vector)
    hits = gallery.search(["c"], dropped[:1], 10, -1.0)[0]
    assert {h.template_id for h in hits} == {"k1", "k2"}
    gallery.add("c", 3, ["n1"], _vectors(range(20, 21)))
    assert gallery.capacity == 8  # Freed rows are reused: no growth, no renumbering.


def test_P3_drop_case_leaves_other_cases_intact() -> None:
    gallery = FaceGallery(16)
    gallery.add("a", 1, ["a1"], _vectors(range(1)))
    gallery.add("b", 2, ["b1"], _vectors(range(1, 2)))
    assert gallery.drop_case("a") == 1
    assert gallery.search(["a"], _vectors(range(1)), 5, -1.0) == [[]]
    assert [h.template_id for h in gallery.search(["b"], _vectors(range(1, 2)), 5, -1.0)[0]] == ["b1"]


@settings(max_examples=40, deadline=None)
@given(
    layout=st.lists(st.tuples(st.integers(0, 4), st.integers(1, 6)), min_size=1, max_size=12),
    named=st.sets(st.integers(0, 4), min_size=1),
    drops=st.lists(st.integers(0, 11), max_size=4),
    k=st.integers(1, 12),
    probe_seed=st.integers(0, 10_000),
)
def test_search_equals_brute_force_over_named_cases(
    layout: list[tuple[int, int]], named: set[int], drops: list[int], k: int, probe_seed: int
) -> None:
    """Exact top-k among the named cases' live rows, whatever was added and dropped before."""
    gallery = FaceGallery(16, initial_capacity=2)
    live: dict[str, tuple[str, np.ndarray]] = {}
    seed = 0
    for subject, (case, count) in enumerate(layout):
        vectors = _vectors(range(seed, seed + count))
        ids = [f"t{seed + i}" for i in range(count)]
        seed += count
        gallery.add(f"case{case}", subject, ids, vectors)
        live.update({tid: (f"case{case}", v) for tid, v in zip(ids, vectors, strict=True)})
    for subject in drops:
        if subject < len(layout):
            case_name = f"case{layout[subject][0]}"
            gallery.drop_subject(case_name, subject)
            first = sum(c for _, c in layout[:subject])
            for i in range(layout[subject][1]):
                live.pop(f"t{first + i}", None)
    probe = unit(probe_seed, 16)[np.newaxis, :]
    names = [f"case{c}" for c in sorted(named)]
    hits = gallery.search(names, probe, k, -1.0)[0]
    candidates = sorted(
        ((float(v @ probe[0]), tid) for tid, (case, v) in live.items() if case in names), reverse=True
    )
    assert [h.template_id for h in hits] == [tid for _, tid in candidates[:k]]
    assert all(h.case_id in names for h in hits)
