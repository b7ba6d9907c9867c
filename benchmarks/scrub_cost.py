"""What scrubbing freed memory costs (issue 18): enrol and search calls/s with it and without.

``matcher serve`` re-executes itself with ``PYTHONMALLOC=malloc`` and glibc's perturb tunables
(no thread cache) so that purged templates and plate texts do not survive in freed memory
(:mod:`matcher.process_memory`). Both servers here are real ``matcher serve`` processes on
loopback over SQLite, started the same way; the unscrubbed one with
``MATCHER_SCRUB_FREED_MEMORY=off``. The modes alternate round by round in the same run, so that
the machine's other load falls on both.

    python -m benchmarks.scrub_cost [--rounds 2] [--enrols 300] [--searches 600] [--clients 4]
                                    [--breakdown]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matcher.client import MatcherClient
from matcher.process_memory import OPT_OUT

ROOT = Path(__file__).resolve().parent.parent
MODES = {"scrubbed": {}, "plain": {OPT_OUT: "off"}}
# --breakdown: which setting costs what (each on its own, without the re-execution).
PARTS = {
    "malloc_only": {OPT_OUT: "off", "PYTHONMALLOC": "malloc"},
    "malloc_perturb": {
        OPT_OUT: "off",
        "PYTHONMALLOC": "malloc",
        "GLIBC_TUNABLES": "glibc.malloc.perturb=255",
    },
}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(data_dir: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in (OPT_OUT, "MATCHER_SCRUB_REEXEC")}
    env.update(extra_env, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "matcher.cli",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return process, port
            except grpc.RpcError:
                pass
            time.sleep(0.05)
    process.kill()
    raise TimeoutError("the server did not report SERVING")


def _rate(calls: int, clients: int, call: Callable[[int], Any]) -> float:
    """Calls per second of ``calls`` calls spread over ``clients`` threads."""
    with ThreadPoolExecutor(clients) as pool:
        start = time.perf_counter()
        list(pool.map(call, range(calls)))
        return calls / (time.perf_counter() - start)


def _round(env: dict[str, str], enrols: int, searches: int, clients: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        process, port = _serve(data_dir, env)
        try:
            token = (data_dir / "tokens" / "local-investigator.token").read_text().strip()
            client = MatcherClient(grpc.insecure_channel(f"127.0.0.1:{port}"), token, timeout=60)
            client.create_case("bench", "Scrub cost", reason="benchmark")
            for n in range(clients):
                client.create_subject("bench", f"s-{n}", "suspect", reason="benchmark")
            vectors = np.random.default_rng(1).standard_normal((max(enrols, searches), 512)).astype("<f4")

            def enrol(n: int) -> None:
                client.enroll_face("bench", f"s-{n % clients}", vectors[n], reason="benchmark")

            def search(n: int) -> None:
                client.search_faces(["bench"], vectors[n % enrols], reason="benchmark", top_k=10)

            rates = {
                "enrol_per_s": _rate(enrols, clients, enrol),
                "search_per_s": _rate(searches, clients, search),
            }
            rss = Path(f"/proc/{process.pid}/status").read_text() if sys.platform.startswith("linux") else ""
            for line in rss.splitlines():
                if line.startswith("VmRSS:"):
                    rates["rss_mib"] = int(line.split()[1]) / 1024
            client.close()
            return rates
        finally:
            process.terminate()
            process.wait(timeout=30)


def run(
    rounds: int = 2, enrols: int = 300, searches: int = 600, clients: int = 4, breakdown: bool = False
) -> dict[str, Any]:
    """Alternates the modes ``rounds`` times; the median of each figure per mode, and the cost."""
    modes = {**MODES, **PARTS} if breakdown else MODES
    seen: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode, env in modes.items():
            seen[mode].append(_round(env, enrols, searches, clients))
    result: dict[str, Any] = {"rounds": rounds, "enrols": enrols, "searches": searches, "clients": clients}
    for mode, figures in seen.items():
        result[mode] = {key: round(statistics.median(f[key] for f in figures), 1) for key in figures[0]}
    for mode in modes:
        if mode != "plain":
            for key in ("enrol_per_s", "search_per_s"):
                plain = result["plain"][key]
                result[mode][f"{key}_cost_percent"] = round(100 * (plain - result[mode][key]) / plain, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--enrols", type=int, default=300)
    parser.add_argument("--searches", type=int, default=600)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--breakdown", action="store_true", help="also each setting on its own")
    args = parser.parse_args()
    print(json.dumps(run(args.rounds, args.enrols, args.searches, args.clients, args.breakdown), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
