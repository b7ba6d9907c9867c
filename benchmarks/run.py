"""Runs the benchmark suite: ``python3 dev.py bench [--quick]``.

Each benchmark compares matcher with a baseline in the same process, checks that the answers are
the exact ones, and returns its results; this runner orders them, shares the seeded service stores
between them (a million templates are seeded once, not twice), and writes

* ``benchmarks/results/report.json``: every number, the machine and the plan;
* ``benchmarks/results/report.md``: the tables, the machine description and the findings;
* ``benchmarks/results/throughput.png``: searches per second against gallery size.

``--quick`` stays under five minutes on two cores (galleries up to 100k); the full run adds a
million-template gallery, more scopes, more repeats and a 100k peer. The exit code is non-zero
when any correctness check fails or a benchmark crashes; timings never fail the run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss

from benchmarks import lifecycle_costs, machine, many_scopes, peer_milvus, report, search_bench, threads


@dataclass(frozen=True)
class Plan:
    """Sizes and repeats of one run; stored in the report so a reader knows what was measured."""

    search_sizes: tuple[int, ...]
    search_queries: int
    search_calls: int
    rounds: int
    service_budget_seconds: float
    scopes: tuple[int, ...]
    scope_queries: int
    close_templates: int
    close_repeats: int
    startup: tuple[tuple[int, int], ...]  # (stored templates, repeats)
    milvus_sizes: tuple[int, ...]
    threads_sizes: tuple[int, ...]
    threads_calls: int


QUICK = Plan(
    search_sizes=(1000, 10_000, 100_000),
    search_queries=64,
    search_calls=16,
    rounds=3,
    service_budget_seconds=120,
    scopes=(1, 1000),
    scope_queries=30,
    close_templates=10_000,
    close_repeats=3,
    startup=((10_000, 3),),
    milvus_sizes=(10_000,),
    threads_sizes=(10_000, 100_000),
    threads_calls=16,
)
FULL = Plan(
    search_sizes=(1000, 10_000, 100_000, 1_000_000),
    search_queries=300,
    search_calls=40,
    rounds=5,
    service_budget_seconds=900,
    scopes=(1, 10, 100, 1000),
    scope_queries=50,
    close_templates=10_000,
    close_repeats=5,
    startup=((100_000, 3), (1_000_000, 1)),
    milvus_sizes=(10_000, 100_000),
    threads_sizes=(10_000, 100_000),
    threads_calls=40,
)


def calls_at(plan: Plan, n: int) -> int:
    """Calls per contender per round: fewer for big galleries, so each round stays short."""
    if n <= 10_000:
        return plan.search_calls
    if n <= 100_000:
        return max(8, plan.search_calls // 2)
    return max(6, plan.search_calls // 6)


def run_search(plan: Plan, stores: Path, notes: list[str]) -> list[dict[str, Any]]:
    """Face search at every size; the service path is skipped only when seeding would take longer
    than the plan's budget, and the report says so with the projection."""
    results = []
    rate: float | None = None
    keep = {n for n, _ in plan.startup}
    for n in plan.search_sizes:
        print(f"[search] gallery of {n:,} templates", flush=True)
        projected = None if rate is None else n / rate
        service = projected is None or projected <= plan.service_budget_seconds
        if not service:
            notes.append(
                f"**The service path at {n:,} templates was not run:** seeding through `enroll_many` would "
                f"take about {projected:.0f} s at the {rate:,.0f} templates/s measured at the previous size, "
                f"over this run's budget of {plan.service_budget_seconds:.0f} s. Raw FAISS and the "
                "in-process gallery were measured at this size."
            )
        result = search_bench.run_size(
            n,
            plan.search_queries,
            calls=calls_at(plan, n),
            rounds=plan.rounds,
            service=service,
            store_dir=stores / f"store-{n}" if n in keep else None,
        )
        if not service:
            result["service_skipped"] = f"projected seeding {projected:.0f} s > budget"
        else:
            rate = result["seed_templates_per_second"]
        results.append(result)
    return results


def run_lifecycle(plan: Plan, stores: Path) -> dict[str, Any]:
    print(
        f"[lifecycle] closing and purging {plan.close_repeats} cases of {plan.close_templates:,}", flush=True
    )
    close = lifecycle_costs.close_and_purge(plan.close_templates, plan.close_repeats)
    startups = []
    for n, repeats in plan.startup:
        print(f"[lifecycle] start-up over {n:,} stored templates", flush=True)
        startups.append(lifecycle_costs.startup(n, repeats, store_dir=stores / f"store-{n}"))
    return {"close": close, "startup": startups}


def run_other(name: str, quick: bool, out_dir: Path) -> dict[str, Any]:
    """Runs another team's benchmark module's ``main`` if it imports; otherwise says why not."""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except Exception as error:
        return {"skipped": f"benchmarks.{name} does not import: {type(error).__name__}: {error}"}
    main = getattr(module, "main", None)
    if main is None:
        return {"skipped": f"benchmarks.{name} has no main()"}
    out = out_dir / f"{name.removesuffix('_bench')}.json"
    argv = [*(["--quick"] if quick else []), "--out", str(out)]
    captured = io.StringIO()
    saved = sys.argv
    code: Any
    try:
        with contextlib.redirect_stdout(captured):
            if inspect.signature(main).parameters:
                code = main(argv)
            else:  # A main() that reads sys.argv itself.
                sys.argv = [f"benchmarks/{name}.py", *argv]
                code = main()
    except SystemExit as exit_:
        code = exit_.code
    finally:
        sys.argv = saved
    text = captured.getvalue()
    print(text, end="")
    results = json.loads(out.read_text()) if out.exists() else None
    return {"exit_code": code or 0, "out": str(out), "output": text[-6000:], "results": results}


def worker_thread_findings(t: dict[str, Any]) -> list[str]:
    """What this run measured of the OpenMP threads the service's workers search with."""
    configured = t.get("service_faiss_threads", 1)
    workers = t.get("service_worker_omp_threads")
    if workers is None:
        return []
    if workers == configured:
        return [
            f"The service's worker threads search with {workers} OpenMP thread{'s' if workers != 1 else ''}, "
            f"as MATCHER_FAISS_THREADS={configured} says (a plain new thread would get "
            f"{t['new_thread_sees_omp_threads']})."
        ]
    ratios = [r["single"]["pool_default"]["ratio_qps_vs_pool_omp1"] for r in t.get("sizes", [])]
    pool = ", ".join(f"{x:.2f}" for x in ratios)
    cost = f" (a worker left at the default searched at {pool}x the QPS of one set to 1)" if pool else ""
    return [
        f"**MATCHER_FAISS_THREADS={configured} does not reach the threads that search.** The service's "
        f"worker threads see {workers} OpenMP threads{cost}. Set the count in the worker pool's "
        "initializer (`matcher.server.worker_pool`)."
    ]


def findings(sections: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """Statements a reader should act on, derived from the numbers rather than written in advance."""
    found = []
    t = sections.get("threads")
    if t:
        singles = [r["single"]["omp2"]["ratio_qps_vs_omp1"] for r in t["sizes"]]
        batches = [r["batched"]["omp2"]["ratio_qps_vs_omp1"] for r in t["sizes"]]
        if all(r["best_single"] == "1" for r in t["sizes"]):
            found.append(
                "MATCHER_FAISS_THREADS=1 is confirmed for single probes: two OpenMP threads gave "
                f"{min(singles):.2f}-{max(singles):.2f}x the QPS of one."
            )
        else:
            found.append(
                "Two OpenMP threads beat one for single probes at some size "
                f"({', '.join(f'{x:.2f}' for x in singles)}x): revisit MATCHER_FAISS_THREADS=1."
            )
        found.append(
            f"Batches of {t['sizes'][0]['batch']}: two threads gave "
            f"{', '.join(f'{x:.2f}' for x in batches)}x the QPS of one "
            f"(at {', '.join(format(r['templates'], ',') for r in t['sizes'])} templates)."
        )
        found += worker_thread_findings(t)
    search = sections.get("search")
    if search:
        small = search[0]
        matcher_ratio = small["single"].get("face_matcher_in_process", {}).get("ratio_qps_vs_raw_faiss")
        if matcher_ratio is not None:
            found.append(
                f"At {small['templates']:,} templates a search through FaceMatcher runs at "
                f"{matcher_ratio:.3f}x raw FAISS "
                f"(p50 {small['single']['face_matcher_in_process']['p50_ms']:.2f} ms): the database "
                "confirmation and the audit record, not FAISS, bound small galleries."
            )
        concurrent = [r for r in search if "concurrent" in r]
        if concurrent:
            r = concurrent[0]
            found.append(
                f"With {r['concurrent']['clients']} clients in flight the service answered "
                f"{r['concurrent']['service_grpc']['qps']:,.0f} searches/s at {r['templates']:,} templates "
                f"against {r['single']['service_grpc']['qps']:,.0f} with one client: concurrency does not "
                "raise the service's throughput. Likely cause (not isolated here): every search commits an "
                "audit record and SQLite serialises commits"
                + (
                    f"; and the service's workers search with {workers} OpenMP threads each, "
                    "oversubscribing the machine."
                    if (workers := (t or {}).get("service_worker_omp_threads", 1)) > 1
                    else "."
                )
            )
        for r in search:
            if "seed_templates_per_second" in r and r["templates"] >= 100_000:
                found.append(
                    f"Seeding {r['templates']:,} templates through `enroll_many` took "
                    f"{r['seed_seconds']:.0f} s "
                    f"({r['seed_templates_per_second']:,.0f}/s); start-up to SERVING "
                    f"{r['startup_to_serving_seconds']:.1f} s."
                )
    peers = [p for p in sections.get("peer_milvus", []) if p.get("available")]
    for p in peers:
        if p.get("after_delete_flush_on_disk"):
            found.append(
                f"Milvus Lite kept the bytes of {p['after_delete_flush_on_disk']} of {p['scanned_on_disk']} "
                "deleted vectors on disk after delete + flush"
                + (
                    f" ({p['after_compact_on_disk']} after compaction)"
                    if "after_compact_on_disk" in p
                    else ""
                )
                + ", although they no longer answered searches: it cannot meet P18 as is."
            )
    if "avx512f" not in info.get("simd", ""):
        found.append(
            "This machine has no AVX-512 (DESIGN's measured facts came from one that had): absolute times "
            "here are not comparable with them, ratios are."
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="matcher benchmark suite")
    parser.add_argument("--quick", action="store_true", help="small galleries, a few minutes on 2 cores")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--only",
        nargs="+",
        help="run only these: search many_scopes lifecycle peer_milvus threads plates faces",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    faiss.omp_set_num_threads(1)
    info = machine.describe()
    print(json.dumps(info), flush=True)
    started = time.perf_counter()
    stores = Path(tempfile.mkdtemp(prefix="matcher-bench-"))
    notes = [
        "The gRPC API takes one probe per call (`SearchFacesRequest.probe`), so the service is measured "
        "with one probe per call; batches are measured in process only."
    ]
    sections: dict[str, Any] = {}
    status: dict[str, dict[str, Any]] = {}
    steps: list[tuple[str, Callable[[], Any], Callable[[Any], bool]]] = [
        ("search", lambda: run_search(plan, stores, notes), lambda r: all(search_bench.ok(x) for x in r)),
        (
            "many_scopes",
            lambda: many_scopes.run(scopes=plan.scopes, queries=plan.scope_queries, rounds=plan.rounds),
            many_scopes.ok,
        ),
        (
            "lifecycle",
            lambda: run_lifecycle(plan, stores),
            lambda r: (
                lifecycle_costs.close_ok(r["close"]) and all(map(lifecycle_costs.startup_ok, r["startup"]))
            ),
        ),
        (
            "peer_milvus",
            lambda: [peer_milvus.run(n, rounds=plan.rounds) for n in plan.milvus_sizes],
            lambda r: True,
        ),
        (
            "threads",
            lambda: threads.run(plan.threads_sizes, calls=plan.threads_calls, rounds=plan.rounds),
            threads.ok,
        ),
        ("plates_bench", lambda: run_other("plates_bench", args.quick, args.out_dir), lambda r: True),
        ("faces_bench", lambda: run_other("faces_bench", args.quick, args.out_dir), lambda r: True),
        ("sightings_bench", lambda: run_other("sightings_bench", args.quick, args.out_dir), lambda r: True),
    ]
    try:
        for name, step, check in steps:
            short = name.removesuffix("_bench")
            if args.only and name not in args.only and short not in args.only:
                continue
            print(f"== {name}", flush=True)
            begun = time.perf_counter()
            try:
                sections[name] = step()
                passed = check(sections[name])
                state = "passed" if passed else "FAILED"
                if name in ("plates_bench", "faces_bench", "sightings_bench"):
                    other = sections[name]
                    state = (
                        f"skipped: {other['skipped']}"
                        if other.get("skipped")
                        else f"ran, exit code {other['exit_code']} (its own checks)"
                    )
                elif name == "peer_milvus":
                    state = (
                        "peer ran; its results are findings"
                        if all(p["available"] for p in sections[name])
                        else "peer could not run here (see section 4)"
                    )
                status[name] = {"state": state, "passed": passed, "seconds": time.perf_counter() - begun}
            except Exception:
                status[name] = {
                    "state": "CRASHED",
                    "passed": False,
                    "seconds": time.perf_counter() - begun,
                    "error": traceback.format_exc(),
                }
                print(status[name]["error"], file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(stores, ignore_errors=True)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    plot_error = None
    if "search" in sections:
        plot_error = report.plot(sections["search"], args.out_dir / "throughput.png")
        if plot_error:
            notes.append(f"No plot: matplotlib is not available here ({plot_error}).")
    full = {
        "command": f"python -m benchmarks.run{' --quick' if args.quick else ''}",
        "quick": args.quick,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started,
        "machine": info,
        "plan": asdict(plan),
        "status": status,
        "search_notes": notes,
        "sections": sections,
        "findings": findings(sections, info),
    }
    (args.out_dir / "report.json").write_text(json.dumps(full, indent=2, default=str))
    markdown = report.render(full)
    (args.out_dir / "report.md").write_text(markdown)
    print(markdown)
    print(f"written to {args.out_dir}/report.json, report.md and throughput.png")
    return 0 if all(s["passed"] for s in status.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
