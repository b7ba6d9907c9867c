"""Lifecycle costs: what the privacy policy costs in time and memory, measured on the real code.

Why: P3 promises that a closed case's templates are unmatchable the moment ``CloseCase`` returns
and destroyed soon after, and decision 4 makes a restart finish purges and rebuild the galleries
before ``SERVING``. Those promises have prices that operators need to plan for:

* ``close``: the latency of closing a case, and proof that no search *begun after* the close
  returned answers with its templates (a searcher thread hammers the case during the close; the
  design's lag is zero, so this counts violations rather than measuring a lag), that the next
  search is refused with ``CASE_CLOSED``, and that the vectors are gone from the gallery's memory;
* ``purge``: the worker's ``run_due()`` duration to destroy a case of 10k templates (key, rows,
  in-memory copies, WAL checkpoint, receipt);
* ``startup``: ``prepare()`` from a cold process over a store of N templates, plus resident memory
  per template (RSS delta over the count) and the gallery's own buffer bytes per template.

The in-process ``App`` comes from :func:`matcher.app.build_app` over a temporary data folder
and :class:`lifecycle.clock.SystemClock`; start-up runs in a child process so each measurement
starts cold and its RSS is not polluted by the parent's seeding.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss

from benchmarks import machine
from benchmarks.data import gallery_vectors, probes_near
from benchmarks.measure import peak_rss_bytes, rss_bytes
from benchmarks.search_bench import MODEL, seed_service
from lifecycle.clock import SystemClock
from lifecycle.errors import PolicyError
from matcher.app import App, build_app, prepare
from matcher.config import Settings
from matcher.gallery import FaceGallery

ROOT = Path(__file__).resolve().parent.parent
PER_SUBJECT = 500
ACTOR = "bench"


@dataclass
class SearchLog:
    """What a searcher thread saw: (start, end, outcome) per search; outcome is hits or an error."""

    entries: list[tuple[float, float, str, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def _search_loop(app: App, case_id: str, probe: Any, log: SearchLog) -> None:
    while not log.stop.is_set():
        start = time.perf_counter()
        try:
            hits = app.faces.search(ACTOR, [case_id], [probe], MODEL, "benchmark", 10, -1.0)
            outcome, count = "hits", len(hits[0])
        except PolicyError as error:
            outcome, count = error.reason, 0
        log.entries.append((start, time.perf_counter(), outcome, count))


def enroll_case(app: App, case_id: str, vectors: Any) -> None:
    app.lifecycle.create_case(ACTOR, case_id, f"Benchmark {case_id}", "benchmark")
    for s, first in enumerate(range(0, len(vectors), PER_SUBJECT)):
        subject = f"s{s}"
        app.lifecycle.create_subject(ACTOR, case_id, subject, "", "suspect", "benchmark")
        app.faces.enroll_many(
            ACTOR, case_id, subject, vectors[first : first + PER_SUBJECT], MODEL, "benchmark"
        )


def close_and_purge(case_templates: int = 10_000, repeats: int = 3, seed: int = 20260003) -> dict[str, Any]:
    """Closes ``repeats`` cases of ``case_templates`` each, one at a time, and purges each."""
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Settings(data_dir=Path(tmp), listen="127.0.0.1:0"), SystemClock())
        keep = gallery_vectors(1000, seed)
        enroll_case(app, "keep", keep)
        keep_probe = probes_near(keep, 1, seed + 1)[0]
        for r in range(repeats):
            case_id = f"close-{r}"
            vectors = gallery_vectors(case_templates, seed + 10 + r)
            start = time.perf_counter()
            enroll_case(app, case_id, vectors)
            seed_seconds = time.perf_counter() - start
            size_before = app.faces.size()
            probe = probes_near(vectors, 1, seed + 100 + r)[0]
            log = SearchLog()
            searcher = threading.Thread(target=_search_loop, args=(app, case_id, probe, log), daemon=True)
            searcher.start()
            while sum(1 for e in log.entries if e[2] == "hits") < 5:
                time.sleep(0.001)
            close_start = time.perf_counter()
            app.lifecycle.close_case(ACTOR, case_id, "benchmark: case closed")
            close_end = time.perf_counter()
            try:
                app.faces.search(ACTOR, [case_id], [probe], MODEL, "benchmark", 10, -1.0)
                next_search = "answered"
            except PolicyError as error:
                next_search = error.reason
            while sum(1 for e in log.entries if e[0] > close_end) < 5:
                time.sleep(0.001)
            log.stop.set()
            searcher.join()
            after = [e for e in log.entries if e[0] > close_end]
            in_memory = any(app.faces.contains_vector(v) for v in vectors[:: max(1, len(vectors) // 50)])
            purge_start = time.perf_counter()
            app.worker.run_due()
            purge_seconds = time.perf_counter() - purge_start
            with app.db.transaction() as session:
                rows_left = app.lifecycle.template_count(session, case_id)
            purges = [view.purge.state for view in app.lifecycle.list_purges(case_id)]
            keep_hits = app.faces.search(ACTOR, ["keep"], [keep_probe], MODEL, "benchmark", 10, -1.0)
            runs.append(
                {
                    "templates": case_templates,
                    "seed_seconds": seed_seconds,
                    "close_seconds": close_end - close_start,
                    "gallery_dropped": size_before - app.faces.size(),
                    "next_search": next_search,
                    "searches_before_close": sum(1 for e in log.entries if e[1] < close_start),
                    "searches_overlapping_close": sum(
                        1 for e in log.entries if e[1] >= close_start and e[0] <= close_end
                    ),
                    "searches_after_close": len(after),
                    "searches_after_close_with_hits": sum(1 for e in after if e[3] > 0),
                    "searches_after_close_outcomes": sorted({e[2] for e in after}),
                    "vectors_in_gallery_after_close": in_memory,
                    "purge_seconds": purge_seconds,
                    "rows_left_after_purge": rows_left,
                    "purge_states": purges,
                    "other_case_still_matches": bool(keep_hits[0]),
                }
            )
        app.close()
    purge_median = statistics.median(float(r["purge_seconds"]) for r in runs)
    return {
        "templates_per_case": case_templates,
        "repeats": repeats,
        "close_seconds_median": statistics.median(float(r["close_seconds"]) for r in runs),
        "purge_seconds_median": purge_median,
        "purge_microseconds_per_template": 1e6 * purge_median / case_templates,
        "runs": runs,
    }


def close_ok(result: dict[str, Any]) -> bool:
    return all(
        r["searches_after_close_with_hits"] == 0
        and r["next_search"] == "CASE_CLOSED"
        and not r["vectors_in_gallery_after_close"]
        and r["gallery_dropped"] == r["templates"]
        and r["rows_left_after_purge"] == 0
        and r["purge_states"] == ["done"]
        and r["other_case_still_matches"]
        for r in result["runs"]
    )


# --- start-up -----------------------------------------------------------------------------------


def _child_startup(data_dir: Path) -> dict[str, Any]:
    """Runs in a fresh process: build the app, time prepare(), report memory."""
    faiss.omp_set_num_threads(1)
    app = build_app(Settings(data_dir=data_dir, listen="127.0.0.1:0"), SystemClock())
    gc.collect()
    rss_before = rss_bytes()
    start = time.perf_counter()
    prepare(app)
    seconds = time.perf_counter() - start
    gc.collect()
    rss_after = rss_bytes()
    count = app.faces.size()
    # The gallery is private to FaceMatcher; a benchmark may look inside to report its buffer.
    galleries: dict[str, FaceGallery] = app.faces._galleries
    buffer_bytes = sum(g.capacity * g.dim * 4 for g in galleries.values())
    app.close()
    return {
        "templates": count,
        "prepare_seconds": seconds,
        "rss_delta_bytes": rss_after - rss_before,
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_bytes_per_template": (rss_after - rss_before) / max(1, count),
        "gallery_buffer_bytes_per_template": buffer_bytes / max(1, count),
        "gallery_capacity": sum(g.capacity for g in galleries.values()),
    }


def _child_gallery(n: int) -> dict[str, Any]:
    """Runs in a fresh process: the FaceGallery alone, filled like the service fills it."""
    vectors = gallery_vectors(n, seed=n)
    gc.collect()
    rss_before = rss_bytes()
    gallery = FaceGallery(vectors.shape[1])
    for first in range(0, n, PER_SUBJECT):
        ids = [f"{i:016x}" for i in range(first, min(n, first + PER_SUBJECT))]
        gallery.add("bench", first, ids, vectors[first : first + PER_SUBJECT])
    gc.collect()
    return {
        "templates": len(gallery),
        "rss_bytes_per_template": (rss_bytes() - rss_before) / n,
        "gallery_buffer_bytes_per_template": gallery.capacity * gallery.dim * 4 / n,
    }


def _in_child(*args: str) -> dict[str, Any]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.lifecycle_costs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed: {done.stderr[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def startup(n: int, repeats: int, store_dir: Path | None = None) -> dict[str, Any]:
    """Start-up to SERVING over a store of ``n`` templates (seeded here unless ``store_dir`` is)."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = store_dir if store_dir is not None and (store_dir / "matcher.db").exists() else None
        seeded_here = data_dir is None
        seed_seconds = None
        if data_dir is None:
            data_dir = Path(tmp)
            seed_seconds, _ = seed_service(data_dir, gallery_vectors(n, seed=n))
            gc.collect()
        runs = [_in_child("--child-startup", str(data_dir)) for _ in range(repeats)]
        gallery_only = _in_child("--child-gallery", str(n))
    return {
        "templates": n,
        "repeats": repeats,
        "seeded_here": seeded_here,
        "seed_seconds": seed_seconds,
        "prepare_seconds_median": statistics.median(r["prepare_seconds"] for r in runs),
        "rss_bytes_per_template_median": statistics.median(r["rss_bytes_per_template"] for r in runs),
        "gallery_buffer_bytes_per_template": runs[0]["gallery_buffer_bytes_per_template"],
        "gallery_only": gallery_only,
        "runs": runs,
    }


def startup_ok(result: dict[str, Any]) -> bool:
    return all(r["templates"] == result["templates"] for r in result["runs"])


def markdown(close: dict[str, Any], startups: list[dict[str, Any]]) -> str:
    runs = close["runs"]
    after = sum(r["searches_after_close"] for r in runs)
    violations = sum(r["searches_after_close_with_hits"] for r in runs)
    overlap = sum(r["searches_overlapping_close"] for r in runs)
    lines = [
        f"Closing a case of {close['templates_per_case']:,} templates ({close['repeats']} cases, medians), "
        "in process (`build_app`, SQLite, SystemClock):",
        "",
        "| measure | value |",
        "|---|---:|",
    ]
    rows = [
        (
            "`close_case` latency (commit + drop from the gallery)",
            f"{1000 * close['close_seconds_median']:.1f} ms",
        ),
        (
            "lag from close returning to unmatchable",
            f"0 by design: {violations} of {after} searches begun after close returned "
            "answered with the case's templates",
        ),
        ("searches in flight during the close", f"{overlap} (finished before the revocation, or saw none)"),
        ("next search after close", ", ".join(sorted({r["next_search"] for r in runs}))),
        (
            "case's vectors left in gallery memory after close",
            f"{sum(r['vectors_in_gallery_after_close'] for r in runs)} of {len(runs)} cases",
        ),
        (
            "purge (`worker.run_due()`): key, rows, WAL checkpoint, receipt",
            f"{close['purge_seconds_median']:.2f} s "
            f"({close['purge_microseconds_per_template']:.0f} µs per template)",
        ),
        ("rows left after purge", str(sum(r["rows_left_after_purge"] for r in runs))),
        ("another open case still matches", str(all(r["other_case_still_matches"] for r in runs))),
    ]
    lines += [f"| {name} | {value} |" for name, value in rows]
    lines += [
        "",
        "Start-up to SERVING (`prepare()`: pending purges, decrypt every template, rebuild), cold child "
        "process, and memory per template:",
        "",
        "| stored templates | runs | prepare() s (median) | templates/s decrypted | RSS bytes/template "
        "| gallery buffer bytes/template | FaceGallery alone RSS bytes/template | float32 payload |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in startups:
        lines.append(
            f"| {s['templates']:,} | {s['repeats']} | {s['prepare_seconds_median']:.2f} "
            f"| {s['templates'] / s['prepare_seconds_median']:,.0f} "
            f"| {s['rss_bytes_per_template_median']:,.0f} | {s['gallery_buffer_bytes_per_template']:,.0f} "
            f"| {s['gallery_only']['rss_bytes_per_template']:,.0f} | 2,048 |"
        )
    lines.append(
        "\nThe gallery's buffer grows by doubling, so its bytes per template are 2,048 x capacity / count "
        "(up to 2x the payload just after a growth)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--child-startup", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-gallery", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--case-templates", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--startup-sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lifecycle.json"))
    args = parser.parse_args(argv)
    if args.child_startup is not None:
        print(json.dumps(_child_startup(args.child_startup)))
        return 0
    if args.child_gallery is not None:
        print(json.dumps(_child_gallery(args.child_gallery)))
        return 0
    faiss.omp_set_num_threads(1)
    close = close_and_purge(args.case_templates, args.repeats)
    startups = [startup(n, args.repeats) for n in args.startup_sizes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine.describe(), "close_and_purge": close, "startup": startups}
    args.out.write_text(json.dumps(report, indent=2, default=str))
    print(markdown(close, startups))
    return 0 if close_ok(close) and all(startup_ok(s) for s in startups) else 1


if __name__ == "__main__":
    raise SystemExit(main())
