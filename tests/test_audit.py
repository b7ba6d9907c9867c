"""P16: the audit log is append-only and tamper-evident; P8: it holds no biometric content."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from matcher.cli import main
from matcher.client import MatcherError
from tests.conftest import Harness, open_case_with_subject, unit


def _populate(h: Harness) -> None:
    open_case_with_subject(h)
    for seed in range(3):
        h.client.enroll_face("c-1", "poi-1", unit(seed), reason=f"photo {seed}")
        h.client.search_faces(["c-1"], unit(seed), reason="lead")
    assert h.as_("local-auditor").verify_audit().ok


def _db(h: Harness) -> sqlite3.Connection:
    return sqlite3.connect(h.data_dir / "matcher.db")


def _tamper(h: Harness, *statements: str) -> None:
    if h.backend != "sqlite":
        pytest.skip("tampering is done directly on the SQLite file")
    with _db(h) as connection:
        for statement in statements:
            connection.execute(statement)


def test_P16_intact_log_verifies(harness: Harness) -> None:
    before = harness.as_("local-auditor").verify_audit().records_checked  # first-start accounts
    _populate(harness)
    result = harness.as_("local-auditor").verify_audit()
    assert result.ok and result.first_bad_sequence == 0
    # 1 verify, 2 set-up, 3 enrolments, 3 searches, 1 verify
    assert result.records_checked - before == 1 + 2 + 3 + 3 + 1


def test_P16_edited_record_is_detected(harness: Harness) -> None:
    _populate(harness)
    _tamper(harness, "UPDATE audit_records SET reason = 'routine' WHERE seq = 5")
    result = harness.as_("local-auditor").verify_audit()
    assert (result.ok, result.first_bad_sequence) == (False, 5)
    assert "altered" in result.problem


def test_P16_recomputed_plain_hash_is_still_detected(harness: Harness) -> None:
    """Without the key outside the database, an editor cannot forge the HMAC chain."""
    _populate(harness)
    import hashlib

    forged = hashlib.sha256(b"anything").hexdigest()
    _tamper(harness, f"UPDATE audit_records SET count = 0, hash = '{forged}' WHERE seq = 6")
    result = harness.as_("local-auditor").verify_audit()
    assert not result.ok and result.first_bad_sequence == 6


def test_P16_deleted_record_is_detected(harness: Harness) -> None:
    _populate(harness)
    _tamper(harness, "DELETE FROM audit_records WHERE seq = 4")
    result = harness.as_("local-auditor").verify_audit()
    assert (result.ok, result.first_bad_sequence) == (False, 4)
    assert "missing" in result.problem


def test_P16_reordered_records_are_detected(harness: Harness) -> None:
    _populate(harness)
    _tamper(
        harness,
        "UPDATE audit_records SET seq = -1 WHERE seq = 3",
        "UPDATE audit_records SET seq = 3 WHERE seq = 4",
        "UPDATE audit_records SET seq = 4 WHERE seq = -1",
    )
    result = harness.as_("local-auditor").verify_audit()
    assert (result.ok, result.first_bad_sequence) == (False, 3)


def test_P16_truncated_log_is_detected(harness: Harness) -> None:
    _populate(harness)
    last = harness.as_("local-auditor").verify_audit().records_checked
    _tamper(harness, f"DELETE FROM audit_records WHERE seq >= {last - 2}")
    result = harness.as_("local-auditor").verify_audit()
    assert not result.ok
    assert "truncated" in result.problem


def test_P16_cli_audit_verify_exit_code(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    _populate(harness)
    args = [
        "--target",
        harness.target,
        "--token-file",
        str(harness.data_dir / "tokens" / "local-auditor.token"),
    ]
    assert main([*args, "audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    _tamper(harness, "UPDATE audit_records SET actor = 'someone-else' WHERE seq = 2")
    assert main([*args, "audit", "verify"]) == 3
    assert "BROKEN at record 2" in capsys.readouterr().out
    investigator = ["--target", harness.target, "--token-file", str(harness.data_dir / "client.token")]
    assert main([*investigator, "audit", "verify"]) == 1  # P10: investigators do not audit
    assert "PERMISSION_DENIED (ROLE_NOT_PERMITTED)" in capsys.readouterr().err


def test_P8_audit_holds_no_biometric_content(harness: Harness) -> None:
    open_case_with_subject(harness)
    face = unit(5)
    harness.client.enroll_face("c-1", "poi-1", face, reason="r")
    harness.client.search_faces(["c-1"], face, reason="r")
    records = harness.audit()
    search = next(r for r in records if r.action == "faces.search")
    assert search.count == 1
    assert "poi-1" not in search.detail_json + search.resource  # No identity-at-location pair.
    for record in records:
        text = record.SerializeToString()
        assert face.astype("<f4").tobytes()[:16] not in text
        assert "faceTemplates" not in record.resource


def test_P16_every_call_leaves_one_record(harness: Harness) -> None:
    before = harness.as_("local-auditor").verify_audit().records_checked
    harness.client.create_case("c-1", "Case", reason="r")  # +1
    harness.client.get_case("c-1")  # +1
    list(harness.client.list_cases())  # +1
    harness.client.list_purges()  # +1
    after = harness.as_("local-auditor").verify_audit().records_checked
    assert after - before == 1 + 4  # The first verify call itself is recorded too.
    with pytest.raises(MatcherError) as error:
        harness.client.verify_audit()  # refused: the refusal is the one record of that call
    assert error.value.code.name == "PERMISSION_DENIED"
    assert harness.as_("local-auditor").verify_audit().records_checked - after == 1 + 1


def test_anchor_file_lives_outside_the_database(harness: Harness) -> None:
    _populate(harness)
    anchor = Path(harness.data_dir / "audit.anchor").read_text().split()
    assert int(anchor[0]) >= 9 and len(anchor[1]) == 64
