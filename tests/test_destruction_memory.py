"""P2/P3/P18: 5 s after a purge receipt, nothing of the purged case is left in the server's memory.

A real server process gets distinctive templates (by embedding, and one by photo) and plate
entries in two cases: one to purge, one that stays open (the live control). Half of the data is
sent before a restart, so that it comes back through the start-up rebuild (decrypted from the
database), half after, so that it arrives through enrolment; both cases are then searched and
checked with their own data (request buffers), listed (decryption for replies), and the first
case is closed. Five seconds after its purge receipt, ``/proc/PID/mem`` is scanned for every
form the purged data took: the raw float32 bytes as sent, the normalised vector, the photo as
sent and the vector the server computed from it, the template and plate ciphertexts, the wrapped
and the unwrapped data keys, and the plate texts as entered and normalised.

The control's normalised vectors (in the gallery) and normalised plates (in the plate index) are
matchable, so they must be found: a scanner that finds nothing proves nothing.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from lifecycle import models as m
from lifecycle.clock import ManualClock
from matcher.embeddings import parse_embedding
from matcher.faces import FacePipeline, synthetic
from matcher.keys import ScopeKeys
from matcher.v1 import cases_pb2
from tests import memscan
from tests.conftest import BACKENDS, START, database_url, wait_until
from tests.serverproc import ServerProcess

PURGED, LIVE = "gone-1", "live-1"
SUBJECTS = ("s-a", "s-b")
_ALPHABET = "ABCDEFGHJKMNPRTUVWXY3479"  # No look-alikes, so the normalised form is plain upper case.


def _raw(rng: np.random.Generator) -> np.ndarray:
    """A template as a client sends it: not unit length, so raw and normalised bytes differ."""
    return (3.0 * rng.standard_normal(512) + 0.5).astype("<f4")


def _normalised(raw: np.ndarray) -> np.ndarray:
    """The server's normalisation: matcher.embeddings.parse_embedding itself, on the bytes sent."""
    return parse_embedding(raw.astype("<f4").tobytes(), raw.shape[0]).astype("<f4")


def _plate(rng: np.random.Generator) -> str:
    chars = "".join(_ALPHABET[i] for i in rng.integers(0, len(_ALPHABET), 9))
    return f"{chars[:3]}-{chars[3:6]} {chars[6:]}"


def _keyring(kek_file: Path) -> Any:
    """The key-encryption key(s) as the server loads them, to unwrap the data keys it uses.

    Looked up by name: with the KEK rotation (matcher.kek) the ring is ``KekGenerations``, before
    it ``crypto.KeyRing``; both load from the same file and unwrap the same way.
    """
    try:
        return importlib.import_module("matcher.kek").KekGenerations.load(kek_file)
    except ModuleNotFoundError:
        return importlib.import_module("matcher.crypto").KeyRing.load(kek_file)


def _photo(seed: int) -> bytes:
    """A PNG scene with one synthetic face (the generated models find and embed it)."""
    image = np.full((640, 640, 3), 128, dtype=np.uint8)
    synthetic.paint(image, (320, 320), synthetic.face_texture(seed))
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return bytes(encoded.tobytes())


class Data:
    """The distinctive data of one case, and every form of it the scan looks for."""

    def __init__(self, case_id: str, seed: int, pipeline: FacePipeline) -> None:
        rng = np.random.default_rng(seed)
        self.case_id = case_id
        self.photo = _photo(seed)
        # The server embeds the photo with the same models and one thread: the same float32s.
        [face] = pipeline.embed_image(self.photo, purpose="enrol")
        self.needles = {
            "photo as sent": self.photo,
            "photo normalised vector": np.asarray(face.embedding, dtype="<f4").tobytes(),
        }
        self.templates = {subject: [_raw(rng), _raw(rng)] for subject in SUBJECTS}
        self.plates = [_plate(rng), _plate(rng)]  # One tied to a subject, one to the case.
        for subject, raws in self.templates.items():
            for n, raw in enumerate(raws):
                self.needles[f"raw {subject}#{n}"] = raw.tobytes()
                self.needles[f"normalised {subject}#{n}"] = _normalised(raw).tobytes()
        for n, plate in enumerate(self.plates):
            self.needles[f"plate as entered #{n}"] = plate.encode()
            self.needles[f"plate normalised #{n}"] = plate.replace("-", "").replace(" ", "").encode()

    def send(self, client, half: int) -> None:  # type: ignore[no-untyped-def]
        """Enrols the templates of one half and adds one plate (half 0 before the restart)."""
        if half == 0:
            client.create_case(self.case_id, "Memory canary", reason="r")
            for subject in SUBJECTS:
                client.create_subject(self.case_id, subject, "suspect", reason="r")
        for subject, raws in self.templates.items():
            client.enroll_face(self.case_id, subject, raws[half], reason="booking photo")
        if half == 1:
            client.enroll_face_photo(self.case_id, SUBJECTS[1], self.photo, reason="booking photo")
        subject = SUBJECTS[0] if half == 0 else ""
        client.add_plate(self.case_id, self.plates[half], subject_id=subject, note="blue van", reason="r")

    def use(self, client) -> None:  # type: ignore[no-untyped-def]
        """Searches and checks with the data itself, and lists it (replies carry plate texts)."""
        for raws in self.templates.values():
            for raw in raws:
                assert client.search_faces([self.case_id], raw, reason="still").results[0].matches
        [found] = client.search_faces_photo([self.case_id], self.photo, reason="still").results
        assert found.matches
        for plate in self.plates:
            assert client.check_plate(plate, case_ids=[self.case_id], reason="read").results
        assert len(client.list_plates(self.case_id)) == 2
        assert [len(client.list_face_templates(self.case_id, subject)) for subject in SUBJECTS] == [2, 3]

    def read_stored(self, url: str, kek_file: Path) -> None:
        """Adds the stored forms: ciphertexts and wrapped keys, and the keys they unwrap to."""
        engine = create_engine(url)
        keys = ScopeKeys(_keyring(kek_file), ManualClock(START))
        with engine.connect() as connection:
            for form, column, case in (
                ("template ciphertext", m.FaceTemplate.ciphertext, m.FaceTemplate.case_id),
                ("plate ciphertext", m.PlateEntry.ciphertext, m.PlateEntry.case_id),
                ("wrapped key", m.DataKey.wrapped, m.DataKey.case_id),
            ):
                stored = connection.execute(select(column).where(case == self.case_id)).scalars()
                for n, value in enumerate(stored):
                    self.needles[f"{form} #{n}"] = value
        with Session(engine) as session:
            self.needles["case key"] = keys.case_key(session, self.case_id, create=False)
            pks = session.scalars(select(m.Subject.pk).where(m.Subject.case_id == self.case_id)).all()
            for n, pk in enumerate(pks):
                self.needles[f"subject key #{n}"] = keys.subject_key(session, self.case_id, pk, create=False)
        engine.dispose()


def _assert_hardened(pid: int) -> None:
    """The server runs as ``matcher serve`` does: re-executed for the scrubbing allocator, no cores.

    (Whether glibc got its tunables the server itself logs: /proc/PID/environ shows the variable
    as glibc's parser left it in place, cut at the first colon.)
    """
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"PYTHONMALLOC=malloc" in environ
    assert any(item.startswith(b"GLIBC_TUNABLES=") for item in environ)
    [core] = [line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if "core" in line]
    assert core.split()[4:6] == ["0", "0"], core


def _table(purged: dict[str, int], live: dict[str, int]) -> str:
    lines = [f"{'form':<28} {'purged':>7} {'live':>7}"]
    lines += [f"{name:<28} {purged[name]:>7} {live.get(name, 0):>7}" for name in purged]
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_P3_P18_purged_case_is_gone_from_server_memory_5s_after_receipt(
    tmp_path: Path, backend: str, synthetic_face_models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    detector, recognizer = synthetic_face_models
    monkeypatch.setenv("MATCHER_FACE_DETECTOR", str(detector))
    monkeypatch.setenv("MATCHER_FACE_RECOGNIZER", str(recognizer))
    pipeline = FacePipeline(detector, recognizer)
    data_dir = tmp_path / "data"
    url = database_url(backend, data_dir)
    server = ServerProcess(data_dir, url, tmp_path / "clock", tmp_path / "server.log")
    server.set_clock(START)
    purged, live = Data(PURGED, seed=1801, pipeline=pipeline), Data(LIVE, seed=1802, pipeline=pipeline)
    server.start()
    try:
        server.wait_serving()
        assert server.process is not None
        why = memscan.unavailable_reason(server.process.pid)
        if why:
            pytest.skip(f"cannot scan the server's memory: {why}")
        _assert_hardened(server.process.pid)
        with server.client() as client:
            purged.send(client, 0)
            live.send(client, 0)
        server.stop()  # The first half comes back through the start-up rebuild.
        server.start()
        server.wait_serving()
        with server.client() as client:
            purged.send(client, 1)
            live.send(client, 1)
            purged.read_stored(url, data_dir / "keys" / "kek")
            live.read_stored(url, data_dir / "keys" / "kek")
            purged.use(client)
            live.use(client)
            client.close_case(PURGED, reason="charges filed")
            assert wait_until(
                lambda: all(p.state == cases_pb2.Purge.DONE for p in client.list_purges(PURGED)), timeout=30
            ), "the purge did not finish"
        time.sleep(5.0)
        assert server.process is not None
        scan_started, size = time.monotonic(), memscan.scanned_bytes(server.process.pid)
        found = memscan.count(
            server.process.pid,
            {
                **{("purged", k): v for k, v in purged.needles.items()},
                **{("live", k): v for k, v in live.needles.items()},
            },
        )
        found_purged = {name: found[("purged", name)] for name in purged.needles}
        found_live = {name: found[("live", name)] for name in live.needles}
    finally:
        server.stop()
    table = _table(found_purged, found_live)
    scanned = time.monotonic() - scan_started
    print(
        f"\n{backend}: occurrences in the server's memory 5 s after the receipt"
        f" ({size >> 20} MiB read in {scanned:.1f} s)\n{table}"
    )
    assert "memory: freed memory is scrubbed" in (tmp_path / "server.log").read_text()
    for name in live.needles:
        if name.startswith(("normalised", "plate normalised", "photo normalised")):
            assert found_live[name] > 0, f"the control's {name} was not found: the scan is blind\n{table}"
    leaked = {name: n for name, n in found_purged.items() if n}
    assert not leaked, f"purged data still in the server's memory: {leaked}\n{table}"
