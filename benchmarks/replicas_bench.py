"""Replicas over one PostgreSQL (issue 13): the fan-out bound and throughput with 1, 2, 3 replicas.

- **Fan-out**: from the moment an enrolment through replica 1 has returned (it is durable) until
  a search through replica 2 finds it (new data fans out); from the moment a release through
  replica 1 has returned until replica 2's gallery no longer holds the template (revocation fans
  out; replica 2 never answers with it meanwhile: every hit is confirmed in the database). The
  figure includes one search call (or one metrics scrape) of polling. p50/p99 over many rounds.
- **Throughput**: 8 client threads over the balanced client, searching a 1,000-template case,
  with 1, 2 and 3 replicas; the health-check echo over the same replicas in the same run as the
  floor. On a 2-core machine 2 replicas already use both cores (and PostgreSQL shares them), so
  more replicas cannot add throughput here: the figure shows what the mechanism costs.

    python -m benchmarks.replicas_bench --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text

from benchmarks import machine
from matcher.client import MatcherClient

ROOT = Path(__file__).resolve().parents[1]
REASON = "replica benchmark"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Replica:
    def __init__(self, data: Path, url: str) -> None:
        self.port, self.metrics = _free_port(), _free_port()
        env = dict(os.environ, MATCHER_DATABASE_URL=url, ORT_DISABLE_TELEMETRY="1", PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "matcher.cli", "serve", "--listen", f"127.0.0.1:{self.port}"),
                *("--data-dir", str(data), "--metrics-listen", f"127.0.0.1:{self.metrics}"),
                *("--log-level", "WARNING"),
            ],
            env=env,
            cwd=ROOT,
        )
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                        return
                except grpc.RpcError:
                    time.sleep(0.05)
        raise RuntimeError("replica did not start")

    def templates(self) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=5) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith("matcher_gallery_templates"):
                    return float(line.rpartition(" ")[2])
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def _unit(rng: np.random.Generator) -> np.ndarray:
    vector = rng.standard_normal(512).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "max_ms": round(1000 * ordered[-1], 2),
        "rounds": len(ordered),
    }


def fan_out(one: MatcherClient, two: MatcherClient, second: _Replica, rounds: int) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    one.create_case("fan-out", "Fan-out", reason=REASON)
    added, revoked = [], []
    for i in range(rounds):
        face = _unit(rng)
        one.create_subject("fan-out", f"s-{i}", "suspect", label=f"S{i}", reason=REASON)
        before = second.templates()
        one.enroll_face("fan-out", f"s-{i}", face, reason=REASON)
        started = time.perf_counter()  # the enrolment is durable: from here, replica 2 must learn it
        while not two.search_faces(["fan-out"], face, reason=REASON).results[0].matches:
            pass
        added.append(time.perf_counter() - started)
        one.release_subject("fan-out", f"s-{i}", reason=REASON)
        started = time.perf_counter()
        while second.templates() > before:
            time.sleep(0.001)
        revoked.append(time.perf_counter() - started)
    return {"enrolment": _percentiles(added), "revocation": _percentiles(revoked)}


def _rate(call: Any, threads: int, seconds: float) -> float:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def worker(slot: int) -> None:
        while time.monotonic() < stop:
            call()
            done[slot] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def throughput(replicas: list[_Replica], tokens: Path, seconds: float) -> dict[str, Any]:
    """Searches (8 investigator threads), sightings (4 camera threads, 1 order routed, no match)
    and the health-check echo, each over the balanced client across ``replicas``."""
    targets = ",".join(f"127.0.0.1:{r.port}" for r in replicas)
    rng = np.random.default_rng(9)
    probe, passer_by = _unit(rng), _unit(rng)
    investigator = MatcherClient.connect(targets, token_file=tokens / "local-investigator.token", timeout=30)
    camera = MatcherClient.connect(targets, token_file=tokens / "local-camera.token", timeout=30)
    with investigator, camera:
        health = health_pb2.HealthCheckRequest()
        searches = _rate(lambda: investigator.search_faces(["gallery"], probe, reason=REASON), 8, seconds)
        sightings = _rate(
            lambda: camera.report_sighting("cam-1", datetime.now(UTC), [passer_by], reason=REASON), 4, seconds
        )
        echo = _rate(lambda: investigator.health.Check(health, timeout=30), 8, seconds)
    return {
        "replicas": len(replicas),
        "searches_per_s": round(searches, 1),
        "sightings_per_s": round(sightings, 1),
        "health_per_s": round(echo, 1),
    }


def _registry(first: _Replica, tokens: Path) -> None:
    """A camera in a zone with one order in force, so each sighting is routed and matched."""
    target = f"127.0.0.1:{first.port}"
    with MatcherClient.connect(target, token_file=tokens / "local-admin.token") as admin:
        admin.create_camera("cam-1", description="gate", reason=REASON)
        admin.create_zone("park", ["cam-1"], description="park", reason=REASON)
    with MatcherClient.connect(target, token_file=tokens / "local-registry.token") as registry:
        now = datetime.now(UTC)
        registry.create_order(
            "o-1",
            label="RI-1",
            legal_reference="bench",
            zones=["park"],
            start=now - timedelta(hours=1),
            end=now + timedelta(days=1),
            reason=REASON,
        )
        registry.enroll_order_face("o-1", _unit(np.random.default_rng(1)), reason=REASON)


def run(url: str, rounds: int, seconds: float) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        replicas = [_Replica(data, url)]
        token = data / "tokens" / "local-investigator.token"
        try:
            replicas.append(_Replica(data, url))
            with MatcherClient.connect(f"127.0.0.1:{replicas[0].port}", token_file=token) as one:
                one.create_case("gallery", "Throughput", reason=REASON)
                one.create_subject("gallery", "s", "suspect", label="S", reason=REASON)
                rng = np.random.default_rng(3)
                for _ in range(1000):
                    one.enroll_face("gallery", "s", _unit(rng), reason=REASON)
                deadline = time.monotonic() + 120
                while replicas[1].templates() < 1000:  # replica 2 has caught up with the gallery
                    if time.monotonic() > deadline:
                        raise RuntimeError("replica 2 did not catch up with the 1,000 enrolments")
                    time.sleep(0.05)
                with MatcherClient.connect(f"127.0.0.1:{replicas[1].port}", token_file=token) as two:
                    bound = fan_out(one, two, replicas[1], rounds)
            tokens = data / "tokens"
            _registry(replicas[0], tokens)
            results = [throughput(replicas[:1], tokens, seconds), throughput(replicas, tokens, seconds)]
            replicas.append(_Replica(data, url))
            results.append(throughput(replicas, tokens, seconds))
        finally:
            for replica in replicas:
                replica.stop()
    return {"machine": machine.describe(), "fan_out": bound, "throughput": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database the benchmark may empty")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(args.database_url, args.rounds, args.seconds)
    text_ = json.dumps(result, indent=2)
    print(text_)
    if args.out:
        args.out.write_text(text_)
    return 0


if __name__ == "__main__":
    sys.exit(main())
