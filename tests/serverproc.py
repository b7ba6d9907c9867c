"""Runs the real service as a subprocess for crash tests (``python -m tests.serve_for_tests``).

The clock is a file the test writes, so time still moves without sleeping; a fault point makes
the server SIGKILL itself at a chosen step. Both hooks exist only in that test entry point.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matcher.client import MatcherClient

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(self, data_dir: Path, database_url: str, clock_file: Path, log_file: Path) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.clock_file = clock_file
        self.log_file = log_file
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def set_clock(self, instant: datetime) -> None:
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(instant.isoformat())
        os.replace(tmp, self.clock_file)

    def start(self, fault_point: str = "", extra: tuple[str, ...] = ()) -> None:
        env = dict(os.environ)
        env.update(MATCHER_DATABASE_URL=self.database_url, PYTHONPATH=str(REPO))
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.serve_for_tests",
                "--clock-file",
                str(self.clock_file),
                "--fault-point",
                fault_point,
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "DEBUG",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
        log.close()

    def wait_serving(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {self.process.returncode}:\n{self.log_file.read_text()}"
                    )
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.05)
        raise TimeoutError("server did not report SERVING in time")

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def client(self, principal: str = "local-investigator") -> MatcherClient:
        return MatcherClient.connect(
            f"127.0.0.1:{self.port}", token_file=self.data_dir / "tokens" / f"{principal}.token", timeout=10
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
