"""The gRPC contract: generated code in step with the protos, health and reflection served."""

from __future__ import annotations

import filecmp
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from matcher.server import FACES, PLATES, PRESENCE, SERVICE_NAMES
from tests.conftest import Harness
from tests.serverproc import REPO


def test_generated_code_matches_the_protos(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", REPO / "protos" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.generate(tmp_path)
    assert written
    for path in written:
        checked_in = REPO / "matcher" / "v1" / path.name
        assert filecmp.cmp(path, checked_in, shallow=False), f"{path.name} differs: run protos/generate.py"


def test_health_reports_serving_and_reflection_lists_services(harness: Harness) -> None:
    with grpc.insecure_channel(harness.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        # Every service but the ones whose models are not installed here (tests/test_operations.py).
        for name in (
            "",
            *(n for n in SERVICE_NAMES if n not in (FACES, PLATES, PRESENCE)),
            f"{PRESENCE}/emergencies",
        ):
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        listed = {s.name for r in responses for s in r.list_services_response.service}
    assert set(SERVICE_NAMES) <= listed
    assert "grpc.health.v1.Health" in listed


def test_a_second_process_on_the_same_sqlite_database_refuses_to_start(harness: Harness) -> None:
    """SQLite has one writer on one host: a second process must say so and stop. (Over
    PostgreSQL replicas are welcome: tests/test_replicas.py.)"""
    if harness.backend != "sqlite":
        pytest.skip("over PostgreSQL several replicas may serve one database (tests/test_replicas.py)")
    import subprocess
    import sys

    from matcher.app import build_app
    from matcher.config import Settings
    from matcher.single_instance import AlreadyServing

    with pytest.raises(AlreadyServing):
        build_app(Settings(data_dir=harness.data_dir, database_url=harness.app.settings.database_url))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "matcher.cli",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(harness.data_dir),
            "--database-url",
            harness.app.settings.database_url,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2  # a start that cannot happen: one line, exit 2
    assert "another matcher process serves" in result.stderr
