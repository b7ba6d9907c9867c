"""Sightings per second with the city's scale: 400 cameras, 50 zones, 1,000 orders (issue 5).

Each sighting is routed (camera -> zones -> orders whose period covers the capture time), matched
against only those orders' templates, and, on a hit, stored as an alert with its audit record.
The run measures, on the same sightings in the same process: the whole report path, routing
alone, matching alone, and a raw FAISS search of all orders' templates (what matching would cost
without routing), and checks that every planted sighting raised exactly its alerts and no other
sighting raised any. The gRPC figure is the same path over loopback.

The stream scenario (issue 12) is one camera feed (``StreamSightings``) from a camera whose zone
50 orders restrict, so every sighting is matched against 50 orders' templates: sightings/s in one
stream over gRPC, and the cost split of the same sightings in process, in batches as the stream
takes them: routing (a reader), matching (the gallery), storing (one unit of work per batch, a
savepoint per sighting) and audit (the same batches writing only their audit records).

    python -m benchmarks.sightings_bench [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faiss
import grpc
import numpy as np

from benchmarks import machine
from lifecycle.clock import SystemClock
from lifecycle.orders import order_scope
from matcher.app import build_app
from matcher.client import MatcherClient
from matcher.config import Settings
from matcher.server import start

CAMERAS, ZONES, ORDERS, DIM = 400, 50, 1000, 512
STREAM_ORDERS = 50  # orders routed per sighting in the stream scenario
STREAM_BATCH = 64  # what the dispatcher hands a stream session at most (matcher.transport.dispatch)


def _unit(rng: np.random.Generator) -> np.ndarray:
    vector = rng.standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def run(sightings: int, grpc_sightings: int, seed: int = 7, stream_sightings: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Settings(data_dir=Path(tmp), listen="127.0.0.1:0"), SystemClock())
        service = start(app)
        port = service.port
        registry, individuals = app.individuals.registry, app.individuals
        now = datetime.now(UTC)
        started = time.perf_counter()
        cameras = [f"cam-{i:03d}" for i in range(CAMERAS)]
        for camera in cameras:
            registry.create_camera("bench", camera, "", "benchmark")
        zone_cameras: dict[str, list[str]] = {}
        for z in range(ZONES):  # 8 own cameras, plus 2 shared with other zones
            own = cameras[z * 8 : z * 8 + 8]
            zone_cameras[f"z-{z:02d}"] = own + pick.sample(cameras, 2)
            registry.create_zone("bench", f"z-{z:02d}", "", zone_cameras[f"z-{z:02d}"], "benchmark")
        faces: dict[str, np.ndarray] = {}
        order_zones: dict[str, list[str]] = {}
        for i in range(ORDERS):
            order_id = f"o-{i:04d}"
            order_zones[order_id] = pick.sample(sorted(zone_cameras), pick.randint(1, 3))
            registry.create_order(
                "bench",
                order_id,
                order_id,
                "benchmark order",
                order_zones[order_id],
                now - timedelta(days=1),
                now + timedelta(days=30),
                "benchmark",
            )
            faces[order_id] = _unit(rng)
            individuals.enroll("bench", order_id, faces[order_id], app.default_face_model, "benchmark")
        seed_seconds = time.perf_counter() - started
        # Sightings: half are an order's person seen by a camera of one of its zones.
        cases: list[tuple[str, np.ndarray, set[str]]] = []
        for s in range(sightings):
            if s % 2 == 0:
                order_id = pick.choice(sorted(faces))
                camera = pick.choice(zone_cameras[pick.choice(order_zones[order_id])])
                probe = faces[order_id] + 0.3 * rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
                probe /= np.linalg.norm(probe)
                expected = {
                    o
                    for o, zs in order_zones.items()
                    if o == order_id and any(camera in zone_cameras[z] for z in zs)
                }
            else:
                camera, probe, expected = pick.choice(cameras), _unit(rng), set()
            cases.append((camera, probe.astype(np.float32), expected))
        captured = now
        model = app.default_face_model

        def timed(fn: Any) -> tuple[float, list[Any]]:
            out, t0 = [], time.perf_counter()
            for camera, probe, _ in cases:
                out.append(fn(camera, probe))
            return time.perf_counter() - t0, out

        def route(camera: str, probe: Any) -> Any:
            with app.db.reading() as session:
                return registry.route(session, camera, captured)

        route_seconds, routes = timed(route)
        routes_by_camera = {camera: r for (camera, _, _), r in zip(cases, routes, strict=True)}

        def match(camera: str, probe: Any) -> Any:
            scopes = [order_scope(r.order_id) for r in routes_by_camera[camera]]
            return app.faces.search_scopes(scopes, [probe], model, 12, 0.5) if scopes else []

        match_seconds, _ = timed(match)
        everything = faiss.IndexFlatIP(DIM)
        everything.add(np.stack([faces[o] for o in sorted(faces)]))
        raw_seconds, _ = timed(lambda camera, probe: everything.search(probe[np.newaxis, :], 10))
        total_seconds, outcomes = timed(
            lambda camera, probe: individuals.report("bench", camera, captured, [probe], model, "benchmark")
        )
        wrong = sum(
            {a.order_id for a in outcome.alerts} != expected
            for outcome, (_, _, expected) in zip(outcomes, cases, strict=True)
        )
        token = (Path(tmp) / "tokens" / "local-camera.token").read_text().strip()
        client = MatcherClient(grpc.insecure_channel(f"127.0.0.1:{port}"), token, timeout=30)
        latencies = []
        for camera, probe, _ in cases[:grpc_sightings]:
            t0 = time.perf_counter()
            client.report_sighting(camera, captured, [probe], reason="benchmark")
            latencies.append(time.perf_counter() - t0)
        client.close()
        stream = _stream(app, port, Path(tmp), stream_sightings, rng) if stream_sightings else {}
        service.stop(grace=None)
        app.close()
    routed = [len(r) for r in routes]
    return {
        "cameras": CAMERAS,
        "zones": ZONES,
        "orders": ORDERS,
        "sightings": sightings,
        "seed_seconds": seed_seconds,
        "orders_routed_per_sighting_mean": statistics.fmean(routed),
        "sightings_without_route": sum(1 for r in routed if not r),
        "in_process_sightings_per_s": sightings / total_seconds,
        "grpc_sightings_per_s": len(latencies) / sum(latencies) if latencies else 0.0,
        "grpc_p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "routing_fraction": route_seconds / total_seconds,
        "matching_fraction": match_seconds / total_seconds,
        "store_and_audit_fraction": max(0.0, 1 - (route_seconds + match_seconds) / total_seconds),
        "routing_ms": 1000 * route_seconds / sightings,
        "matching_ms": 1000 * match_seconds / sightings,
        "raw_faiss_all_orders_ms": 1000 * raw_seconds / sightings,
        "alerts_raised": sum(len(o.alerts) for o in outcomes),
        "sightings_with_wrong_alerts": wrong,
        "stream": stream,
    }


def _stream(app: Any, port: int, folder: Path, count: int, rng: np.random.Generator) -> dict[str, Any]:
    """One camera feed whose every sighting routes to ``STREAM_ORDERS`` orders."""
    from matcher.client import _timestamp, embedding
    from matcher.v1 import sightings_pb2

    registry, individuals, model = app.individuals.registry, app.individuals, app.default_face_model
    now = datetime.now(UTC)
    registry.create_camera("bench", "cam-stream", "", "benchmark")
    registry.create_zone("bench", "z-stream", "", ["cam-stream"], "benchmark")
    faces = []
    for i in range(STREAM_ORDERS):
        order_id = f"s-{i:02d}"
        registry.create_order(
            "bench", order_id, order_id, "benchmark order", ["z-stream"],
            now - timedelta(days=1), now + timedelta(days=30), "benchmark",
        )  # fmt: skip
        faces.append(_unit(rng))
        individuals.enroll("bench", order_id, faces[-1], model, "benchmark")
    probes = []
    for s in range(count):  # one in ten is an order's person
        probe = faces[s % STREAM_ORDERS] + 0.3 * rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
        probes.append((probe / np.linalg.norm(probe)) if s % 10 == 0 else _unit(rng))
    captured = now
    # In process, batch by batch as the stream session takes them: the cost split.
    route_s = match_s = prepare_s = store_s = audit_s = 0.0
    scopes = [order_scope(f"s-{i:02d}") for i in range(STREAM_ORDERS)]
    for first in range(0, count, STREAM_BATCH):
        batch = probes[first : first + STREAM_BATCH]
        t0 = time.perf_counter()
        for _ in batch:
            with app.db.reading() as session:
                registry.route(session, "cam-stream", captured)
        t1 = time.perf_counter()
        for probe in batch:
            app.faces.search_scopes(scopes, [probe], model, 4 * STREAM_ORDERS, 0.5)
        t2 = time.perf_counter()
        prepared = [
            individuals.prepare("bench", "cam-stream", captured, [probe], model, "benchmark")
            for probe in batch
        ]
        t3 = time.perf_counter()
        individuals.store_many(prepared)
        t4 = time.perf_counter()
        with app.db.transaction() as session:
            for _ in batch:
                with session.begin_nested():
                    app.audit.append(session, actor="bench", action="sightings.report", resource="sightings")
        t5 = time.perf_counter()
        route_s, match_s, prepare_s = route_s + t1 - t0, match_s + t2 - t1, prepare_s + t3 - t2
        store_s, audit_s = store_s + t4 - t3, audit_s + t5 - t4
    in_process = prepare_s + store_s
    token = (folder / "tokens" / "local-camera.token").read_text().strip()
    client = MatcherClient(grpc.insecure_channel(f"127.0.0.1:{port}"), token, timeout=120)
    messages = [
        sightings_pb2.Sighting(
            camera="cameras/cam-stream",
            capture_time=_timestamp(captured),
            faces=[embedding(probe)],
            reason="benchmark",
            sighting_id=f"bench.{i}",
        )
        for i, probe in enumerate(probes)
    ]
    commits = app.db.commits
    t0 = time.perf_counter()
    summary = client.stream_sightings(iter(messages))
    grpc_s = time.perf_counter() - t0
    commits = app.db.commits - commits
    client.close()
    return {
        "sightings": count,
        "orders_routed_per_sighting": STREAM_ORDERS,
        "grpc_one_stream_sightings_per_s": count / grpc_s,
        "grpc_accepted": summary.accepted,
        "grpc_commits": commits,
        "in_process_sightings_per_s": count / in_process,
        "routing_fraction": route_s / in_process,
        "matching_fraction": match_s / in_process,
        "other_prepare_fraction": max(0.0, prepare_s - route_s - match_s) / in_process,
        "storing_fraction": max(0.0, store_s - audit_s) / in_process,
        "audit_fraction": min(audit_s, store_s) / in_process,
        "per_sighting_ms": {
            "routing": 1000 * route_s / count,
            "matching": 1000 * match_s / count,
            "prepare": 1000 * prepare_s / count,
            "store_batch": 1000 * store_s / count,
            "audit_only_batch": 1000 * audit_s / count,
        },
    }


def markdown(result: dict[str, Any]) -> str:
    r = result
    return "\n".join(
        [
            "| cameras | zones | orders | sightings/s (in process) | sightings/s (gRPC) | routing | matching "
            "| store + audit | routing ms | matching ms | raw FAISS, all orders, ms | wrong alerts |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {r['cameras']} | {r['zones']} | {r['orders']:,} | {r['in_process_sightings_per_s']:.0f} "
            f"| {r['grpc_sightings_per_s']:.0f} | {r['routing_fraction']:.0%} | {r['matching_fraction']:.0%} "
            f"| {r['store_and_audit_fraction']:.0%} | {r['routing_ms']:.2f} | {r['matching_ms']:.3f} "
            f"| {r['raw_faiss_all_orders_ms']:.3f} "
            f"| {r['sightings_with_wrong_alerts']} of {r['sightings']} |",
            *_stream_markdown(r.get("stream") or {}),
        ]
    )


def _stream_markdown(s: dict[str, Any]) -> list[str]:
    if not s:
        return []
    return [
        "",
        "| one stream: sightings | orders routed each | sightings/s (gRPC, one stream) | commits "
        "| sightings/s (in process) | routing | matching | other checks | storing | audit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['sightings']:,} | {s['orders_routed_per_sighting']} "
        f"| {s['grpc_one_stream_sightings_per_s']:.0f} "
        f"| {s['grpc_commits']} | {s['in_process_sightings_per_s']:.0f} | {s['routing_fraction']:.0%} "
        f"| {s['matching_fraction']:.0%} | {s['other_prepare_fraction']:.0%} | {s['storing_fraction']:.0%} "
        f"| {s['audit_fraction']:.0%} |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sightings.json"))
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    result = run(
        sightings=300 if args.quick else 2000,
        grpc_sightings=100 if args.quick else 500,
        stream_sightings=1000 if args.quick else 5000,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine.describe(), "result": result}, indent=2))
    print(markdown(result))
    stream = result["stream"]
    ok = result["sightings_with_wrong_alerts"] == 0 and stream["grpc_accepted"] == stream["sightings"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
