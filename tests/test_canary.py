"""P2/P3/P18: after a purge, a canary template leaves no trace in the database, its WAL or logs.

Templates are encrypted, so the canary's plaintext must never reach the files at all; and once
purged, even its ciphertext must be gone (secure_delete plus a truncating WAL checkpoint).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, select

from lifecycle import models as m
from tests.conftest import START, wait_until
from tests.serverproc import ServerProcess


def _files(data_dir: Path, log_file: Path) -> dict[str, bytes]:
    found = {p.name: p.read_bytes() for p in data_dir.glob("matcher.db*")}
    found[log_file.name] = log_file.read_bytes()
    return found


@pytest.mark.slow
@pytest.mark.parametrize("trigger", ["close", "release"])
def test_P3_P2_canary_bytes_are_gone_after_purge(tmp_path: Path, trigger: str) -> None:
    data_dir, log_file = tmp_path / "data", tmp_path / "server.log"
    url = f"sqlite:///{data_dir / 'matcher.db'}"
    server = ServerProcess(data_dir, url, tmp_path / "clock", log_file)
    server.set_clock(START)
    canary = np.linspace(0.125, 0.875, 512, dtype=np.float32)  # Distinctive, exactly representable.
    normalised = (canary / np.linalg.norm(canary)).astype("<f4")
    server.start()
    try:
        server.wait_serving()
        with server.client() as client:
            client.create_case("c-1", "Canary", reason="r")
            client.create_subject("c-1", "s", "suspect", reason="r")
            client.create_subject("c-1", "other", "suspect", reason="r")
            client.enroll_face("c-1", "s", canary, reason="r")
            client.enroll_face("c-1", "other", np.ones(512, dtype=np.float32), reason="r")
            engine = create_engine(url)
            with engine.connect() as connection:
                ciphertext = connection.execute(
                    select(m.FaceTemplate.ciphertext).join(m.Subject).where(m.Subject.subject_id == "s")
                ).scalar_one()
            engine.dispose()
            before = _files(data_dir, log_file)
            assert any(ciphertext in blob for blob in before.values()), "the scan must see stored rows"
            if trigger == "close":
                client.close_case("c-1", reason="closed")
            else:
                client.release_subject("c-1", "s", reason="released")
            assert wait_until(lambda: all(p.state == p.DONE for p in client.list_purges("c-1"))), (
                "purge did not finish"
            )
    finally:
        server.stop()
    for name, blob in _files(data_dir, log_file).items():
        assert canary.tobytes() not in blob, f"canary plaintext found in {name}"
        assert normalised.tobytes() not in blob, f"normalised canary found in {name}"
        assert normalised[:16].tobytes() not in blob, f"part of the canary found in {name}"
        assert ciphertext not in blob, f"canary ciphertext survived the purge in {name}"
        assert ciphertext[:32] not in blob, f"part of the canary ciphertext survived in {name}"
