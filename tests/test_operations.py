"""Issue 14: what an operator runs on day two: metrics, structured logs, health, start-up errors.

Real server subprocesses (the production start, through tests/serve_for_tests.py for its clock),
real scrapes of /metrics over HTTP, the real log file. The walk-through uses distinctive values
(a label, a plate, reasons, an embedding) and then looks for every one of them in the metrics and
in the log: none may be there (P7, P8).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matcher.client import MatcherError
from tests.conftest import START, Harness, unit, wait_until
from tests.serverproc import REPO, ServerProcess, free_port

LABEL = "Quentin Zebulon Marsh"
PLATE = "QZM4417"
REASON = "canary reason: tip from the night shift"


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def _value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, _, number = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(number)
    return total


def _walk_through(server: ServerProcess) -> None:
    investigator = server.client()
    investigator.create_case("q-1", "Operations walk-through", reason=REASON)
    investigator.create_subject("q-1", "s-1", "suspect", label=LABEL, reason=REASON)
    investigator.enroll_face("q-1", "s-1", unit(77), reason=REASON)
    investigator.search_faces(["q-1"], unit(77), reason=REASON)
    investigator.add_plate("q-1", PLATE, subject_id="s-1", reason=REASON)
    investigator.check_plate(PLATE, case_ids=["q-1"], reason=REASON)
    with pytest.raises(MatcherError):  # ALREADY_EXISTS: a refusal, for the metrics by reason
        investigator.create_case("q-1", "again", reason=REASON)
    investigator.close_case("q-1", reason=REASON)
    investigator.close()


@pytest.mark.slow
def test_metrics_move_with_the_calls_and_name_no_person(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = ServerProcess(
        tmp_path / "data", f"sqlite:///{tmp_path / 'm.db'}", tmp_path / "clock", tmp_path / "log"
    )
    server.set_clock(START)
    server.start(extra=("--metrics-listen", f"127.0.0.1:{metrics_port}"))
    try:
        server.wait_serving()
        before = _scrape(metrics_port)
        _walk_through(server)
        auditor = server.client("local-auditor")
        assert wait_until(
            lambda: any(r.action == "purge.receipt" for r in auditor.audit_records()), timeout=30
        )
        # Another process (the host operator's break-glass) writes an access table: this
        # server learns of it through the change feed, and times how long that took.
        unlocked = subprocess.run(
            [
                sys.executable,
                "-m",
                "matcher.cli",
                "break-glass",
                "unlock",
                "local-investigator",
                "--reason",
                "drill",
                "--data-dir",
                str(server.data_dir),
                "--database-url",
                server.database_url,
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
        assert unlocked.returncode == 0, unlocked.stderr
        assert wait_until(
            lambda: _value(_scrape(metrics_port), "matcher_change_fanout_lag_seconds_count") >= 1, timeout=30
        )
        after = _scrape(metrics_port)
    finally:
        server.stop()
    assert _value(after, "matcher_purge_duration_seconds_count") == 1
    calls = _value(after, "matcher_rpc_calls_total") - _value(before, "matcher_rpc_calls_total")
    assert calls >= 8
    assert _value(after, "matcher_rpc_calls_total", method="SearchFaces", code="OK") == 1
    assert (
        _value(
            after,
            "matcher_rpc_calls_total",
            method="CreateCase",
            code="ALREADY_EXISTS",
            reason="CASE_ALREADY_EXISTS",
        )
        == 1
    )
    assert _value(after, "matcher_rpc_duration_seconds_count", method="EnrollFace") == 1
    assert _value(after, "matcher_db_commit_units_count") > _value(before, "matcher_db_commit_units_count")
    assert _value(after, "matcher_purges_pending") == 0
    assert _value(after, "matcher_gallery_templates") == 0  # the case was closed and purged
    assert _value(after, "matcher_ready") == 1
    for value in ("q-1", "s-1", LABEL, PLATE, REASON, "cases/", "subjects/"):
        assert value not in after, f"{value!r} appears in /metrics"


@pytest.mark.slow
def test_json_log_has_the_calls_and_none_of_their_content(tmp_path: Path) -> None:
    log_file = tmp_path / "matcher.log"
    server = ServerProcess(
        tmp_path / "data", f"sqlite:///{tmp_path / 'm.db'}", tmp_path / "clock", tmp_path / "out"
    )
    server.set_clock(START)
    server.start(extra=("--log-format", "json", "--log-file", str(log_file)))
    try:
        server.wait_serving()
        _walk_through(server)
    finally:
        server.stop()
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    calls = [line for line in lines if line["logger"] == "matcher.calls"]
    methods = {call["method"] for call in calls}
    assert {"CreateCase", "CreateSubject", "EnrollFace", "SearchFaces", "CloseCase"} <= methods
    for call in calls:
        assert set(call) >= {"call_id", "method", "principal", "status", "duration_ms"}
    assert any(c["status"] == "ALREADY_EXISTS" and c["reason"] == "CASE_ALREADY_EXISTS" for c in calls)
    text = log_file.read_text()
    embedding = unit(77).astype("<f4").tobytes()
    for value in (LABEL, PLATE, REASON, "canary"):
        assert value not in text, f"{value!r} reached the log"
    assert embedding.hex()[:32] not in text


def test_health_tells_liveness_readiness_and_what_lacks_its_models(harness: Harness) -> None:
    health = health_pb2_grpc.HealthStub(harness.client._channel)

    def status(name: str) -> int:
        return int(health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status)

    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    assert status("") == serving and status("liveness") == serving
    # No face models are installed in this harness: photos cannot be served, embeddings can.
    assert status("matcher.v1.FaceService") == not_serving
    assert status("matcher.v1.FaceService/embeddings") == serving
    assert status("matcher.v1.CaseService") == serving
    with pytest.raises(grpc.RpcError) as unknown:
        status("matcher.v1.NoSuchService")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_with_face_models_serves_the_face_service(face_harness: Harness) -> None:
    health = health_pb2_grpc.HealthStub(face_harness.client._channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service="matcher.v1.FaceService"), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def _start_fails(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matcher.cli", "serve", "--listen", f"127.0.0.1:{free_port()}", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("problem", "says"),
    [
        ("metrics port in use", "choose a free --metrics-listen port"),
        ("key file is a folder", "must be a file the service's user can read"),
        ("key file malformed", "fix the key file"),
        ("log folder not writable", "choose a writable --log-file"),
    ],
)
def test_a_bad_start_stops_with_one_line_naming_the_fix(tmp_path: Path, problem: str, says: str) -> None:
    data = tmp_path / "data"
    args = ["--data-dir", str(data)]
    busy = socket.socket()
    try:
        if problem == "metrics port in use":
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            args += ["--metrics-listen", f"127.0.0.1:{busy.getsockname()[1]}"]
        elif problem == "key file is a folder":
            (data / "keys" / "kek").mkdir(parents=True)
        elif problem == "key file malformed":
            (data / "keys").mkdir(parents=True)
            (data / "keys" / "kek").write_text("not a key\n")
        else:
            blocker = tmp_path / "file"
            blocker.write_text("a file, not a folder")
            args += ["--log-file", str(blocker / "logs" / "matcher.log")]
        done = _start_fails(tmp_path, *args)
    finally:
        busy.close()
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(r"error: .+", done.stderr)


def _doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matcher.cli", "doctor", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        timeout=120,
    )


def test_doctor_checks_a_deployment_and_names_each_fix(harness: Harness) -> None:
    harness.client.create_case("d-1", "Doctor", reason="r")
    args = ["--data-dir", str(harness.data_dir), "--database-url", harness.app.settings.database_url]
    done = _doctor(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for check in ("database", "schema", "key", "face models", "tls", "clock", "audit chain"):
        assert check in out, out
    assert "WARN  tls" in out and "fix:" in out  # tokens only: say how production runs
    if harness.backend == "sqlite":
        assert "WARN  key placement" in out  # the default layout keeps key and database together
    # An edited audit record is a failure, with what to do.
    if harness.backend == "sqlite":
        import sqlite3

        harness.app.audit.seal()
        with sqlite3.connect(harness.data_dir / "matcher.db") as raw:
            raw.execute("UPDATE audit_records SET reason = 'nothing to see' WHERE seq = 3")
        broken = _doctor(*args)
        assert broken.returncode == 1 and "FAIL  audit chain" in broken.stdout


def test_doctor_fails_on_a_database_it_cannot_reach(tmp_path: Path) -> None:
    done = _doctor(
        "--data-dir", str(tmp_path), "--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    assert done.returncode == 1
    assert "FAIL  database" in done.stdout and "Traceback" not in done.stderr
