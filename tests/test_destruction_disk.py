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
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, make_url, text

from matcher import crypto
from tests.conftest import START, Harness, running_server, unit, wait_until


@dataclass(frozen=True)
class Wrapped:
    """A wrapped key with the associated data its scope gives it (which an attacker can read)."""

    aad: bytes
    blob: bytes


@dataclass(frozen=True)
class Sealed:
    """A template or plate entry ciphertext, its associated data, and whose it is."""

    kind: str  # template, plate or order-template
    owner: str  # the case, or "order:<id>"
    subject_pk: int | None
    aad: bytes
    nonce: bytes
    ciphertext: bytes


def _subject(value: object) -> int | None:
    return None if value is None else int(str(value))


@dataclass
class Evidence:
    wrapped: set[Wrapped] = field(default_factory=set)
    sealed: set[Sealed] = field(default_factory=set)

    def add_rows(self, tables: dict[str, list[dict[str, object]]]) -> None:
        for row in tables.get("data_keys", []):
            case_id, subject = str(row["case_id"]), _subject(row["subject_pk"])
            aad = (
                crypto.case_key_aad(case_id) if subject is None else crypto.subject_key_aad(case_id, subject)
            )
            self.wrapped.add(Wrapped(aad, _bytes(row["wrapped"])))
        for row in tables.get("order_keys", []):
            self.wrapped.add(
                Wrapped(f"matcher/v1/order-key/{row['order_id']}".encode(), _bytes(row["wrapped"]))
            )
        for row in tables.get("face_templates", []):
            case_id, subject = str(row["case_id"]), int(str(row["subject_pk"]))
            aad = crypto.template_aad(case_id, subject, str(row["id"]), str(row["model"]))
            self.sealed.add(
                Sealed("template", case_id, subject, aad, _bytes(row["nonce"]), _bytes(row["ciphertext"]))
            )
        for row in tables.get("plate_entries", []):
            case_id, subject = str(row["case_id"]), _subject(row["subject_pk"])
            aad = f"matcher/v1/plate-entry/{case_id}/{subject}/{row['id']}".encode()
            self.sealed.add(
                Sealed("plate", case_id, subject, aad, _bytes(row["nonce"]), _bytes(row["ciphertext"]))
            )
        for row in tables.get("order_templates", []):
            order_id = str(row["order_id"])
            aad = f"matcher/v1/order-template/{order_id}/{row['id']}/{row['model']}".encode()
            self.sealed.add(
                Sealed(
                    "order-template",
                    f"order:{order_id}",
                    None,
                    aad,
                    _bytes(row["nonce"]),
                    _bytes(row["ciphertext"]),
                )
            )


TABLES = ("data_keys", "face_templates", "plate_entries", "order_keys", "order_templates")


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


def attack(evidence: Evidence, keys: list[bytes]) -> dict[Sealed, bytes]:
    """Every ciphertext that some chain of the keys at hand opens, with its plaintext."""
    known = set(keys)
    grew = True
    while grew:
        grew = False
        for item in evidence.wrapped:
            for key in list(known):
                plain = _open(key, item.blob, item.aad)
                if plain is not None and plain not in known:
                    known.add(plain)
                    grew = True
    opened = {}
    for sealed in evidence.sealed:
        for key in known:
            try:
                opened[sealed] = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, sealed.aad)
                break
            except InvalidTag:
                continue
    return opened


# --- the test ---------------------------------------------------------------------------------

CLOSED, KEPT = "closed-case", "kept-case"
REVOKED, ACTIVE = "o-revoked", "o-active"
VECTORS = {
    (CLOSED, "a"): [unit(1801), unit(1802)],
    (CLOSED, "b"): [unit(1803)],
    (KEPT, "released"): [unit(1804), unit(1805)],
    (KEPT, "stays"): [unit(1806), unit(1807)],
    (f"order:{REVOKED}", "template"): [unit(1808)],
    (f"order:{ACTIVE}", "template"): [unit(1809)],
}
PLATES = {(CLOSED, ""): "CLOSE01", (KEPT, "released"): "RELSE02", (KEPT, ""): "KEEP003"}
EVERYTHING = {
    (CLOSED, "a"): 2,
    (CLOSED, "b"): 1,
    (KEPT, "released"): 2,
    (KEPT, "stays"): 2,
    (CLOSED, "plate:"): 1,
    (KEPT, "plate:released"): 1,
    (KEPT, "plate:"): 1,
    (f"order:{REVOKED}", "template"): 1,
    (f"order:{ACTIVE}", "template"): 1,
}
KEPT_ITEMS = {(KEPT, "stays"), (KEPT, "plate:"), (f"order:{ACTIVE}", "template")}


def _subjects(url: str) -> dict[int, tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT pk, case_id, subject_id FROM subjects")).all()
    finally:
        engine.dispose()
    return {int(pk): (str(case_id), str(subject_id)) for pk, case_id, subject_id in rows}


def _tally(opened: dict[Sealed, bytes], subjects: dict[int, tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Decrypted items per owner (case and subject id, or order), checked against what was stored."""
    tally: dict[tuple[str, str], int] = {}
    for item, plain in opened.items():
        subject = subjects[item.subject_pk][1] if item.subject_pk is not None else ""
        if item.kind == "plate":
            assert json.loads(plain)["plate"] == PLATES[(item.owner, subject)]
            owner = (item.owner, f"plate:{subject}")
        else:
            owner = (item.owner, subject or "template")
            vector = np.frombuffer(plain, dtype="<f4")
            assert any(float(np.dot(vector, v)) > 0.999 for v in VECTORS[owner]), "not a stored template"
        tally[owner] = tally.get(owner, 0) + 1
    return tally


def _purged_aad(aad: bytes, released_pk: int) -> bool:
    return any(
        part in aad
        for part in (
            f"/{CLOSED}".encode(),
            f"order-key/{REVOKED}".encode(),
            f"subject-key/{KEPT}/{released_pk}".encode(),
        )
    )


def _purged_item(item: Sealed, released_pk: int) -> bool:
    return item.owner in (CLOSED, f"order:{REVOKED}") or (
        item.owner == KEPT and item.subject_pk == released_pk
    )


def _store(h: Harness) -> None:
    """Two cases with subjects, templates and plates; two registered-individual orders."""
    client = h.client
    for (case_id, subject_id), vectors in VECTORS.items():
        if case_id.startswith("order:"):
            continue
        if subject_id in ("a", "released"):
            client.create_case(case_id, "Disk", reason="r")
        client.create_subject(case_id, subject_id, "suspect", reason="r")
        for vector in vectors:
            client.enroll_face(case_id, subject_id, vector, reason="r")
    for (case_id, subject_id), plate in PLATES.items():
        client.add_plate(case_id, plate, subject_id=subject_id, reason="r")
    admin, registry = h.as_("local-admin"), h.as_("local-registry")
    admin.create_camera("cam-1", description="camera", reason="installed")
    admin.create_zone("park", ["cam-1"], description="Park", reason="r")
    for order_id in (REVOKED, ACTIVE):
        registry.create_order(
            order_id,
            label=f"RI-{order_id}",
            legal_reference="Circuit Court order 26-PO-7",
            zones=["park"],
            start=START + timedelta(hours=1),
            end=START + timedelta(days=1),
            reason="protection order",
        )
        registry.enroll_order_face(order_id, VECTORS[(f"order:{order_id}", "template")][0], reason="r")


def _purges_done(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            states = list(connection.execute(text("SELECT state FROM purges")).scalars())
    finally:
        engine.dispose()
    return len(states) == 3 and set(states) == {"done"}


@pytest.mark.slow
def test_P2_P3_P5_P18_purged_templates_cannot_be_decrypted_from_disk_or_backups(
    tmp_path: Path, backend: str
) -> None:
    data_dir, backup = tmp_path / "data", tmp_path / "backup"
    backup.mkdir()
    with running_server(data_dir, backend) as h:
        url = h.app.settings.database_url
        client = h.client
        _store(h)
        subjects = _subjects(url)
        released_pk = next(pk for pk, owner in subjects.items() if owner == (KEPT, "released"))

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
        h.as_("local-registry").revoke_order(REVOKED, reason="order vacated")
        assert wait_until(lambda: _purges_done(url), timeout=30), "the purges did not finish"
        receipts = h.audit("purge.receipt")
        assert sorted(r.resource for r in receipts) == [
            f"cases/{CLOSED}",
            f"cases/{KEPT}/subjects/released",
            f"orders/{REVOKED}",
        ]
        # The service still serves what it kept, after the rotations.
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
    assert before == EVERYTHING, before

    live = Evidence()
    live.add_rows(_live_rows(url))
    evidence.wrapped |= live.wrapped
    evidence.sealed |= live.sealed
    if backend == "postgresql":
        # PostgreSQL's own files keep what DELETE removed: the purged wrapped keys are on disk.
        files = _pg_files(url)
        purged = {w.blob for w in in_backup.wrapped if _purged_aad(w.aad, released_pk)}
        on_disk = _found_in(purged, files)
        sealed = {s.ciphertext[:64] for s in in_backup.sealed if _purged_item(s, released_pk)}
        print(
            f"purged scopes in the data files and pg_wal: wrapped keys {len(on_disk)} of {len(purged)}, "
            f"ciphertexts {len(_found_in(sealed, files))} of {len(sealed)}"
        )
        assert on_disk, "the scan must find what DELETE left (or it proves nothing)"
        current = {w.blob for w in live.wrapped}
        assert _found_in(current, files) == current, "the scan must see the stored keys"
        evidence.wrapped |= {w for w in in_backup.wrapped if w.blob in on_disk}
    keys_after = _key_material(data_dir / "keys")
    after = _tally(attack(evidence, keys_after), subjects)
    print(f"{backend}: decrypted before the purge {before}; after the receipt {after}")
    purged_found = {k: n for k, n in after.items() if k not in KEPT_ITEMS}
    assert purged_found == {}, f"purged data decrypts from disk with the keys still held: {purged_found}"
    assert after == {k: EVERYTHING[k] for k in KEPT_ITEMS}, "the live control must still decrypt"
