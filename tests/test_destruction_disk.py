"""P2/P3/P18: after the purge receipt, no purged template can be decrypted from any copy on disk.

Deleting a key's row is not destruction on PostgreSQL: dead tuples, the WAL and every backup keep
it. The test plays the attacker who holds every file the deployment still has: a backup taken
before the purge (SQLite: a copy of the database file and its WAL; PostgreSQL: ``pg_dump``), the
database as it is after the purge, PostgreSQL's own data files and ``pg_wal`` after ``VACUUM``
and ``CHECKPOINT``, and every key file left in the key folder. It unwraps every wrapped key it
finds with every key it has (and with every key it recovers that way, until nothing new comes
out), then tries every key on every template ciphertext and plate entry it found.

None of the closed case's templates, nor the released subject's, may decrypt; the open case's
remaining subject must (the live control, which also proves the attack works).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, make_url, text

from matcher import crypto
from tests.conftest import running_server, unit, wait_until

Scope = tuple[str, int | None]  # (case, subject pk or None for the case key)


@dataclass(frozen=True)
class Wrapped:
    scope: Scope
    blob: bytes


@dataclass(frozen=True)
class Sealed:
    """A template or plate entry ciphertext with what its associated data names."""

    kind: str
    case_id: str
    subject_pk: int | None
    item_id: str
    model: str
    nonce: bytes
    ciphertext: bytes


@dataclass
class Evidence:
    wrapped: set[Wrapped] = field(default_factory=set)
    sealed: set[Sealed] = field(default_factory=set)

    def add_rows(self, tables: dict[str, list[dict[str, object]]]) -> None:
        for row in tables.get("data_keys", []):
            subject = row["subject_pk"]
            scope = (str(row["case_id"]), None if subject is None else int(str(subject)))
            self.wrapped.add(Wrapped(scope, _bytes(row["wrapped"])))
        for row in tables.get("face_templates", []):
            self.sealed.add(
                Sealed(
                    "template",
                    str(row["case_id"]),
                    int(str(row["subject_pk"])),
                    str(row["id"]),
                    str(row["model"]),
                    _bytes(row["nonce"]),
                    _bytes(row["ciphertext"]),
                )
            )
        for row in tables.get("plate_entries", []):
            subject = row["subject_pk"]
            self.sealed.add(
                Sealed(
                    "plate",
                    str(row["case_id"]),
                    None if subject is None else int(str(subject)),
                    str(row["id"]),
                    "",
                    _bytes(row["nonce"]),
                    _bytes(row["ciphertext"]),
                )
            )


TABLES = ("data_keys", "face_templates", "plate_entries")


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes | bytearray | memoryview), type(value)
    return bytes(value)


# --- where the copies are ---------------------------------------------------------------------


def _sqlite_rows(path: Path) -> dict[str, list[dict[str, object]]]:
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        return {t: [dict(r) for r in connection.execute(f"SELECT * FROM {t}")] for t in TABLES}
    finally:
        connection.close()


def _live_rows(url: str) -> dict[str, list[dict[str, object]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                t: [dict(r._mapping) for r in connection.execute(text(f"SELECT * FROM {t}"))] for t in TABLES
            }
    finally:
        engine.dispose()


def _pg_dump(url: str, out: Path) -> None:
    parts = make_url(url)
    subprocess.run(
        [
            "pg_dump",
            "-h",
            parts.host or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
            "-f",
            str(out),
            parts.database or "",
        ],
        check=True,
        env={**os.environ, "PGPASSWORD": parts.password or ""},
        timeout=60,
    )


def _dump_rows(dump: Path) -> dict[str, list[dict[str, object]]]:
    """The rows of a plain ``pg_dump``'s COPY blocks (bytea as ``\\x`` hex)."""
    tables: dict[str, list[dict[str, object]]] = {}
    columns: list[str] | None = None
    name = ""
    for line in dump.read_text().splitlines():
        if columns is None:
            if line.startswith("COPY public.") and line.endswith("FROM stdin;"):
                name = line.split()[1].removeprefix("public.")
                columns = [c.strip() for c in line[line.index("(") + 1 : line.index(")")].split(",")]
            continue
        if line == "\\.":
            columns = None
            continue
        if name in TABLES:
            values: list[object] = []
            for raw in line.split("\t"):
                value = raw.replace("\\\\", "\\")
                if raw == "\\N":
                    values.append(None)
                elif value.startswith("\\x"):
                    values.append(bytes.fromhex(value[2:]))
                else:
                    values.append(value)
            tables.setdefault(name, []).append(dict(zip(columns, values, strict=True)))
    return tables


def _pg_files(url: str) -> list[Path]:
    """This database's data files and the cluster's WAL, after VACUUM and CHECKPOINT."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("VACUUM"))
            connection.execute(text("CHECKPOINT"))
            data_dir = Path(str(connection.execute(text("SHOW data_directory")).scalar_one()))
            oid = connection.execute(
                text("SELECT oid FROM pg_database WHERE datname = current_database()")
            ).scalar_one()
    finally:
        engine.dispose()
    files = [p for p in (data_dir / "base" / str(oid)).iterdir() if p.is_file()]
    return files + [p for p in (data_dir / "pg_wal").iterdir() if p.is_file()]


def _found_in(blobs: Iterable[bytes], files: list[Path]) -> set[bytes]:
    wanted = set(blobs)
    found: set[bytes] = set()
    for path in files:
        content = path.read_bytes()
        found |= {blob for blob in wanted if blob in content}
    return found


def _key_material(key_dir: Path) -> list[bytes]:
    """Every 32-byte key the key folder still holds, whatever its file is called."""
    keys = []
    for path in key_dir.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        try:
            decoded = base64.b64decode(raw.strip(), validate=True)
        except (binascii.Error, ValueError):
            decoded = raw
        if len(decoded) == crypto.KEY_BYTES:
            keys.append(decoded)
    return keys


# --- the attack -------------------------------------------------------------------------------


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes | None:
    bodies = [blob, blob[5:]]  # a KEK-wrapped key may carry a 5-byte generation header
    for body in bodies:
        if len(body) <= crypto.NONCE_BYTES:
            continue
        try:
            return AESGCM(key).decrypt(body[: crypto.NONCE_BYTES], body[crypto.NONCE_BYTES :], aad)
        except InvalidTag:
            continue
    return None


def _aad_of_wrapped(scope: Scope) -> bytes:
    case_id, subject_pk = scope
    return crypto.case_key_aad(case_id) if subject_pk is None else crypto.subject_key_aad(case_id, subject_pk)


def _aad_of_sealed(item: Sealed) -> bytes:
    if item.kind == "template":
        assert item.subject_pk is not None
        return crypto.template_aad(item.case_id, item.subject_pk, item.item_id, item.model)
    return f"matcher/v1/plate-entry/{item.case_id}/{item.subject_pk}/{item.item_id}".encode()


def attack(evidence: Evidence, keys: list[bytes]) -> dict[Sealed, bytes]:
    """Every ciphertext that some chain of the keys at hand opens, with its plaintext."""
    known = set(keys)
    grew = True
    while grew:
        grew = False
        for item in evidence.wrapped:
            for key in list(known):
                plain = _open(key, item.blob, _aad_of_wrapped(item.scope))
                if plain is not None and plain not in known:
                    known.add(plain)
                    grew = True
    opened = {}
    for sealed in evidence.sealed:
        for key in known:
            try:
                opened[sealed] = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, _aad_of_sealed(sealed))
                break
            except InvalidTag:
                continue
    return opened


# --- the test ---------------------------------------------------------------------------------

CLOSED, KEPT = "closed-case", "kept-case"
VECTORS = {
    (CLOSED, "a"): [unit(1801), unit(1802)],
    (CLOSED, "b"): [unit(1803)],
    (KEPT, "released"): [unit(1804), unit(1805)],
    (KEPT, "stays"): [unit(1806), unit(1807)],
}
PLATES = {(CLOSED, ""): "CLOSE01", (KEPT, "released"): "RELSE02", (KEPT, ""): "KEEP003"}


def _subjects(url: str) -> dict[int, tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT pk, case_id, subject_id FROM subjects")).all()
    finally:
        engine.dispose()
    return {int(pk): (str(case_id), str(subject_id)) for pk, case_id, subject_id in rows}


def _tally(opened: dict[Sealed, bytes], subjects: dict[int, tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Decrypted items per (case, subject id) ("" for case-level plates), checked against the enrolled."""
    tally: dict[tuple[str, str], int] = {}
    for item, plain in opened.items():
        owner = (item.case_id, subjects[item.subject_pk][1] if item.subject_pk is not None else "")
        if item.kind == "template":
            vector = np.frombuffer(plain, dtype="<f4")
            assert any(float(np.dot(vector, v)) > 0.999 for v in VECTORS[owner]), "not an enrolled template"
            tally[owner] = tally.get(owner, 0) + 1
        else:
            assert json.loads(plain)["plate"] == PLATES[owner]
            tally[(owner[0], f"plate:{owner[1]}")] = tally.get((owner[0], f"plate:{owner[1]}"), 0) + 1
    return tally


@pytest.mark.slow
def test_P3_P2_P18_purged_templates_cannot_be_decrypted_from_disk_or_backups(
    tmp_path: Path, backend: str
) -> None:
    data_dir, backup = tmp_path / "data", tmp_path / "backup"
    backup.mkdir()
    with running_server(data_dir, backend) as h:
        url = h.app.settings.database_url
        client = h.client
        for (case_id, subject_id), vectors in VECTORS.items():
            if subject_id == "a" or subject_id == "released":
                client.create_case(case_id, "Disk", reason="r")
            client.create_subject(case_id, subject_id, "suspect", reason="r")
            for vector in vectors:
                client.enroll_face(case_id, subject_id, vector, reason="r")
        for (case_id, subject_id), plate in PLATES.items():
            client.add_plate(case_id, plate, subject_id=subject_id, reason="r")
        subjects = _subjects(url)

        # The backup, taken before the purge.
        if backend == "sqlite":
            h.app.db.flush()
            for path in data_dir.glob("matcher.db*"):
                if not path.name.endswith("-shm"):
                    shutil.copy2(path, backup / path.name)
        else:
            _pg_dump(url, backup / "dump.sql")
        keys_before = _key_material(data_dir / "keys")

        client.close_case(CLOSED, reason="closed before trial")
        client.release_subject(KEPT, "released", reason="cleared")
        assert wait_until(
            lambda: len(client.list_purges()) == 2 and all(p.state == p.DONE for p in client.list_purges()),
            timeout=30,
        ), "the purges did not finish"
        receipts = h.audit("purge.receipt")
        assert sorted(r.resource for r in receipts) == [
            f"cases/{CLOSED}",
            f"cases/{KEPT}/subjects/released",
        ]
        # The service still serves what it kept, after the rotation.
        hits = client.search_faces([KEPT], VECTORS[(KEPT, "stays")][0], reason="r").results[0].matches
        assert hits and hits[0].subject.endswith("/stays")
        assert [p.plate for p in client.list_plates(KEPT)] == [PLATES[(KEPT, "")]]

    evidence = Evidence()
    if backend == "sqlite":
        evidence.add_rows(_sqlite_rows(backup / "matcher.db"))
    else:
        evidence.add_rows(_dump_rows(backup / "dump.sql"))
    in_backup = Evidence(set(evidence.wrapped), set(evidence.sealed))
    # The attack works: with the keys of the day, the backup opens entirely.
    before = _tally(attack(in_backup, keys_before), subjects)
    assert before == {
        (CLOSED, "a"): 2,
        (CLOSED, "b"): 1,
        (KEPT, "released"): 2,
        (KEPT, "stays"): 2,
        (CLOSED, "plate:"): 1,
        (KEPT, "plate:released"): 1,
        (KEPT, "plate:"): 1,
    }, before

    evidence.add_rows(_live_rows(url))
    if backend == "postgresql":
        # PostgreSQL's own files keep what DELETE removed: the purged wrapped keys are on disk.
        files = _pg_files(url)
        purged = {w.blob for w in in_backup.wrapped if w.scope[0] == CLOSED}
        on_disk = _found_in(purged, files)
        sealed = {s.ciphertext[:64] for s in in_backup.sealed if s.case_id == CLOSED}
        print(
            f"closed case in the data files and pg_wal: wrapped keys {len(on_disk)} of {len(purged)}, "
            f"ciphertexts {len(_found_in(sealed, files))} of {len(sealed)}"
        )
        live_rows = Evidence()
        live_rows.add_rows(_live_rows(url))
        live = {w.blob for w in live_rows.wrapped}
        assert _found_in(live, files) == live, "the scan must see the stored keys"
        evidence.wrapped |= {w for w in in_backup.wrapped if w.blob in on_disk}
    keys_after = _key_material(data_dir / "keys")
    after = _tally(attack(evidence, keys_after), subjects)
    print(f"{backend}: decrypted before the purge {before}; after the receipt {after}")
    purged_found = {k: n for k, n in after.items() if k[0] == CLOSED or "released" in k[1]}
    assert purged_found == {}, f"purged data decrypts from disk with the keys still held: {purged_found}"
    assert after == {(KEPT, "stays"): 2, (KEPT, "plate:"): 1}, "the live control must still decrypt"
