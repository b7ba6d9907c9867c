"""FAISS OpenMP threads: one or two per search, for single probes and batches of 64.

Why: the service searches with ``MATCHER_FAISS_THREADS`` (default 1) OpenMP threads, on the
measured claim that faiss's multi-threaded path is slower for a single query. This re-measures the
claim on this machine, side by side in interleaved rounds, at 10k and 100k templates.

It also checks a trap: OpenMP's thread count is a per-thread setting. ``omp_set_num_threads``
called in the main thread does not reach threads created afterwards, which start with OpenMP's
default (every core, unless ``OMP_NUM_THREADS`` is set). The ``pool_*`` rows search from a worker
thread: one that never set the count, and one whose initializer set it to 1. And it asks the
service's own worker pool (``matcher.server.worker_pool``) how many threads its workers search
with, so that the report's finding about it is computed from this run, not written in advance.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from benchmarks import machine
from benchmarks.data import DIM, gallery_vectors, probes_near
from benchmarks.measure import compare_side_by_side, paired_ratio

TOP_K = 10
BATCH = 64


def threads_seen_by_new_thread(main_setting: int = 1) -> int:
    """What ``omp_get_max_threads`` says in a new thread after the main thread set ``main_setting``."""
    faiss.omp_set_num_threads(main_setting)
    with ThreadPoolExecutor(1) as pool:
        return int(pool.submit(faiss.omp_get_max_threads).result())


def run_size(n: int, queries: int = 128, *, calls: int = 40, rounds: int = 5) -> dict[str, Any]:
    vectors = gallery_vectors(n, seed=n + 5)
    probes = probes_near(vectors, max(queries, BATCH), seed=n + 6)
    index = faiss.IndexFlatIP(DIM)
    index.add(vectors)
    batches = [probes[j : j + BATCH] for j in range(0, len(probes) - BATCH + 1, BATCH)]

    def single(threads: int) -> Callable[[int], object]:
        def run(i: int) -> object:
            faiss.omp_set_num_threads(threads)
            return index.search(probes[i % len(probes)][None, :], TOP_K)

        return run

    def batched(threads: int) -> Callable[[int], object]:
        def run(i: int) -> object:
            faiss.omp_set_num_threads(threads)
            return index.search(batches[i % len(batches)], TOP_K)

        return run

    answers = {}
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        answers[threads] = index.search(probes, TOP_K)[1]
    faiss.omp_set_num_threads(1)

    default_pool = ThreadPoolExecutor(1)  # Like a gRPC worker: never set the OpenMP count.
    one_pool = ThreadPoolExecutor(1, initializer=faiss.omp_set_num_threads, initargs=(1,))
    pool_threads = int(default_pool.submit(faiss.omp_get_max_threads).result())

    def in_pool(pool: ThreadPoolExecutor) -> Callable[[int], object]:
        return lambda i: pool.submit(index.search, probes[i % len(probes)][None, :], TOP_K).result()

    try:
        single_timing = compare_side_by_side(
            {
                "omp1": single(1),
                "omp2": single(2),
                "pool_default": in_pool(default_pool),
                "pool_omp1": in_pool(one_pool),
            },
            calls,
            rounds,
            baseline="omp1",
        )
        single_timing["pool_default"]["ratio_qps_vs_pool_omp1"] = paired_ratio(
            single_timing, "pool_default", "pool_omp1"
        )
        batch_timing = compare_side_by_side(
            {"omp1": batched(1), "omp2": batched(2)},
            max(2, calls // 8),
            rounds,
            items_per_call=BATCH,
            baseline="omp1",
        )
    finally:
        default_pool.shutdown()
        one_pool.shutdown()
        faiss.omp_set_num_threads(1)
    return {
        "templates": n,
        "batch": BATCH,
        "answers_identical_1_vs_2": bool(np.array_equal(answers[1], answers[2])),
        "worker_thread_default_omp_threads": pool_threads,
        "single": single_timing,
        "batched": batch_timing,
        "best_single": "1" if single_timing["omp2"]["ratio_qps_vs_omp1"] < 1 else "2",
        "best_batched": "1" if batch_timing["omp2"]["ratio_qps_vs_omp1"] < 1 else "2",
    }


def service_worker_threads(faiss_threads: int = 1) -> int:
    """What ``omp_get_max_threads`` says in a worker of the service's own pool."""
    from matcher.server import worker_pool

    pool = worker_pool(1, faiss_threads)
    try:
        return int(pool.submit(faiss.omp_get_max_threads).result())
    finally:
        pool.shutdown()


def run(sizes: tuple[int, ...] = (10_000, 100_000), **kwargs: Any) -> dict[str, Any]:
    from matcher.config import Settings

    configured = Settings().faiss_threads
    return {
        "new_thread_sees_omp_threads": threads_seen_by_new_thread(1),
        "service_faiss_threads": configured,
        "service_worker_omp_threads": service_worker_threads(configured),
        "sizes": [run_size(n, **kwargs) for n in sizes],
    }


def ok(result: dict[str, Any]) -> bool:
    return all(r["answers_identical_1_vs_2"] for r in result["sizes"])


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "Per call p50 ms and QPS (probes/s; medians of interleaved rounds); ratio = 2 threads / 1 thread "
        "in the same round (above 1: two threads are faster).",
        "",
        "| templates | probes per call | 1 thread p50 | 2 threads p50 | 1 thread QPS | 2 threads QPS "
        "| 2/1 QPS ratio | best |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["sizes"]:
        rows = (("1", r["single"], r["best_single"]), (str(r["batch"]), r["batched"], r["best_batched"]))
        for label, timing, best in rows:
            lines.append(
                f"| {r['templates']:,} | {label} | {timing['omp1']['p50_ms']:.3f} "
                f"| {timing['omp2']['p50_ms']:.3f} "
                f"| {timing['omp1']['qps']:,.0f} | {timing['omp2']['qps']:,.0f} "
                f"| {timing['omp2']['ratio_qps_vs_omp1']:.2f} | {best} thread{'s' if best == '2' else ''} |"
            )
    lines += [
        "",
        f"A thread created after the main thread called `omp_set_num_threads(1)` sees "
        f"{result['new_thread_sees_omp_threads']} OpenMP threads. Searching one probe from a worker "
        "thread (as gRPC's pool does):",
        "",
        "| templates | worker default threads | default p50 ms | set-to-1 p50 ms | default/set-to-1 QPS |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in result["sizes"]:
        s = r["single"]
        lines.append(
            f"| {r['templates']:,} | {r['worker_thread_default_omp_threads']} "
            f"| {s['pool_default']['p50_ms']:.3f} | {s['pool_omp1']['p50_ms']:.3f} "
            f"| {s['pool_default']['ratio_qps_vs_pool_omp1']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/threads.json"))
    args = parser.parse_args(argv)
    result = run(tuple(args.sizes), rounds=args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine.describe(), "result": result}, indent=2))
    print(markdown(result))
    return 0 if ok(result) else 1


if __name__ == "__main__":
    raise SystemExit(main())
