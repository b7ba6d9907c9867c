"""Many scopes: one probe searched across many cases at once, and across one case of many.

Why: matcher keeps every template of a model in one flat store and scopes a search with an
``IDSelectorArray`` of the named cases' rows (DESIGN decision 2), instead of one FAISS index per
case. This benchmark keeps that decision honest. With 1,000 cases of 100 templates it searches
the same probes through

* ``gallery``: matcher's :class:`~matcher.gallery.FaceGallery` naming the cases;
* ``flat_selector``: a raw ``IndexFlatIP`` of all templates with a prebuilt ``IDSelectorArray``
  (what the gallery costs above FAISS itself);
* ``per_case_loop``: a Python loop over one ``IndexFlatIP`` per case, merging the top-k (the
  design matcher rejected);
* ``flat_all``: one flat index searched unscoped (only when the scope is every case: the floor).

Every path's answers must equal a float64 brute force over the union of the named cases. The
tempting shortcut, searching globally and dropping hits outside the scope, is measured too, as a
correctness figure only: it misses in-scope matches whenever look-alikes sit in other cases.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from benchmarks import machine
from benchmarks.data import DIM, Ids, Vectors, compare, exact_topk, gallery_vectors, probes_near
from benchmarks.measure import compare_side_by_side, paired_ratio
from matcher.gallery import FaceGallery

TOP_K = 10


class PerCaseIndexes:
    """The rejected design: one flat index per case, searched one after another from Python."""

    def __init__(self, vectors: Vectors, per_case: int) -> None:
        self.per_case = per_case
        self.indexes = []
        for first in range(0, len(vectors), per_case):
            index = faiss.IndexFlatIP(vectors.shape[1])
            index.add(vectors[first : first + per_case])
            self.indexes.append(index)

    def search(self, cases: list[int], probe: Vectors, k: int) -> list[int]:
        scores, rows = [], []
        for case in cases:
            d, i = self.indexes[case].search(probe, k)
            scores.append(d[0])
            rows.append(np.where(i[0] >= 0, i[0] + case * self.per_case, -1))
        all_scores, all_rows = np.concatenate(scores), np.concatenate(rows)
        best = np.argsort(-all_scores, kind="stable")[:k]
        return [int(r) for r in all_rows[best] if r >= 0]


def _cycling(fn: Callable[[int], list[int]], queries: int) -> Callable[[int], object]:
    """Call ``i`` searches probe ``i mod queries``, so bursts longer than the probes reuse them."""
    return lambda i: fn(i % queries)


def scope_rows(cases: list[int], per_case: int) -> Ids:
    return np.concatenate([np.arange(c * per_case, (c + 1) * per_case) for c in cases]).astype(np.int64)


def run_scope(
    vectors: Vectors,
    gallery: FaceGallery,
    flat: faiss.IndexFlatIP,
    loop: PerCaseIndexes,
    cases: list[int],
    *,
    queries: int,
    calls: int,
    rounds: int,
    seed: int,
) -> dict[str, Any]:
    """Times and checks one scope (a list of case numbers)."""
    per_case = loop.per_case
    names = [f"c{c:04d}" for c in cases]
    rows = scope_rows(cases, per_case)
    probes = probes_near(vectors, queries, seed, rows=rows)
    local_ids, truth_scores = exact_topk(vectors[rows], probes, TOP_K)
    truth_ids = rows[local_ids]
    selector = faiss.IDSelectorArray(rows.size, faiss.swig_ptr(rows))
    params = faiss.SearchParameters()
    params.sel = selector

    def gallery_ids(i: int) -> list[int]:
        hits = gallery.search(names, probes[i][None, :], TOP_K, -1.0)[0]
        return [int(h.template_id) for h in hits]

    def selector_ids(i: int) -> list[int]:
        return [int(r) for r in flat.search(probes[i][None, :], TOP_K, params=params)[1][0]]

    def loop_ids(i: int) -> list[int]:
        return loop.search(cases, probes[i][None, :], TOP_K)

    paths: dict[str, Callable[[int], list[int]]] = {
        "gallery": gallery_ids,
        "flat_selector": selector_ids,
        "per_case_loop": loop_ids,
    }
    everything = len(cases) == len(loop.indexes)
    if everything:
        paths["flat_all"] = lambda i: [int(r) for r in flat.search(probes[i][None, :], TOP_K)[1][0]]
    checks = {
        name: compare(vectors, probes, [fn(i) for i in range(queries)], truth_ids, truth_scores).as_dict()
        for name, fn in paths.items()
    }
    result: dict[str, Any] = {"cases": len(cases), "templates_in_scope": int(rows.size), "checks": checks}
    if not everything:
        # The shortcut: a global top-k, then keep only the hits inside the scope.
        in_scope = set(rows.tolist())
        _, global_ids = flat.search(probes, TOP_K)
        kept = [[int(r) for r in ids if int(r) in in_scope] for ids in global_ids]
        result["post_filter"] = {
            "probes": queries,
            "top1_right": sum(bool(k) and k[0] == int(t[0]) for k, t in zip(kept, truth_ids, strict=True)),
            "topk_right": sum(k == t.tolist() for k, t in zip(kept, truth_ids, strict=True)),
        }
    timing = compare_side_by_side(
        {name: _cycling(fn, queries) for name, fn in paths.items()},
        calls,
        rounds,
        baseline="per_case_loop",
    )
    timing["gallery"]["ratio_qps_vs_flat_selector"] = paired_ratio(timing, "gallery", "flat_selector")
    if everything:
        timing["gallery"]["ratio_qps_vs_flat_all"] = paired_ratio(timing, "gallery", "flat_all")
    result["timing"] = timing
    return result


def run(
    cases: int = 1000,
    per_case: int = 100,
    scopes: tuple[int, ...] = (1, 1000),
    *,
    queries: int = 50,
    calls: int = 20,
    rounds: int = 5,
    seed: int = 20260007,
) -> dict[str, Any]:
    """Builds the three stores once, then measures each scope size (number of cases named)."""
    vectors = gallery_vectors(cases * per_case, seed)
    gallery = FaceGallery(DIM)
    for c in range(cases):
        rows = range(c * per_case, (c + 1) * per_case)
        gallery.add(f"c{c:04d}", c, [str(r) for r in rows], vectors[c * per_case : (c + 1) * per_case])
    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    loop = PerCaseIndexes(vectors, per_case)
    order = np.random.default_rng(seed + 1).permutation(cases)
    results = []
    for s, size in enumerate(scopes):
        chosen = sorted(int(c) for c in order[: min(size, cases)])
        results.append(
            run_scope(
                vectors,
                gallery,
                flat,
                loop,
                chosen,
                queries=queries,
                calls=calls,
                rounds=rounds,
                seed=seed + 10 + s,
            )
        )
    return {"cases": cases, "templates_per_case": per_case, "top_k": TOP_K, "scopes": results}


def ok(result: dict[str, Any]) -> bool:
    return all(check["ok"] for scope in result["scopes"] for check in scope["checks"].values())


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['cases']:,} cases of {result['templates_per_case']} templates; one probe per call, "
        f"top-{result['top_k']}. p50 ms per probe; ratios are medians of per-round QPS ratios.",
        "",
        "| cases named | gallery p50 | flat+selector p50 | per-case loop p50 | flat unscoped p50 "
        "| gallery/loop | gallery/flat+selector | gallery/flat unscoped | answers = brute force |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for scope in result["scopes"]:
        t = scope["timing"]
        flat_all = t.get("flat_all")
        checks = ", ".join(f"{name} {c['equivalent']}/{c['probes']}" for name, c in scope["checks"].items())
        lines.append(
            f"| {scope['cases']:,} | {t['gallery']['p50_ms']:.3f} | {t['flat_selector']['p50_ms']:.3f} "
            f"| {t['per_case_loop']['p50_ms']:.3f} "
            f"| {'n/a' if flat_all is None else format(flat_all['p50_ms'], '.3f')} "
            f"| {t['gallery']['ratio_qps_vs_per_case_loop']:.2f} "
            f"| {t['gallery']['ratio_qps_vs_flat_selector']:.2f} "
            f"| {format(t['gallery']['ratio_qps_vs_flat_all'], '.2f') if flat_all else 'n/a'} "
            f"| {checks} |"
        )
    for scope in result["scopes"]:
        post = scope.get("post_filter")
        if post:
            lines.append(
                f"\nPost-filtering a global top-{result['top_k']} to {scope['cases']} case(s) "
                f"(the wrong shortcut): top-1 right for {post['top1_right']} of {post['probes']} probes, "
                f"whole top-{result['top_k']} right for {post['topk_right']} of {post['probes']}."
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--per-case", type=int, default=100)
    parser.add_argument("--scopes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/many_scopes.json"))
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    result = run(args.cases, args.per_case, tuple(args.scopes), queries=args.queries, rounds=args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine.describe(), "result": result}, indent=2))
    print(markdown(result))
    return 0 if ok(result) else 1


if __name__ == "__main__":
    raise SystemExit(main())
