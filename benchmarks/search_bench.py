"""Face search throughput: through the service (gRPC on loopback) against raw FAISS, same run.

For each gallery size the same seeded templates are loaded into (a) a raw ``faiss.IndexFlatIP``,
(b) matcher's in-memory gallery, and (c) a real matcher server on loopback (SQLite under a
temporary folder, every template stored encrypted and rebuilt at start-up). The same probes
(near-duplicates of enrolled faces, so every search has hits to confirm and audit) are searched
one at a time. Answers are checked to be identical to raw FAISS; then latency and throughput are
reported, with ratios against raw FAISS.

    python -m benchmarks.search_bench [--sizes 1000 10000 100000] [--queries 300] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import faiss
import grpc
import numpy as np

from benchmarks import machine
from lifecycle.clock import SystemClock
from matcher.client import MatcherClient
from matcher.config import Settings
from matcher.gallery import FaceGallery
from matcher.server import build_app, make_server, prepare, set_serving

DIM = 512
TOP_K = 10
PER_SUBJECT = 50


def gallery_vectors(n: int, seed: int) -> np.ndarray[Any, Any]:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def probes_for(vectors: np.ndarray[Any, Any], count: int, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    picks = vectors[rng.integers(0, len(vectors), count)]
    noisy = picks + 0.5 * rng.standard_normal(picks.shape).astype(np.float32) / np.sqrt(DIM)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def timed(fn: Callable[[int], object], count: int) -> dict[str, float]:
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        fn(i)
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    latencies.sort()
    return {
        "qps": count / total,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def concurrent_qps(fn: Callable[[int], object], count: int, threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fn, range(count)))
    return count / (time.perf_counter() - start)


def seed_service(data_dir: Path, vectors: np.ndarray[Any, Any]) -> tuple[float, dict[str, int]]:
    """Stores the templates through matcher's own enrolment code.

    Returns the seconds taken and each template's row in ``vectors``, to check answers by id.
    """
    settings = Settings(data_dir=data_dir, listen="127.0.0.1:0")
    app = build_app(settings, SystemClock())
    rows: dict[str, int] = {}
    start = time.perf_counter()
    app.lifecycle.create_case("bench", "bench", "Benchmark gallery", "benchmark")
    for s, first in enumerate(range(0, len(vectors), PER_SUBJECT)):
        subject = f"s{s}"
        app.lifecycle.create_subject("bench", "bench", subject, "", "suspect", "benchmark")
        templates = app.faces.enroll_many(
            "bench", "bench", subject, vectors[first : first + PER_SUBJECT], "arcface-512", "benchmark"
        )
        rows.update({t.id: first + i for i, t in enumerate(templates)})
    elapsed = time.perf_counter() - start
    app.db.dispose()
    return elapsed, rows


def run_size(n: int, queries: int, threads: int) -> dict[str, Any]:
    vectors = gallery_vectors(n, seed=n)
    probes = probes_for(vectors, queries, seed=n + 1)
    result: dict[str, Any] = {"templates": n, "queries": queries}

    raw = faiss.IndexFlatIP(DIM)
    raw.add(vectors)
    result["raw_faiss"] = timed(lambda i: raw.search(probes[i : i + 1], TOP_K), queries)
    _, raw_ids = raw.search(probes, TOP_K)

    gallery = FaceGallery(DIM)
    ids = [str(i) for i in range(n)]
    for first in range(0, n, PER_SUBJECT):
        gallery.add("bench", first, ids[first : first + PER_SUBJECT], vectors[first : first + PER_SUBJECT])
    result["gallery_in_process"] = timed(
        lambda i: gallery.search(["bench"], probes[i : i + 1], TOP_K, -1.0), queries
    )

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        result["seed_seconds"], row_of = seed_service(data_dir, vectors)
        app = build_app(Settings(data_dir=data_dir, listen="127.0.0.1:0"), SystemClock())
        server, health_servicer, port = make_server(app)
        server.start()
        start = time.perf_counter()
        prepare(app)
        set_serving(health_servicer)
        result["startup_to_serving_seconds"] = time.perf_counter() - start
        token = (data_dir / "client.token").read_text().strip()
        client = MatcherClient(grpc.insecure_channel(f"127.0.0.1:{port}"), token, timeout=30)

        def search(i: int) -> Any:
            return client.search_faces(["bench"], probes[i], reason="benchmark", top_k=TOP_K, min_score=-1.0)

        mismatches = 0
        for i in range(queries):
            got = [row_of[m.face_template.rsplit("/", 1)[-1]] for m in search(i).results[0].matches]
            mismatches += got != raw_ids[i].tolist()
        result["top_k_mismatches_vs_raw_faiss"] = mismatches
        result["service_grpc"] = timed(search, queries)
        result[f"service_grpc_{threads}_clients_qps"] = concurrent_qps(search, queries, threads)
        client.close()
        server.stop(grace=None).wait()
        app.worker.stop()
        app.db.dispose()
    raw_qps = result["raw_faiss"]["qps"]
    result["ratio_service_vs_raw_qps"] = result["service_grpc"]["qps"] / raw_qps
    result["ratio_gallery_vs_raw_qps"] = result["gallery_in_process"]["qps"] / raw_qps
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| templates | raw FAISS p50 ms | gallery p50 ms | service p50 ms | service p99 ms "
        "| raw QPS | service QPS | service/raw | start-up s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['templates']:,} | {r['raw_faiss']['p50_ms']:.3f} "
            f"| {r['gallery_in_process']['p50_ms']:.3f} "
            f"| {r['service_grpc']['p50_ms']:.3f} | {r['service_grpc']['p99_ms']:.3f} "
            f"| {r['raw_faiss']['qps']:,.0f} | {r['service_grpc']['qps']:,.0f} "
            f"| {r['ratio_service_vs_raw_qps']:.3f} | {r['startup_to_serving_seconds']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients for the QPS figure")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/search.json"))
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    info = machine.describe()
    print(json.dumps(info))
    results = []
    for n in args.sizes:
        print(f"gallery of {n:,} templates...", flush=True)
        results.append(run_size(n, args.queries, args.threads))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    print(markdown(results))
    print(f"written to {args.out}")
    return 0 if all(r["top_k_mismatches_vs_raw_faiss"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
