"""P18: the KEK generations' files, their destruction, and what survives a rotation.

Key files are private and written atomically; a retired generation's file is overwritten before
it is removed (seen through a hard link to it); keys wrapped before generations existed still
unwrap; the audit chain verifies across rotations, restarts and an upgrade from a deployment
whose audit key was derived from the KEK; ``matcher doctor`` names the generation and flags what
an interrupted rotation or a lost file leaves.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, select, update

from lifecycle import models as m
from lifecycle.clock import ManualClock
from matcher import crypto
from matcher.app import build_app
from matcher.client import MatcherClient
from matcher.config import Settings
from matcher.kek import AUDIT_KEY_NAME, LEFTOVER_SECONDS, KekGenerations, generation_files, write_private
from matcher.server import start
from matcher.v1 import cases_pb2
from tests.conftest import START, Harness, database_url, near, unit, wait_until
from tests.serverproc import REPO, free_port


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_P18_key_files_are_private_and_written_whole(tmp_path: Path) -> None:
    kek_file = tmp_path / "keys" / "kek"
    keks = KekGenerations.load(kek_file)
    generation = keks.write_generation()
    assert generation == 1 and keks.current == 0, "written, not yet current"
    assert _mode(kek_file) == 0o600 and _mode(generation_files(kek_file)[1]) == 0o600
    assert _mode(kek_file.parent) == 0o700
    assert sorted(p.name for p in kek_file.parent.iterdir()) == ["kek", "kek.1"]


@pytest.mark.parametrize("leftover", [".kek.2.tmp-999", ".kek.0.tmp-retired"])
def test_P18_a_key_file_half_written_or_half_destroyed_is_destroyed_at_load(
    tmp_path: Path, leftover: str
) -> None:
    kek_file = tmp_path / "keys" / "kek"
    KekGenerations.load(kek_file)
    write_private(kek_file.with_name("unrelated"), b"x")
    left = kek_file.with_name(leftover)
    left.write_bytes(b"half a key")
    KekGenerations.load(kek_file)
    assert left.exists(), "it may be a replica's write in progress"
    os.utime(left, (left.stat().st_atime, left.stat().st_mtime - LEFTOVER_SECONDS - 1))
    KekGenerations.load(kek_file)
    assert not left.exists()
    assert generation_files(kek_file) == {0: kek_file}


def test_P18_a_retired_generation_is_overwritten_before_it_is_removed(tmp_path: Path) -> None:
    kek_file = tmp_path / "keys" / "kek"
    keks = KekGenerations.load(kek_file)
    size = kek_file.stat().st_size
    witness = tmp_path / "witness"
    os.link(kek_file, witness)  # The same inode: sees what happens to the file's blocks.
    aad = crypto.case_key_aad("c-1")
    key, wrapped = keks.new_key(None, aad)
    generation = keks.write_generation()
    keks.make_current(generation)
    rewrapped = keks.rewrap(wrapped, aad)
    assert keks.destroy_before(generation) == [0]
    assert not kek_file.exists()
    assert witness.read_bytes() == bytes(size), "the old key's bytes must be overwritten"
    assert keks.unwrap(None, rewrapped, aad) == key
    with pytest.raises(crypto.KeyringError, match="generation 0"):
        keks.unwrap(None, wrapped, aad)
    assert KekGenerations.load(kek_file).generations == [generation]


def test_P18_a_key_wrapped_before_generations_unwraps_as_generation_0(tmp_path: Path) -> None:
    keks = KekGenerations.load(tmp_path / "keys" / "kek")
    aad = crypto.case_key_aad("c-1")
    key, wrapped = keks.new_key(None, aad)
    assert len(wrapped) == 65 and keks.generation_of(wrapped) == 0
    legacy = wrapped[5:]  # nonce and ciphertext, as the service wrote before generations
    assert keks.generation_of(legacy) == 0 and keks.unwrap(None, legacy, aad) == key
    with pytest.raises(crypto.KeyringError, match="unknown format"):
        keks.generation_of(b"\x02" + wrapped[1:])


@contextmanager
def _serving(data_dir: Path, url: str) -> Iterator[MatcherClient]:
    """The real server over an existing system of record (restarts keep the database)."""
    app = build_app(Settings(data_dir=data_dir, database_url=url, listen="127.0.0.1:0"), ManualClock(START))
    service = start(app)
    token = (data_dir / "client.token").read_text().strip()
    client = MatcherClient(grpc.insecure_channel(f"127.0.0.1:{service.port}"), token, timeout=10)
    try:
        yield client
    finally:
        client.close()
        service.stop(grace=None)
        app.close()


def _auditor(data_dir: Path, client: MatcherClient) -> MatcherClient:
    token = (data_dir / "tokens" / "local-auditor.token").read_text().strip()
    return MatcherClient(client._channel, token, timeout=10)


def _verifies(data_dir: Path, client: MatcherClient) -> bool:
    return bool(_auditor(data_dir, client).verify_audit().ok)


def _doctor(data_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matcher.cli", "doctor", "--data-dir", str(data_dir), "--database-url", url],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        timeout=120,
    )


@pytest.mark.slow
def test_P18_P16_upgrade_rotation_and_restarts_keep_data_and_audit_chain(
    tmp_path: Path, backend: str
) -> None:
    data_dir = tmp_path / "data"
    url = database_url(backend, data_dir)
    kek_file = data_dir / "keys" / "kek"
    kept, doomed = unit(81), unit(82)
    with _serving(data_dir, url) as client:
        for case_id, vector in (("kept", kept), ("doomed", doomed)):
            client.create_case(case_id, "Case", reason="r")
            client.create_subject(case_id, "s", "suspect", reason="r")
            client.enroll_face(case_id, "s", vector, reason="r")
        client.add_plate("kept", "KEEP18", reason="r")
    # As a deployment from before KEK generations left it: keys wrapped without a generation
    # header, and no audit key file (its chain was sealed with a key derived from the KEK).
    engine = create_engine(url)
    with engine.begin() as connection:
        for pk, wrapped in connection.execute(
            select(m.DataKey.pk, m.DataKey.wrapped).where(m.DataKey.subject_pk.is_(None))
        ).all():
            connection.execute(update(m.DataKey).where(m.DataKey.pk == pk).values(wrapped=wrapped[5:]))
    engine.dispose()
    (kek_file.parent / AUDIT_KEY_NAME).unlink()

    with _serving(data_dir, url) as client:
        assert _verifies(data_dir, client), "the old chain verifies with the re-derived key"
        assert client.search_faces(["kept"], near(kept, 1), reason="r").results[0].matches
        client.close_case("doomed", reason="closed")
        assert wait_until(lambda: all(p.state == p.DONE for p in client.list_purges("doomed")))
        [receipt] = _auditor(data_dir, client).audit_records(action="purge.receipt")
        assert json.loads(receipt.detail_json)["kek_generation"] == 1
        assert list(generation_files(kek_file)) == [1], "generation 0 is destroyed"
        assert _verifies(data_dir, client), "rotating the KEK does not touch the audit chain's key"
        client.release_subject("kept", "s", reason="cleared")  # renews the case key (P2)
        assert wait_until(lambda: all(p.state == p.DONE for p in client.list_purges("kept")))
        assert list(generation_files(kek_file)) == [2]
    doctor = _doctor(data_dir, url)
    assert "OK    key            KEK generation 2" in doctor.stdout, doctor.stdout
    assert "key generations" not in doctor.stdout

    with _serving(data_dir, url) as client:
        assert _verifies(data_dir, client)
        assert [p.plate for p in client.list_plates("kept")] == ["KEEP18"], "re-encrypted, still readable"

    # An interrupted rotation's leftover, then a lost generation: doctor says so.
    write_private(kek_file, b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    doctor = _doctor(data_dir, url)
    assert doctor.returncode == 0 and "WARN  key generations" in doctor.stdout, doctor.stdout
    assert "old KEK generations [0]" in doctor.stdout and "fix: start the service" in doctor.stdout
    generation_files(kek_file)[2].unlink()
    doctor = _doctor(data_dir, url)
    assert doctor.returncode == 1 and "FAIL  key generations" in doctor.stdout, doctor.stdout


def test_P16_a_lost_audit_key_after_a_rotation_stops_the_start_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    kek_file = data_dir / "keys" / "kek"
    keks = KekGenerations.load(kek_file)
    keks.make_current(keks.write_generation())
    keks.destroy_before(keks.current)  # generation 0, from which the audit key could be derived
    serve = ["serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data_dir)]
    done = subprocess.run(
        [sys.executable, "-m", "matcher.cli", *serve],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and AUDIT_KEY_NAME in errors[0] and "escrow" in errors[0], done.stderr
    assert "Traceback" not in done.stderr


def test_P18_purges_that_finish_together_share_one_rotation(harness: Harness) -> None:
    """One pass of the worker: one new generation for all its purges, each receipt naming it."""
    harness.app.worker.stop()  # the pass below is the only one
    client = harness.client
    for case_id in ("c-1", "c-2", "c-3"):
        client.create_case(case_id, "Case", reason="r")
        client.create_subject(case_id, "s", "suspect", reason="r")
        client.enroll_face(case_id, "s", unit(90 + int(case_id[-1])), reason="r")
    kek_file = harness.data_dir / "keys" / "kek"
    assert list(generation_files(kek_file)) == [0]
    for case_id in ("c-1", "c-2", "c-3"):
        client.close_case(case_id, reason="closed")
    assert {p.state for p in client.list_purges()} == {cases_pb2.Purge.PENDING}
    harness.app.worker.run_due()
    assert {p.state for p in client.list_purges()} == {cases_pb2.Purge.DONE}
    assert list(generation_files(kek_file)) == [1]
    receipts = harness.audit("purge.receipt")
    assert len(receipts) == 3 and {json.loads(r.detail_json)["kek_generation"] for r in receipts} == {1}


def test_P18_MATCHER_KEK_is_generation_0_and_is_left_unused_after_a_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service cannot destroy a variable of its environment: it stops using it, and says so."""
    import base64

    kek = bytes(range(32))
    monkeypatch.setenv(crypto.KEK_ENV, base64.b64encode(kek).decode())
    kek_file = tmp_path / "keys" / "kek"
    keks = KekGenerations.load(kek_file)
    assert keks.generations == [0] and keks.env_generation and not kek_file.exists()
    aad = crypto.case_key_aad("c-1")
    key, wrapped = keks.new_key(None, aad)
    keks.make_current(keks.write_generation())
    rewrapped = keks.rewrap(wrapped, aad)
    assert keks.destroy_before(1) == [0] and not keks.env_generation
    reloaded = KekGenerations.load(kek_file)
    assert reloaded.generations == [0, 1] and reloaded.current == 1, "doctor warns while it is set"
    assert reloaded.unwrap(None, rewrapped, aad) == key
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # the key check needs no database
    doctor = subprocess.run(
        [
            sys.executable,
            "-m",
            "matcher.cli",
            "doctor",
            "--data-dir",
            str(tmp_path),
            "--database-url",
            unreachable,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), crypto.KEK_ENV: os.environ[crypto.KEK_ENV]},
        timeout=120,
    )
    assert f"unset {crypto.KEK_ENV}" in doctor.stdout, doctor.stdout
