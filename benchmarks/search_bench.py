"""Face search throughput: through the service (gRPC on loopback) against raw FAISS, same run.

For each gallery size the same seeded templates are loaded into (a) a raw ``faiss.IndexFlatIP``,
(b) matcher's in-memory :class:`~matcher.gallery.FaceGallery`, and (c) a real matcher server on
loopback (SQLite under a temporary folder, every template stored encrypted through the service's
own ``enroll_many`` and rebuilt at start-up, as after a restart). The same probes (near-duplicates
of enrolled faces, so every search has hits to confirm and audit) are searched by every path.

Why these comparisons: raw FAISS is the floor (what the hardware gives for exact search); the
in-process gallery shows what the case-scoping selector costs on top; ``FaceMatcher.search``
adds the database confirmation and the audit record; gRPC adds the transport. All paths are timed
in interleaved rounds (see :mod:`benchmarks.measure`) and reported as ratios against raw FAISS.

Checks (the run fails if any does not hold): every service answer's top-k equals raw FAISS's
(the original check), and for a sample of probes raw FAISS, the gallery (single and batched) and
the service all equal a float64 NumPy brute force, up to float32 near-ties.

The gRPC API takes one probe per call (``SearchFacesRequest.probe``), so batching is measured
in-process only: 16 probes per call through the gallery against raw FAISS.

    python -m benchmarks.search_bench [--sizes 1000 10000 100000] [--queries 300] [--out FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import grpc

from benchmarks import machine
from benchmarks.data import DIM, Vectors, compare, exact_topk, gallery_vectors, probes_near
from benchmarks.measure import compare_side_by_side
from lifecycle.clock import SystemClock
from matcher.app import App, build_app, prepare
from matcher.client import MatcherClient
from matcher.config import Settings
from matcher.gallery import FaceGallery
from matcher.server import Service

TOP_K = 10
PER_SUBJECT = 500  # Templates per subject when seeding: one enroll_many transaction each.
BATCH = 16
MODEL = "arcface-512"
CASE = "bench"


def probes_for(vectors: Vectors, count: int, seed: int) -> Vectors:
    """The probes of a gallery: noisy copies of its templates (kept for existing callers)."""
    return probes_near(vectors, count, seed)


def concurrent_qps(fn: Callable[[int], object], count: int, threads: int) -> float:
    """Calls per second with ``threads`` callers in flight at once."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fn, range(count)))
    return count / (time.perf_counter() - start)


def assign_to_client(app: App, case_id: str) -> None:
    """Lets the local client's principal search the case (P11: cases must be assigned).

    ``client.token`` belongs to the local investigator, who is also a case supervisor and so may
    take the case on. Older builds without access control need nothing.
    """
    access = getattr(app, "access", None)
    if access is None:
        return
    from matcher import local_principals

    investigator = local_principals.INVESTIGATOR_ID
    access.assign_case(investigator, investigator, case_id, reason="benchmark")


def seed_service(data_dir: Path, vectors: Vectors) -> tuple[float, dict[str, int]]:
    """Stores the templates through matcher's own enrolment code (P1 checks, encryption, audit).

    Returns the seconds taken and each template's row in ``vectors``, to check answers by id.
    """
    settings = Settings(data_dir=data_dir, listen="127.0.0.1:0")
    app = build_app(settings, SystemClock())
    rows: dict[str, int] = {}
    start = time.perf_counter()
    app.lifecycle.create_case("bench", CASE, "Benchmark gallery", "benchmark")
    assign_to_client(app, CASE)
    for s, first in enumerate(range(0, len(vectors), PER_SUBJECT)):
        subject = f"s{s}"
        app.lifecycle.create_subject("bench", CASE, subject, "", "suspect", "benchmark")
        templates = app.faces.enroll_many(
            "bench", CASE, subject, vectors[first : first + PER_SUBJECT], MODEL, "benchmark"
        )
        rows.update({t.id: first + i for i, t in enumerate(templates)})
    elapsed = time.perf_counter() - start
    app.close()
    return elapsed, rows


@contextmanager
def running_service(data_dir: Path) -> Iterator[tuple[App, MatcherClient, float]]:
    """A real server on a free loopback port over ``data_dir``; yields it, a client, start-up s."""
    app = build_app(Settings(data_dir=data_dir, listen="127.0.0.1:0"), SystemClock())
    service = Service(app)
    port = service.port
    start = time.perf_counter()
    prepare(app)
    service.serving()
    startup = time.perf_counter() - start
    token = (data_dir / "client.token").read_text().strip()
    client = MatcherClient(grpc.insecure_channel(f"127.0.0.1:{port}"), token, timeout=120)
    try:
        yield app, client, startup
    finally:
        client.close()
        service.stop(grace=None)
        app.close()


@contextmanager
def blas_threshold(value: int) -> Iterator[None]:
    """Lets FAISS use one sgemm for batches of at least ``value`` queries (default 20)."""
    old = faiss.cvar.distance_compute_blas_threshold
    faiss.cvar.distance_compute_blas_threshold = value
    try:
        yield
    finally:
        faiss.cvar.distance_compute_blas_threshold = old


def one_omp_thread() -> None:
    """Thread initializer: OpenMP's thread count is per thread, so each new thread must set it."""
    faiss.omp_set_num_threads(1)


def pooled(fn: Callable[[int], object], count: int, threads: int) -> Callable[[int], object]:
    """One "call" that makes ``count`` calls of ``fn`` from ``threads`` threads at once.

    The callers' threads are given one OpenMP thread each, like the service is meant to run.
    """

    def run(_: int) -> object:
        with ThreadPoolExecutor(threads, initializer=one_omp_thread) as pool:
            return list(pool.map(fn, range(count)))

    return run


def run_size(
    n: int,
    queries: int,
    *,
    calls: int = 50,
    rounds: int = 5,
    clients: int = 8,
    sample: int = 50,
    service: bool = True,
    store_dir: Path | None = None,
) -> dict[str, Any]:
    """Everything measured at one gallery size; see the module docstring.

    ``store_dir`` keeps the seeded service data for later benchmarks (start-up at this size);
    without it the data goes to a temporary folder removed at the end.
    """
    if queries < BATCH:
        raise ValueError(f"need at least {BATCH} queries")
    vectors = gallery_vectors(n, seed=n)
    probes = probes_near(vectors, queries, seed=n + 1)
    sample = min(sample, queries)
    truth_ids, truth_scores = exact_topk(vectors, probes[:sample], TOP_K)
    result: dict[str, Any] = {"templates": n, "queries": queries, "top_k": TOP_K, "batch": BATCH}

    start = time.perf_counter()
    raw = faiss.IndexFlatIP(DIM)
    raw.add(vectors)
    result["raw_build_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    gallery = FaceGallery(DIM)
    names = [str(i) for i in range(n)]
    for first in range(0, n, PER_SUBJECT):
        gallery.add(CASE, first, names[first : first + PER_SUBJECT], vectors[first : first + PER_SUBJECT])
    result["gallery_build_seconds"] = time.perf_counter() - start

    def gallery_search(batch: Vectors) -> list[list[int]]:
        return [[int(h.template_id) for h in hits] for hits in gallery.search([CASE], batch, TOP_K, -1.0)]

    batches = [probes[j : j + BATCH] for j in range(0, queries - BATCH + 1, BATCH)]
    head = probes[:sample]
    _, raw_ids = raw.search(probes, TOP_K)
    raw_single = [raw.search(head[i : i + 1], TOP_K)[1][0].tolist() for i in range(sample)]
    raw_batched = [row for j in range(0, sample, BATCH) for row in raw.search(head[j : j + BATCH], TOP_K)[1]]
    checks: dict[str, Any] = {
        "raw_faiss": compare(vectors, head, raw_single, truth_ids, truth_scores).as_dict(),
        "raw_faiss_batch16": compare(
            vectors, head, [r.tolist() for r in raw_batched], truth_ids, truth_scores
        ).as_dict(),
        "gallery": compare(
            vectors,
            head,
            [gallery_search(head[i : i + 1])[0] for i in range(sample)],
            truth_ids,
            truth_scores,
        ).as_dict(),
        "gallery_batch16": compare(
            vectors,
            head,
            [ids for j in range(0, sample, BATCH) for ids in gallery_search(head[j : j + BATCH])],
            truth_ids,
            truth_scores,
        ).as_dict(),
    }

    single: dict[str, Callable[[int], object]] = {
        "raw_faiss": lambda i: raw.search(probes[i % queries][None, :], TOP_K),
        "gallery_in_process": lambda i: gallery.search([CASE], probes[i % queries][None, :], TOP_K, -1.0),
    }
    batched: dict[str, Callable[[int], object]] = {
        "raw_faiss": single["raw_faiss"],
        "raw_faiss_batch16": lambda i: raw.search(batches[i % len(batches)], TOP_K),
        "gallery_batch16": lambda i: gallery.search([CASE], batches[i % len(batches)], TOP_K, -1.0),
    }

    def with_blas(fn: Callable[[int], object]) -> Callable[[int], object]:
        def run(i: int) -> object:
            with blas_threshold(BATCH):
                return fn(i)

        return run

    batched["raw_faiss_batch16_blas"] = with_blas(batched["raw_faiss_batch16"])
    batched["gallery_batch16_blas"] = with_blas(batched["gallery_batch16"])
    result["batched"] = compare_side_by_side(
        batched,
        max(2, calls // 4),
        rounds,
        items={name: BATCH for name in batched if name != "raw_faiss"},
        baseline="raw_faiss",
    )

    if not service:
        result["service_skipped"] = "not run at this size (--no-service-above)"
        result["single"] = compare_side_by_side(single, calls, rounds, baseline="raw_faiss")
        result["checks"] = checks
        return result

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = store_dir if store_dir is not None else Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        seconds, row_of = seed_service(data_dir, vectors)
        gc.collect()
        result["seed_seconds"] = seconds
        result["seed_templates_per_second"] = n / seconds
        with running_service(data_dir) as (app, client, startup):
            result["startup_to_serving_seconds"] = startup

            def grpc_search(i: int) -> Any:
                return client.search_faces(
                    [CASE], probes[i % queries], reason="benchmark", top_k=TOP_K, min_score=-1.0
                )

            def matcher_search(i: int) -> object:
                return app.faces.search(
                    "bench", [CASE], [probes[i % queries]], MODEL, "benchmark", TOP_K, -1.0
                )

            def service_ids(i: int) -> list[int]:
                return [row_of[m.face_template.rsplit("/", 1)[-1]] for m in grpc_search(i).results[0].matches]

            answers = [service_ids(i) for i in range(queries)]
            result["top_k_mismatches_vs_raw_faiss"] = sum(
                got != raw_ids[i].tolist() for i, got in enumerate(answers)
            )
            checks["service_grpc"] = compare(
                vectors, head, answers[:sample], truth_ids, truth_scores
            ).as_dict()
            single["face_matcher_in_process"] = matcher_search
            single["service_grpc"] = grpc_search
            result["single"] = compare_side_by_side(single, calls, rounds, baseline="raw_faiss")
            burst = max(clients, calls)
            result["concurrent"] = compare_side_by_side(
                {
                    "raw_faiss": pooled(single["raw_faiss"], burst, clients),
                    "service_grpc": pooled(grpc_search, burst, clients),
                },
                1,
                rounds,
                items_per_call=burst,
                baseline="raw_faiss",
                warmup=0,
            )
            result["concurrent"]["clients"] = clients
    result["checks"] = checks
    return result


def ok(result: dict[str, Any]) -> bool:
    """Whether every correctness check of one size held."""
    return result.get("top_k_mismatches_vs_raw_faiss", 0) == 0 and all(
        check["ok"] for check in result["checks"].values()
    )


def _get(result: dict[str, Any], *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _num(value: Any, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def markdown(results: list[dict[str, Any]]) -> str:
    """The face-search tables: single probes, batches, the service's own costs, correctness."""
    lines = [
        "Single probe per call (p50 / p99 ms per call; QPS and ratios: medians of interleaved rounds).",
        "",
        "| templates | raw FAISS p50 / p99 | gallery p50 / p99 | FaceMatcher p50 | service gRPC p50 / p99 "
        "| raw QPS | gallery/raw | FaceMatcher/raw | service/raw |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r["single"]
        lines.append(
            f"| {r['templates']:,} "
            f"| {s['raw_faiss']['p50_ms']:.3f} / {s['raw_faiss']['p99_ms']:.3f} "
            f"| {s['gallery_in_process']['p50_ms']:.3f} / {s['gallery_in_process']['p99_ms']:.3f} "
            f"| {_num(_get(s, 'face_matcher_in_process', 'p50_ms'), '.3f')} "
            f"| {_num(_get(s, 'service_grpc', 'p50_ms'), '.3f')} / "
            f"{_num(_get(s, 'service_grpc', 'p99_ms'), '.3f')} "
            f"| {s['raw_faiss']['qps']:,.0f} "
            f"| {s['gallery_in_process']['ratio_qps_vs_raw_faiss']:.3f} "
            f"| {_num(_get(s, 'face_matcher_in_process', 'ratio_qps_vs_raw_faiss'), '.3f')} "
            f"| {_num(_get(s, 'service_grpc', 'ratio_qps_vs_raw_faiss'), '.3f')} |"
        )
    lines += [
        "",
        f"Batches of {BATCH} probes per call, in process (the gRPC API takes one probe per call). "
        "QPS counts probes; ratios are against raw FAISS with one probe per call; "
        f"'blas' sets `distance_compute_blas_threshold` to {BATCH} so the batch is one sgemm.",
        "",
        "| templates | raw b1 QPS | raw b16 QPS | raw b16 blas QPS | gallery b16 QPS | gallery b16 blas QPS "
        "| raw b16/b1 | raw b16 blas/b1 | gallery b16/raw b1 | gallery b16 blas/raw b1 "
        "| gallery b16 p50 ms per call |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        b = r["batched"]
        lines.append(
            f"| {r['templates']:,} | {b['raw_faiss']['qps']:,.0f} | {b['raw_faiss_batch16']['qps']:,.0f} "
            f"| {b['raw_faiss_batch16_blas']['qps']:,.0f} | {b['gallery_batch16']['qps']:,.0f} "
            f"| {b['gallery_batch16_blas']['qps']:,.0f} "
            f"| {b['raw_faiss_batch16']['ratio_qps_vs_raw_faiss']:.2f} "
            f"| {b['raw_faiss_batch16_blas']['ratio_qps_vs_raw_faiss']:.2f} "
            f"| {b['gallery_batch16']['ratio_qps_vs_raw_faiss']:.2f} "
            f"| {b['gallery_batch16_blas']['ratio_qps_vs_raw_faiss']:.2f} "
            f"| {b['gallery_batch16']['p50_ms']:.2f} |"
        )
    lines += [
        "",
        "The service's own costs: seeding through `FaceMatcher.enroll_many` (P1 check, AES-GCM, "
        f"audit; {PER_SUBJECT} templates per call), start-up to SERVING (purges, decrypt, rebuild), "
        "and throughput with several clients in flight against raw FAISS searched from as many threads.",
        "",
        "| templates | seed s | templates/s seeded | start-up to SERVING s | clients | service QPS "
        "| raw FAISS QPS (threads) | service/raw |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "service_skipped" in r:
            lines.append(f"| {r['templates']:,} | service path not run: {r['service_skipped']} |||||||")
            continue
        c = r["concurrent"]
        lines.append(
            f"| {r['templates']:,} | {r['seed_seconds']:.1f} | {r['seed_templates_per_second']:,.0f} "
            f"| {r['startup_to_serving_seconds']:.2f} | {c['clients']} | {c['service_grpc']['qps']:,.0f} "
            f"| {c['raw_faiss']['qps']:,.0f} | {c['service_grpc']['ratio_qps_vs_raw_faiss']:.3f} |"
        )
    lines += [
        "",
        "Correctness: probes whose top-10 equals a float64 NumPy brute force "
        "(identical ids / equal up to float32 near-ties), and service answers that differ from raw FAISS.",
        "",
        "| templates | raw FAISS | raw b16 | gallery | gallery b16 | service gRPC "
        "| service ≠ raw (all queries) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cells = []
        for name in ("raw_faiss", "raw_faiss_batch16", "gallery", "gallery_batch16", "service_grpc"):
            check = r["checks"].get(name)
            cells.append(
                "n/a" if check is None else f"{check['identical']}/{check['equivalent']} of {check['probes']}"
            )
        mismatches = r.get("top_k_mismatches_vs_raw_faiss")
        differ = "n/a" if mismatches is None else f"{mismatches} of {r['queries']}"
        lines.append(f"| {r['templates']:,} | {' | '.join(cells)} | {differ} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--calls", type=int, default=50, help="calls per contender per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients for the QPS figure")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/search.json"))
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    info = machine.describe()
    print(json.dumps(info))
    results = []
    for n in args.sizes:
        print(f"gallery of {n:,} templates...", flush=True)
        results.append(run_size(n, args.queries, calls=args.calls, rounds=args.rounds, clients=args.threads))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    print(markdown(results))
    print(f"written to {args.out}")
    return 0 if all(ok(r) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
