"""SearchFaces throughput with 1, 8 and 32 clients, and searches while 4 clients enrol (issue 12).

In one run, per gallery size: the service's own gRPC health check (the echo floor of a call over
loopback), service ``SearchFaces`` and raw FAISS (``IndexFlatIP`` over the same templates,
searched from as many threads), each for a fixed time with N callers in flight; then, at the
first size, searches from one client alone and while 4 other clients enrol faces as fast as they
can (``EnrollFace``, one commit each), with the p50/p99 of the searches and the number that hit
their deadline. Every search answer is checked: its best hit must be the template the probe
was made from (a noisy copy of it).

Figures are ratios in the same run on the same machine; on a shared 2-core machine they vary
from run to run, so quote the ratios with the command.

    python -m benchmarks.throughput_bench [--quick] [--sizes 1000 10000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import grpc
import numpy as np

from benchmarks import machine
from benchmarks.data import gallery_vectors, probes_near
from benchmarks.search_bench import CASE, seed_service
from lifecycle.clock import SystemClock
from matcher.app import build_app, prepare
from matcher.client import MatcherClient
from matcher.config import Settings
from matcher.server import Service

CLIENTS = (1, 8, 32)
ENROLLERS = 4
DEADLINE = 10.0


def _calls_per_second(call: Callable[[int], object], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` threads call ``call`` back to back for ``seconds``; calls/s and latencies."""
    stop = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]

    def worker(w: int) -> None:
        faiss.omp_set_num_threads(1)
        i = w
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            call(i)
            latencies[w].append(time.perf_counter() - t0)
            i += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [x for per in latencies for x in per]
    return {
        "calls_per_s": len(flat) / elapsed,
        "p50_ms": 1000 * float(np.percentile(flat, 50)) if flat else 0.0,
        "p99_ms": 1000 * float(np.percentile(flat, 99)) if flat else 0.0,
    }


def run_size(n: int, *, seconds: float, clients: tuple[int, ...], enrol_seconds: float) -> dict[str, Any]:
    vectors = gallery_vectors(n, seed=n)
    probes = probes_near(vectors, 200, seed=n + 1)
    truth = np.argmax(probes @ vectors.T, axis=1)
    raw = faiss.IndexFlatIP(vectors.shape[1])
    raw.add(vectors)
    result: dict[str, Any] = {"templates": n, "clients": {}}
    wrong: list[int] = []  # probes whose best hit was not their template
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        _, row_of = seed_service(data_dir, vectors)
        app = build_app(Settings(data_dir=data_dir, listen="127.0.0.1:0"), SystemClock())
        service = Service(app)
        prepare(app)
        service.serving()
        token = (data_dir / "client.token").read_text().strip()
        pool = [
            MatcherClient(grpc.insecure_channel(f"127.0.0.1:{service.port}"), token, timeout=DEADLINE)
            for _ in range(max(*clients, ENROLLERS) + 1)
        ]
        try:

            def search(i: int, c: Any = None) -> None:
                who = c or pool[i % len(pool)]
                answer = who.search_faces([CASE], probes[i % len(probes)], reason="benchmark", top_k=10)
                best = answer.results[0].matches[0].face_template.rsplit("/", 1)[-1]
                if row_of[best] != int(truth[i % len(probes)]):
                    wrong.append(i)

            def health(i: int) -> None:
                pool[i % len(pool)].serving()

            def faiss_search(i: int) -> None:
                raw.search(probes[i % len(probes)][np.newaxis, :], 10)

            for k in clients:
                per: dict[str, Any] = {
                    "health_check": _calls_per_second(health, k, seconds),
                    "search_faces": _calls_per_second(search, k, seconds),
                    "raw_faiss": _calls_per_second(faiss_search, k, seconds),
                }
                per["search_vs_health"] = (
                    per["search_faces"]["calls_per_s"] / per["health_check"]["calls_per_s"]
                )
                per["search_vs_raw_faiss"] = (
                    per["search_faces"]["calls_per_s"] / per["raw_faiss"]["calls_per_s"]
                )
                result["clients"][str(k)] = per
            if enrol_seconds:
                result["enrolment"] = _under_enrolment(app, pool, probes, search, enrol_seconds)
        finally:
            for one_client in pool:
                one_client.close()
            service.stop(grace=None)
            app.close()
    one, most = (
        result["clients"][str(clients[0])],
        result["clients"][str(clients[-1] if len(clients) < 2 else clients[1])],
    )
    result["scaling_8_vs_1"] = most["search_faces"]["calls_per_s"] / one["search_faces"]["calls_per_s"]
    result["wrong_best_hits"] = len(wrong)
    return result


def _under_enrolment(app: Any, pool: list[Any], probes: Any, search: Any, seconds: float) -> dict[str, Any]:
    """One searching client alone, then while ``ENROLLERS`` clients enrol back to back."""
    app.lifecycle.create_subject("bench", CASE, "enrolled", "", "suspect", "benchmark")
    searcher = pool[0]

    def searches() -> tuple[list[float], int]:
        latencies, timeouts, stop, i = [], 0, time.perf_counter() + seconds, 0
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                search(i, searcher)
            except Exception as error:  # MatcherError wraps the status
                if getattr(error, "code", None) == grpc.StatusCode.DEADLINE_EXCEEDED:
                    timeouts += 1
                    continue
                raise
            latencies.append(time.perf_counter() - t0)
            i += 1
        return latencies, timeouts

    alone, alone_timeouts = searches()
    stop = threading.Event()
    enrolled = [0] * ENROLLERS
    rng = np.random.default_rng(5)
    faces = rng.standard_normal((ENROLLERS * 2000, probes.shape[1])).astype(np.float32)
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)

    def enrol(w: int) -> None:
        client = pool[1 + w]
        while not stop.is_set():
            client.enroll_face(CASE, "enrolled", faces[w * 2000 + enrolled[w] % 2000], reason="bulk load")
            enrolled[w] += 1

    threads = [threading.Thread(target=enrol, args=(w,)) for w in range(ENROLLERS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        busy, busy_timeouts = searches()
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    def p(values: list[float], q: float) -> float:
        return 1000 * float(np.percentile(values, q)) if values else float("nan")

    return {
        "enrolling_clients": ENROLLERS,
        "searches_alone": len(alone),
        "searches_while_enrolling": len(busy),
        "enrolments": sum(enrolled),
        "enrolments_per_s": sum(enrolled) / seconds,
        "p50_ms_alone": p(alone, 50),
        "p99_ms_alone": p(alone, 99),
        "p50_ms_while_enrolling": p(busy, 50),
        "p99_ms_while_enrolling": p(busy, 99),
        "p99_ratio": p(busy, 99) / p(alone, 99) if alone and busy else float("nan"),
        "timeouts": alone_timeouts + busy_timeouts,
    }


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| templates | clients | health check calls/s | SearchFaces calls/s | raw FAISS searches/s "
        "| search / health | search p50 ms | search p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for k, per in r["clients"].items():
            s = per["search_faces"]
            lines.append(
                f"| {r['templates']:,} | {k} | {per['health_check']['calls_per_s']:,.0f} "
                f"| {s['calls_per_s']:,.0f} "
                f"| {per['raw_faiss']['calls_per_s']:,.0f} | {per['search_vs_health']:.2f} "
                f"| {s['p50_ms']:.1f} | {s['p99_ms']:.1f} |"
            )
    for r in results:
        e = r.get("enrolment")
        if e:
            lines += [
                "",
                "| templates | enrolling clients | enrolments/s | searches alone | while enrolling "
                "| p99 ms alone | p99 ms while enrolling | p99 ratio | timeouts |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                f"| {r['templates']:,} | {e['enrolling_clients']} | {e['enrolments_per_s']:.0f} "
                f"| {e['searches_alone']} | {e['searches_while_enrolling']} | {e['p99_ms_alone']:.1f} "
                f"| {e['p99_ms_while_enrolling']:.1f} | {e['p99_ratio']:.1f} | {e['timeouts']} |",
            ]
    return "\n".join(lines)


def run(
    sizes: list[int], *, seconds: float, clients: tuple[int, ...], enrol_seconds: float
) -> list[dict[str, Any]]:
    return [
        run_size(n, seconds=seconds, clients=clients, enrol_seconds=enrol_seconds if i == 0 else 0.0)
        for i, n in enumerate(sizes)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1.5 s per figure (under 3 minutes)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/throughput.json"))
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    seconds = 1.5 if args.quick else 5.0
    results = run(args.sizes, seconds=seconds, clients=CLIENTS, enrol_seconds=2 * seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine.describe(), "results": results}, indent=2))
    print(markdown(results))
    return (
        0
        if all(r["wrong_best_hits"] == 0 and r.get("enrolment", {}).get("timeouts", 0) == 0 for r in results)
        else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
