"""The peer: Milvus Lite (embedded Milvus, ``MilvusClient("file.db")``) on the same data and probes.

Why: a team building this service could reasonably pick an embedded vector database instead of
FAISS plus a system of record. The comparison that matters for this service is not only speed but
whether the peer answers exactly (recall@10 against the same float64 brute force) and whether a
deleted template stops answering, and stops existing on disk, when the policy says it must (P2,
P3, P18). Raw FAISS is searched side by side in the same process as the yardstick.

If ``pymilvus``/``milvus-lite`` is not installed or cannot start here, the result says so with
the exact error and the suite carries on: a peer's absence is a finding, not a failure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from benchmarks import machine
from benchmarks.data import DIM, Vectors, compare, exact_topk, gallery_vectors, probes_near
from benchmarks.measure import compare_side_by_side

TOP_K = 10
COLLECTION = "faces"


def bytes_on_disk(folder: Path, vectors: Vectors) -> int:
    """How many of ``vectors`` appear byte for byte (little-endian float32) in any file under
    ``folder``. A lower bound on what survives: compressed or re-encoded pages are not found."""
    blob = b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())
    return sum(blob.find(v.astype("<f4").tobytes()) >= 0 for v in vectors)


def run(
    n: int,
    queries: int = 100,
    *,
    calls: int = 20,
    rounds: int = 5,
    deletes: int = 100,
    scan: int = 50,
) -> dict[str, Any]:
    """Loads ``n`` seeded templates into Milvus Lite and raw FAISS; times, checks, deletes."""
    try:
        from pymilvus import MilvusClient
        from pymilvus import __version__ as pymilvus_version
    except Exception as error:  # An absent peer is reported, not fatal.
        return {"available": False, "templates": n, "error": f"{type(error).__name__}: {error}"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return _run(
                MilvusClient, str(pymilvus_version), Path(tmp), n, queries, calls, rounds, deletes, scan
            )
    except Exception as error:
        return {
            "available": False,
            "templates": n,
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(limit=5),
        }


def _run(
    client_class: Any,
    version: str,
    folder: Path,
    n: int,
    queries: int,
    calls: int,
    rounds: int,
    deletes: int,
    scan: int,
) -> dict[str, Any]:
    vectors = gallery_vectors(n, seed=n)  # The same templates and probes as search_bench.
    probes = probes_near(vectors, queries, seed=n + 1)
    truth_ids, truth_scores = exact_topk(vectors, probes, TOP_K)
    raw = faiss.IndexFlatIP(DIM)
    raw.add(vectors)
    result: dict[str, Any] = {"available": True, "templates": n, "queries": queries, "pymilvus": version}

    path = folder / "peer.db"
    client = client_class(str(path))
    try:
        client.create_collection(COLLECTION, dimension=DIM, metric_type="IP", consistency_level="Strong")
        start = time.perf_counter()
        for first in range(0, n, 2000):
            chunk = vectors[first : first + 2000]
            client.insert(COLLECTION, [{"id": first + i, "vector": v.tolist()} for i, v in enumerate(chunk)])
        client.flush(COLLECTION)
        result["insert_seconds"] = time.perf_counter() - start
        index_names = client.list_indexes(COLLECTION)
        if index_names:
            result["index"] = client.describe_index(COLLECTION, index_names[0]).get("index_type")

        def milvus_ids(batch: Vectors) -> list[list[int]]:
            answer = client.search(COLLECTION, data=batch.tolist(), limit=TOP_K, output_fields=["id"])
            return [[int(hit["id"]) for hit in hits] for hits in answer]

        got = [ids for first in range(0, queries, 16) for ids in milvus_ids(probes[first : first + 16])]
        result["check"] = compare(vectors, probes, got, truth_ids, truth_scores).as_dict()
        result["recall_at_10"] = float(
            np.mean([len(set(g) & set(t.tolist())) / TOP_K for g, t in zip(got, truth_ids, strict=True)])
        )
        result["timing"] = compare_side_by_side(
            {
                "raw_faiss": lambda i: raw.search(probes[i % queries][None, :], TOP_K),
                "milvus_lite": lambda i: milvus_ids(probes[i % queries][None, :]),
            },
            calls,
            rounds,
            baseline="raw_faiss",
        )

        rng = np.random.default_rng(n + 2)
        gone = np.sort(rng.choice(n, size=min(deletes, n), replace=False))
        scanned = vectors[gone[:scan]]
        result["deleted"] = len(gone)
        result["scanned_on_disk"] = len(scanned)
        result["on_disk_before_delete"] = bytes_on_disk(folder, scanned)
        client.delete(COLLECTION, ids=[int(i) for i in gone])
        client.flush(COLLECTION)
        result.update(
            _deleted_state(client, folder, vectors, gone, scanned, milvus_ids, "after_delete_flush")
        )
        try:
            job = client.compact(COLLECTION)
            for _ in range(600):
                if str(client.get_compaction_state(job)) == "Completed":
                    break
                time.sleep(0.1)
            result.update(_deleted_state(client, folder, vectors, gone, scanned, milvus_ids, "after_compact"))
        except Exception as error:
            result["compact_error"] = f"{type(error).__name__}: {error}"
    finally:
        client.close()
    return result


def _deleted_state(
    client: Any,
    folder: Path,
    vectors: Vectors,
    gone: Any,
    scanned: Vectors,
    search: Any,
    label: str,
) -> dict[str, Any]:
    """Whether deleted templates still answer a search for themselves, a query, or sit on disk."""
    deleted = set(gone.tolist())
    answers = [ids for first in range(0, len(gone), 16) for ids in search(vectors[gone[first : first + 16]])]
    answered = sum(any(i in deleted for i in ids) for ids in answers)
    queried = client.query(COLLECTION, filter=f"id in {[int(i) for i in gone]}", output_fields=["id"])
    return {
        f"{label}_answering_searches": answered,
        f"{label}_returned_by_query": len(queried),
        f"{label}_on_disk": bytes_on_disk(folder, scanned),
    }


def ok(result: dict[str, Any]) -> bool:
    """The peer passes the suite whether or not it is exact: its results are findings."""
    return True


def markdown(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        if not r["available"]:
            lines.append(f"Milvus Lite at {r['templates']:,} templates could not run here: `{r['error']}`")
    ran = [r for r in results if r["available"]]
    if not ran:
        return "\n".join(lines)
    lines += [
        "Same templates and probes as the face-search table; one probe per call; ratios are medians of "
        "per-round QPS ratios against raw FAISS in the same rounds.",
        "",
        "| templates | pymilvus | index | insert s | Milvus p50 / p99 ms | raw FAISS p50 ms | Milvus QPS "
        "| raw FAISS QPS | Milvus/raw | recall@10 | top-10 = brute force |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ran:
        t = r["timing"]
        lines.append(
            f"| {r['templates']:,} | {r['pymilvus']} | {r.get('index', '?')} | {r['insert_seconds']:.1f} "
            f"| {t['milvus_lite']['p50_ms']:.2f} / {t['milvus_lite']['p99_ms']:.2f} "
            f"| {t['raw_faiss']['p50_ms']:.3f} | {t['milvus_lite']['qps']:,.0f} "
            f"| {t['raw_faiss']['qps']:,.0f} "
            f"| {t['milvus_lite']['ratio_qps_vs_raw_faiss']:.3f} | {r['recall_at_10']:.4f} "
            f"| {r['check']['equivalent']} of {r['check']['probes']} |"
        )
    lines += [
        "",
        "Deletion: templates deleted, then searched for with their own vectors (any deleted id in the "
        "top-10 counts), asked for by id, and looked for byte for byte in the database folder.",
        "",
        "| templates | deleted | stage | still answering a search | returned by query | found on disk |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for r in ran:
        for label, stage in (("after_delete_flush", "delete + flush"), ("after_compact", "+ compact")):
            if f"{label}_on_disk" not in r:
                continue
            lines.append(
                f"| {r['templates']:,} | {r['deleted']} | {stage} | {r[f'{label}_answering_searches']} "
                f"| {r[f'{label}_returned_by_query']} "
                f"| {r[f'{label}_on_disk']} of {r['scanned_on_disk']} "
                f"(before delete: {r['on_disk_before_delete']}) |"
            )
        if "compact_error" in r:
            lines.append(f"\nCompaction failed: `{r['compact_error']}`")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/peer_milvus.json"))
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    results = [run(n, args.queries) for n in args.sizes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine.describe(), "results": results}, indent=2))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
