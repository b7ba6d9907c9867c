"""Fixtures: a real gRPC server on loopback over a real database, driven by a manual clock.

Every server test runs against a SQLite file, and also against PostgreSQL when
MATCHER_TEST_DATABASE_URL is set (CI sets it to the PostgreSQL on 127.0.0.1:5432).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import grpc
import numpy as np
import pytest
from sqlalchemy import create_engine, text

from lifecycle.clock import ManualClock
from matcher.app import App, build_app
from matcher.client import MatcherClient
from matcher.config import Settings
from matcher.server import Service, start

POSTGRES_URL = os.environ.get("MATCHER_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DIM = 512

faiss.omp_set_num_threads(1)


def reset_postgres(url: str) -> None:
    """Drops every table so that each test starts from an empty system of record."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@dataclass
class Harness:
    app: App
    client: MatcherClient
    clock: ManualClock
    port: int
    data_dir: Path
    backend: str
    service: Service
    _extra: list[MatcherClient] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def token(self, principal: str = "local-investigator") -> str:
        return (self.data_dir / "tokens" / f"{principal}.token").read_text().strip()

    def as_(self, principal: str) -> MatcherClient:
        """A client acting as one of the local principals (see matcher.local_principals)."""
        client = MatcherClient(grpc.insecure_channel(self.target), self.token(principal), timeout=10)
        self._extra.append(client)
        return client

    def audit(self, action: str = "") -> list:  # type: ignore[type-arg]
        """The audit log, read as the auditor (nobody else may, P10)."""
        return list(self.as_("local-auditor").audit_records(action=action))


def database_url(backend: str, data_dir: Path) -> str:
    if backend == "postgresql":
        reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{data_dir / 'matcher.db'}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def running_server(data_dir: Path, backend: str, **overrides: Any) -> Iterator[Harness]:
    """A real server on a loopback port over a fresh database, with a manual clock."""
    overrides.setdefault("listen", "127.0.0.1:0")
    settings = Settings(data_dir=data_dir, database_url=database_url(backend, data_dir), **overrides)
    clock = ManualClock(START)
    app = build_app(settings, clock)
    service = start(app)
    port = service.port
    token_file = data_dir / "client.token"
    token = token_file.read_text().strip() if token_file.exists() else ""  # none under mutual TLS
    client = MatcherClient(grpc.insecure_channel(f"127.0.0.1:{port}"), token, timeout=10)
    harness = Harness(app, client, clock, port, data_dir, backend, service)
    try:
        yield harness
    finally:
        client.close()
        for extra in harness._extra:
            extra.close()
        service.stop(grace=None)
        app.close()


@pytest.fixture
def harness(tmp_path: Path, backend: str) -> Iterator[Harness]:
    with running_server(tmp_path / "data", backend) as h:
        yield h


@pytest.fixture(scope="session")
def synthetic_face_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Small generated ONNX models with SCRFD's and ArcFace's real signatures."""
    from matcher.faces import synthetic

    folder = tmp_path_factory.mktemp("face_models")
    return synthetic.write_detector(folder / "det.onnx"), synthetic.write_recognizer(folder / "rec.onnx")


@pytest.fixture
def face_harness(tmp_path: Path, backend: str, synthetic_face_models: tuple[Path, Path]) -> Iterator[Harness]:
    """A server whose face pipeline runs the generated models through insightface for real."""
    detector, recognizer = synthetic_face_models
    with running_server(tmp_path / "data", backend, face_detector=detector, face_recognizer=recognizer) as h:
        yield h


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    """A random unit vector: distinct seeds give near-orthogonal faces."""
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    unit_vector: np.ndarray = vector / np.linalg.norm(vector)
    return unit_vector


def near(vector: np.ndarray, seed: int, noise: float = 0.3) -> np.ndarray:
    """Another capture of the same face: the vector plus noise (cosine about 0.96 at 0.3)."""
    jitter = np.random.default_rng(seed).standard_normal(vector.shape).astype(np.float32)
    out = vector + noise * jitter / np.sqrt(vector.size)
    captured: np.ndarray = (out / np.linalg.norm(out)).astype(np.float32)
    return captured


def open_case_with_subject(
    h: Harness, case_id: str = "c-1", subject_id: str = "poi-1", role: str = "poi"
) -> None:
    h.client.create_case(case_id, "Burglary series", reason="opened by the duty sergeant")
    h.client.create_subject(case_id, subject_id, role, label="POI-1", reason="seen at two scenes")


def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Polls a condition that another thread makes true (the purge worker), without fixed sleeps."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
