"""The investigator's CLI against a real server: the README's walk-through, tables and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matcher.cli import main
from tests.conftest import Harness, near, unit, wait_until
from tests.serverproc import REPO


def _cli(h: Harness, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--target", h.target, "--token-file", str(h.data_dir / "client.token"), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_walk_through(harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    face, probe = tmp_path / "face.npy", tmp_path / "probe.npy"
    np.save(face, unit(1))
    np.save(probe, near(unit(1), 2))
    code, out, _ = _cli(
        harness,
        capsys,
        "case",
        "create",
        "--id",
        "2026-0042",
        "--title",
        "Burglary series",
        "--reason",
        "three break-ins on Olive St",
    )
    assert code == 0 and "cases/2026-0042" in out and "OPEN" in out
    code, out, _ = _cli(
        harness,
        capsys,
        "subject",
        "add",
        "2026-0042",
        "--id",
        "poi-1",
        "--role",
        "poi",
        "--label",
        "POI-1",
        "--reason",
        "seen at two scenes",
    )
    assert code == 0 and "PERSON_OF_INTEREST" in out
    code, out, _ = _cli(
        harness,
        capsys,
        "--json",
        "enroll",
        "2026-0042",
        "poi-1",
        "--embedding",
        str(face),
        "--reason",
        "booking photo",
    )
    template = json.loads(out)["name"]
    assert template.startswith("cases/2026-0042/subjects/poi-1/faceTemplates/")
    code, out, _ = _cli(
        harness,
        capsys,
        "search",
        "--case",
        "2026-0042",
        "--embedding",
        str(probe),
        "--reason",
        "CCTV still, 4th st",
    )
    assert code == 0 and "1 match(es)" in out and "cases/2026-0042/subjects/poi-1" in out
    code, out, _ = _cli(
        harness,
        capsys,
        "--json",
        "search",
        "--case",
        "2026-0042",
        "--embedding",
        str(probe),
        "--reason",
        "again",
    )
    assert json.loads(out)["results"][0]["matches"][0]["face_template"] == template
    code, out, _ = _cli(harness, capsys, "case", "close", "2026-0042", "--reason", "charges filed")
    assert code == 0 and "CLOSED" in out
    assert wait_until(lambda: _cli(harness, capsys, "--json", "purges", "2026-0042")[1].count('"DONE"') == 1)
    auditor = ["--token-file", str(harness.data_dir / "tokens" / "local-auditor.token")]
    code, out, _ = _cli(harness, capsys, *auditor, "--json", "audit", "list", "--action", "purge.receipt")
    [receipt] = json.loads(out)
    assert receipt["resource"] == "cases/2026-0042" and receipt["count"] == "1"
    code, out, _ = _cli(harness, capsys, *auditor, "audit", "list", "--resource", "cases/2026-0042")
    for action in (
        "case.create",
        "subject.create",
        "face.enroll",
        "faces.search",
        "case.close",
        "purge.receipt",
    ):
        assert action in out


def test_cli_refusal_prints_code_reason_and_exits_1(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(harness, capsys, "case", "get", "missing")
    assert code == 1
    assert "NOT_FOUND (CASE_NOT_FOUND)" in err


def test_cli_holds_and_lists(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    _cli(harness, capsys, "case", "create", "--id", "c", "--title", "T", "--reason", "r")
    code, out, _ = _cli(
        harness,
        capsys,
        "--json",
        "hold",
        "place",
        "c",
        "--kind",
        "court-order",
        "--authority",
        "Order 26-1",
        "--placed-by",
        "Judge Doe",
        "--until",
        "2026-12-31T00:00Z",
        "--reason",
        "trial",
    )
    hold_id = json.loads(out)["name"].rsplit("/", 1)[-1]
    code, out, _ = _cli(harness, capsys, "hold", "list", "c")
    assert "ACTIVE" in out and "Order 26-1" in out
    code, out, _ = _cli(harness, capsys, "hold", "lift", "c", hold_id, "--reason", "vacated")
    assert code == 0 and "LIFTED" in out
    with pytest.raises(SystemExit) as exit_info:  # A local time is refused before any call.
        _cli(
            harness,
            capsys,
            "hold",
            "place",
            "c",
            "--kind",
            "statute",
            "--authority",
            "x",
            "--placed-by",
            "y",
            "--until",
            "2026-12-31T00:00",
            "--reason",
            "r",
        )
    assert exit_info.value.code == 2
    assert "needs a time zone" in capsys.readouterr().err
    assert len(harness.client.list_legal_holds("c")) == 1


def test_cli_entry_point_runs_as_a_program(harness: Harness) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "matcher.cli",
            "--target",
            harness.target,
            "--token-file",
            str(harness.data_dir / "client.token"),
            "health",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SERVING"


def test_cli_as_a_local_principal(
    harness: Harness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--as NAME`` picks DATA_DIR/tokens/NAME.token and says who it is for (lockout counting)."""
    monkeypatch.setenv("MATCHER_DATA_DIR", str(harness.data_dir))
    assert main(["--target", harness.target, "--as", "local-auditor", "audit", "verify"]) == 0
    assert "audit log intact" in capsys.readouterr().out
    assert main(["--target", harness.target, "--as", "local-admin", "zones", "list"]) == 0
    capsys.readouterr()
    assert main(["--target", harness.target, "--as", "local-investigator", "audit", "verify"]) == 1
    assert "ROLE_NOT_PERMITTED" in capsys.readouterr().err
