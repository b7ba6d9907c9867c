"""Schema migrations (issue 14): the migrations give exactly the models' schema, a database made
by the first release upgrades without losing a row or breaking its audit chain, and the service
refuses a database at another revision, naming the command that upgrades it.

``tests/data/first_release`` is a data folder written by the first release itself (commit
e0c9aa5, through its own CLI walk-through: two cases, one closed and purged, a subject with a face
template, a plate entry, a camera, a zone, an order with a template and one alert), with its
key-encryption key and tokens. Its data is synthetic (random vectors, a made-up plate).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, func, insert, select, text

from lifecycle import schema
from lifecycle.db import make_engine
from matcher.v1 import cases_pb2
from tests.conftest import BACKENDS, POSTGRES_URL, reset_postgres
from tests.serverproc import REPO, ServerProcess, free_port

FIRST_RELEASE = Path(__file__).resolve().parent / "data" / "first_release"
# The first release's walk-through made its probes with this generator (see the module docstring).
_rng = np.random.default_rng(7)
_ENROLLED = _rng.standard_normal(512)
STILL = _ENROLLED + 0.3 * _rng.standard_normal(512)


def _url(backend: str, folder: Path) -> str:
    if backend == "postgresql":
        reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{folder / 'matcher.db'}"


def _differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, schema.tables()))
    finally:
        engine.dispose()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matcher.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "ORT_DISABLE_TELEMETRY": "1"},
        timeout=120,
    )


def _first_release_copy(tmp_path: Path, backend: str) -> tuple[Path, str]:
    """The first release's data folder, copied; on PostgreSQL its rows are loaded into a database
    at revision 0001 (the first release's schema, which is what that release created there)."""
    data = tmp_path / "data"
    shutil.copytree(FIRST_RELEASE, data)
    for secret in [data / "keys" / "kek", *(data / "tokens").iterdir()]:
        secret.chmod(0o600)
    if backend == "sqlite":
        return data, f"sqlite:///{data / 'matcher.db'}"
    url = _url("postgresql", tmp_path)
    engine = make_engine(url)
    with engine.begin() as connection:
        config = schema._config(connection)
        command.upgrade(config, schema.FIRST_RELEASE)
    source = create_engine(f"sqlite:///{data / 'matcher.db'}")
    rows = MetaData()
    rows.reflect(source)
    target = MetaData()
    target.reflect(engine)
    with source.connect() as reading, engine.begin() as writing:
        for table in rows.sorted_tables:
            found = [dict(row._mapping) for row in reading.execute(select(table))]
            if found:
                writing.execute(insert(target.tables[table.name]), found)
        writing.execute(text("DELETE FROM alembic_version"))  # as the first release left it
        writing.execute(text("DROP TABLE alembic_version"))
    source.dispose()
    engine.dispose()
    (data / "matcher.db").unlink()
    return data, url


def _row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    found = MetaData()
    found.reflect(engine)
    with engine.connect() as connection:
        counts = {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in found.tables.items()
            if name != schema.VERSION_TABLE
        }
    engine.dispose()
    return counts


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrading_an_empty_database_gives_exactly_the_models_schema(tmp_path: Path, backend: str) -> None:
    url = _url(backend, tmp_path)
    engine = make_engine(url)
    assert schema.status(engine).state is schema.SchemaState.EMPTY
    assert schema.upgrade(engine) == (None, schema.head())
    assert schema.status(engine).state is schema.SchemaState.CURRENT
    engine.dispose()
    assert _differences(url) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_service_creates_an_empty_database_at_the_latest_revision(tmp_path: Path, backend: str) -> None:
    url = _url(backend, tmp_path)
    engine = make_engine(url)
    schema.prepare(engine, "db")
    found = schema.status(engine)
    engine.dispose()
    assert (found.state, found.revision) == (schema.SchemaState.CURRENT, schema.head())
    assert _differences(url) == []


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_first_release_database_upgrades_keeping_every_row_and_the_audit_chain(
    tmp_path: Path, backend: str
) -> None:
    data, url = _first_release_copy(tmp_path, backend)
    before = _row_counts(url)
    assert before["face_templates"] == 1 and before["plate_entries"] == 1 and before["audit_records"] > 40

    current = _cli("db", "current", "--data-dir", str(data), "--database-url", url)
    assert current.returncode == 1 and "behind" in current.stdout, current.stdout + current.stderr
    refused = _cli(
        "serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data), "--database-url", url
    )
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert refused.returncode == 2 and len(errors) == 1, refused.stderr
    assert "matcher db upgrade" in errors[0] and "Traceback" not in refused.stderr
    doctor = _cli("doctor", "--data-dir", str(data), "--database-url", url)
    assert doctor.returncode == 1 and "matcher db upgrade" in doctor.stdout, doctor.stdout

    upgraded = _cli("db", "upgrade", "--data-dir", str(data), "--database-url", url)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert f"to schema revision {schema.head()}" in upgraded.stdout
    after = _row_counts(url)
    assert {name: after[name] for name in before} == before
    assert _differences(url) == []
    assert _cli("db", "current", "--data-dir", str(data), "--database-url", url).returncode == 0
    again = _cli("db", "upgrade", "--data-dir", str(data), "--database-url", url)
    assert again.returncode == 0 and "already at" in again.stdout

    server = ServerProcess(data, url, tmp_path / "clock", tmp_path / "server.log")
    server.set_clock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    server.start()
    try:
        server.wait_serving()
        with server.client("local-auditor") as auditor:
            verified = auditor.verify_audit()
            assert verified.ok, verified.problem
            assert verified.records_checked >= before["audit_records"]
        with server.client("local-investigator") as investigator:
            answer = investigator.search_faces(["2026-0042"], STILL, reason="after the upgrade")
            assert [m.subject for m in answer.results[0].matches] == ["cases/2026-0042/subjects/poi-1"]
            assert [p.state for p in investigator.list_purges("2026-0043")] == [cases_pb2.Purge.DONE]
        with server.client("local-auditor") as auditor:
            verified = auditor.verify_audit()  # the records the new release appended chain on
            assert verified.ok and verified.records_checked > before["audit_records"], verified.problem
    finally:
        server.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_service_refuses_a_revision_it_does_not_know(tmp_path: Path, backend: str) -> None:
    data = tmp_path / "data"
    url = _url(backend, data) if backend == "postgresql" else f"sqlite:///{data / 'matcher.db'}"
    data.mkdir()
    engine = make_engine(url)
    schema.create(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    refused = _cli(
        "serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data), "--database-url", url
    )
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert refused.returncode == 2 and len(errors) == 1, refused.stderr
    assert "9999" in errors[0] and "does not know" in errors[0] and "Traceback" not in refused.stderr
    assert _cli("db", "upgrade", "--data-dir", str(data), "--database-url", url).returncode == 2
