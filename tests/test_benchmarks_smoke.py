"""The benchmark suite at toy sizes, so that it cannot silently rot.

Each benchmark function runs its smallest configuration and its correctness checks must hold:
answers identical to a brute force, a closed case unmatchable, a purge complete. Timings are
never asserted: they mean nothing at these sizes and on a shared machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import (
    data,
    kek_rotation,
    lifecycle_costs,
    many_scopes,
    peer_milvus,
    report,
    run,
    search_bench,
    threads,
)


def test_exact_topk_is_chunk_independent_and_compare_accepts_only_ties() -> None:
    vectors = data.gallery_vectors(300, seed=1)
    probes = data.probes_near(vectors, 5, seed=2)
    ids, scores = data.exact_topk(vectors, probes, 10)
    chunked_ids, chunked_scores = data.exact_topk(vectors, probes, 10, chunk=64)
    assert np.array_equal(ids, chunked_ids)
    assert np.allclose(scores, chunked_scores)
    assert data.compare(vectors, probes, ids.tolist(), ids, scores).identical == 5
    wrong = [[*row[:-1], int(np.setdiff1d(np.arange(300), row)[0])] for row in ids.tolist()]
    assert data.compare(vectors, probes, wrong, ids, scores).equivalent == 0
    tied = vectors.copy()
    tied[ids[0, 1]] = tied[ids[0, 0]]  # Two identical templates: either order is right.
    tied_ids, tied_scores = data.exact_topk(tied, probes[:1], 10)
    swapped = [[int(tied_ids[0, 1]), int(tied_ids[0, 0]), *tied_ids[0, 2:].tolist()]]
    agreement = data.compare(tied, probes[:1], swapped, tied_ids, tied_scores)
    assert agreement.ok and agreement.identical == 0


@pytest.fixture(scope="module")
def search_result() -> dict[str, Any]:
    return search_bench.run_size(400, 32, calls=3, rounds=2, clients=2, sample=16)


def test_search_bench_answers_match_brute_force_and_raw_faiss(search_result: dict[str, Any]) -> None:
    assert search_result["top_k_mismatches_vs_raw_faiss"] == 0
    assert set(search_result["checks"]) == {
        "raw_faiss",
        "raw_faiss_batch16",
        "gallery",
        "gallery_batch16",
        "service_grpc",
    }
    assert all(check["ok"] for check in search_result["checks"].values()), search_result["checks"]
    assert search_bench.ok(search_result)
    assert "| 400 |" in search_bench.markdown([search_result])


def test_many_scopes_every_path_answers_the_union(tmp_path: Path) -> None:
    result = many_scopes.run(cases=20, per_case=10, scopes=(1, 5, 20), queries=8, calls=2, rounds=2)
    assert many_scopes.ok(result), [scope["checks"] for scope in result["scopes"]]
    assert "flat_all" in result["scopes"][-1]["checks"]
    assert result["scopes"][0]["post_filter"]["probes"] == 8
    assert many_scopes.markdown(result)


def test_lifecycle_close_is_immediate_and_purge_complete() -> None:
    close = lifecycle_costs.close_and_purge(case_templates=600, repeats=1)
    assert lifecycle_costs.close_ok(close), close["runs"]
    (only,) = close["runs"]
    assert only["searches_after_close"] > 0 and only["searches_after_close_with_hits"] == 0
    startup = lifecycle_costs.startup(300, repeats=1)
    assert lifecycle_costs.startup_ok(startup)
    assert startup["gallery_buffer_bytes_per_template"] >= 2048
    assert lifecycle_costs.markdown(close, [startup])


def test_peer_milvus_runs_or_says_why_not() -> None:
    result = peer_milvus.run(500, queries=8, calls=2, rounds=2, deletes=5, scan=5)
    if not result["available"]:
        assert result["error"]
        assert "could not run here" in peer_milvus.markdown([result])
        return
    assert 0.0 <= result["recall_at_10"] <= 1.0
    assert result["check"]["probes"] == 8
    assert result["on_disk_before_delete"] <= 5
    assert "after_delete_flush_answering_searches" in result
    assert peer_milvus.markdown([result])


def _threads_result(new_thread: int, workers: int, pool_ratio: float) -> dict[str, Any]:
    """A small synthetic result of benchmarks.threads, shaped as ``threads.run`` returns it."""
    timing = {
        "omp1": {"p50_ms": 1.0, "qps": 1000.0},
        "omp2": {"p50_ms": 2.0, "qps": 500.0, "ratio_qps_vs_omp1": 0.5},
    }
    single = {**timing, "pool_default": {"ratio_qps_vs_pool_omp1": pool_ratio}}
    return {
        "new_thread_sees_omp_threads": new_thread,
        "service_faiss_threads": 1,
        "service_worker_omp_threads": workers,
        "sizes": [
            {
                "templates": 10_000,
                "batch": 64,
                "single": single,
                "batched": timing,
                "best_single": "1",
                "best_batched": "1",
            }
        ],
    }


def test_openmp_finding_is_computed_from_what_the_service_workers_saw() -> None:
    """Issue 10: the report said the workers searched with every core after the server fixed it."""
    fixed = run.findings({"threads": _threads_result(new_thread=2, workers=1, pool_ratio=0.61)}, {"simd": ""})
    assert not any("does not reach" in f for f in fixed), fixed
    assert any("worker threads search with 1 OpenMP thread," in f and "would get 2" in f for f in fixed)
    broken = run.findings(
        {"threads": _threads_result(new_thread=2, workers=2, pool_ratio=0.61)}, {"simd": ""}
    )
    [warning] = [f for f in broken if "does not reach" in f]
    assert "see 2 OpenMP threads" in warning and "0.61x" in warning


def test_concurrency_finding_names_oversubscription_only_when_measured(search_result: dict[str, Any]) -> None:
    concurrent = {
        **search_result,
        "single": {**search_result["single"], "service_grpc": {"qps": 100.0, "p50_ms": 10.0}},
        "concurrent": {"clients": 4, "service_grpc": {"qps": 90.0}},
    }
    for workers, oversubscribed in ((1, False), (2, True)):
        sections = {"threads": _threads_result(2, workers, 0.6), "search": [concurrent]}
        [finding] = [f for f in run.findings(sections, {"simd": ""}) if "clients in flight" in f]
        assert ("oversubscribing" in finding) is oversubscribed, finding


def test_the_service_worker_pool_is_what_is_measured() -> None:
    faiss_threads = threads.service_worker_threads(1)
    assert faiss_threads == 1


def test_threads_answers_do_not_depend_on_thread_count() -> None:
    result = threads.run((2000,), queries=8, calls=2, rounds=2)
    assert threads.ok(result)
    assert result["new_thread_sees_omp_threads"] >= 1
    assert threads.markdown(result)


def test_report_renders_and_plots(search_result: dict[str, Any], tmp_path: Path) -> None:
    quick = search_bench.run_size(200, 16, calls=2, rounds=2, sample=8, service=False)
    assert search_bench.ok(quick)
    full: dict[str, Any] = {
        "command": "test",
        "quick": True,
        "started": "now",
        "seconds": 0.0,
        "machine": {"cpu": "test", "cores": 2, "packages": {}},
        "status": {"search": {"state": "passed", "passed": True, "seconds": 1.0}},
        "search_notes": ["note"],
        "sections": {"search": [quick, search_result], "plates_bench": {"skipped": "absent"}},
        "findings": run.findings({"search": [search_result]}, {"simd": ""}),
    }
    text = report.render(full)
    assert "## 1. Face search" in text and "Skipped: absent" in text and "service path not run" in text
    why_not = report.plot([quick, search_result], tmp_path / "throughput.png")
    assert why_not is not None or (tmp_path / "throughput.png").stat().st_size > 0


def test_kek_rotation_bench_leaves_one_generation() -> None:
    result = kek_rotation.run(scopes=3, repeats=2)
    # Two rotations on their own and one for the purge, each destroying the one before.
    assert result["generations_left"] == [3]


def test_throughput_bench_at_toy_size_answers_right_and_never_times_out() -> None:
    """Issue 12's figures (benchmarks/throughput_bench.py) at toy size: every search's best hit
    is its template, and searches while 4 clients enrol all answer within their deadline."""
    from benchmarks import throughput_bench

    [result] = throughput_bench.run([300], seconds=0.3, clients=(1, 2), enrol_seconds=0.5)
    assert result["wrong_best_hits"] == 0
    assert set(result["clients"]) == {"1", "2"}
    enrolment = result["enrolment"]
    assert enrolment["timeouts"] == 0
    assert enrolment["searches_while_enrolling"] > 0 and enrolment["enrolments"] > 0
    assert "p99 ratio" in throughput_bench.markdown([result])
