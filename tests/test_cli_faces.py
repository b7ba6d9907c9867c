"""The CLI's photo commands against a real server running generated face models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matcher.cli import main
from matcher.faces import load_manifest, synthetic
from tests.conftest import Harness, open_case_with_subject
from tests.test_face_photos import photo


def _cli(h: Harness, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--target", h.target, "--token-file", str(h.data_dir / "client.token"), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_enrol_and_search_with_photos(
    face_harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    open_case_with_subject(face_harness)
    (tmp_path / "booking.png").write_bytes(photo((5, (320, 320))))
    (tmp_path / "still.png").write_bytes(photo((5, (96, 96)), (6, (544, 544))))
    code, out, _ = _cli(
        face_harness,
        capsys,
        "enroll",
        "c-1",
        "poi-1",
        "--photo",
        str(tmp_path / "booking.png"),
        "--reason",
        "booking photo",
    )
    assert code == 0 and "faceTemplates" in out
    code, out, _ = _cli(
        face_harness,
        capsys,
        "search",
        "--case",
        "c-1",
        "--photo",
        str(tmp_path / "still.png"),
        "--reason",
        "CCTV still",
    )
    assert code == 0
    assert "2 face(s), 1 match(es)" in out
    assert "cases/c-1/subjects/poi-1" in out and "(no match)" in out
    code, out, _ = _cli(
        face_harness,
        capsys,
        "--json",
        "search",
        "--case",
        "c-1",
        "--photo",
        str(tmp_path / "still.png"),
        "--reason",
        "again",
    )
    results = json.loads(out)["results"]
    assert len(results) == 2 and sum(len(r.get("matches", [])) for r in results) == 1


def test_cli_bulk_enrolment_reports_refusals_and_continues(
    face_harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    open_case_with_subject(face_harness)
    face_harness.client.create_subject("c-1", "poi-2", "suspect", reason="r")
    folder = tmp_path / "photos"
    for subject, seed in (("poi-1", 1), ("poi-2", 2)):
        (folder / subject).mkdir(parents=True)
        (folder / subject / "a.png").write_bytes(photo((seed, (320, 320))))
    (folder / "poi-2" / "b.png").write_bytes(photo())  # no face: refused, the run goes on
    code, out, err = _cli(face_harness, capsys, "enroll-bulk", "c-1", str(folder), "--reason", "bulk load")
    assert code == 1
    assert "2 enrolled, 1 refused" in out and "NO_FACE" in out
    assert "3/3 photos" in err
    assert face_harness.client.get_case("c-1").face_template_count == 2


def test_cli_models_install_verifies_and_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "download"
    source.mkdir()
    pack = load_manifest().pack("buffalo_s")
    synthetic.write_detector(source / pack.detector.file)
    synthetic.write_recognizer(source / pack.recognizer.file)
    args = [
        "models",
        "install",
        "--from",
        str(source),
        "--pack",
        "buffalo_s",
        "--data-dir",
        str(tmp_path / "d"),
    ]
    assert main(args) == 1  # buffalo_s has no pinned sha256: refused unless the operator vouches
    assert "cannot be verified" in capsys.readouterr().out
    assert main([*args, "--allow-unpinned"]) == 0
    assert "installed pack buffalo_s" in capsys.readouterr().out
    assert main(["models", "list", "--data-dir", str(tmp_path / "d")]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "not installed" not in listed["buffalo_s"] and "installed" in listed["buffalo_s"]
    assert "not installed" in listed["buffalo_l"]
