"""P18: the wiping helpers zero what they are given, and the service's process scrubs freed memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from matcher import crypto, process_memory, wiping
from matcher.embeddings import parse_embedding


def test_P18_wipe_zeroes_arrays_views_bytearrays_and_memoryviews() -> None:
    array = np.arange(1, 513, dtype=np.float32)
    base = np.arange(1, 9, dtype=np.float64)
    buffer = bytearray(b"template bytes")
    view_owner = bytearray(b"0123456789")
    wiping.wipe(array, base[2:5], buffer, memoryview(view_owner)[3:], None)
    assert not array.any()
    assert base.tolist() == [1, 2, 0, 0, 0, 6, 7, 8]  # A view's zeros reach the viewed buffer.
    assert buffer == bytearray(len(b"template bytes"))
    assert view_owner == bytearray(b"012\0\0\0\0\0\0\0")


def test_P18_wipe_refuses_what_it_cannot_zero() -> None:
    frozen = np.ones(4, dtype=np.float32)
    frozen.flags.writeable = False
    with pytest.raises(TypeError):
        wiping.wipe(b"immutable")
    with pytest.raises(TypeError):
        wiping.wipe(frozen)


def test_P18_wiped_zeroes_when_the_block_raises() -> None:
    vector = np.ones(8, dtype=np.float32)
    with pytest.raises(RuntimeError), wiping.wiped(vector):
        raise RuntimeError("the enrolment failed")
    assert not vector.any()


def test_P18_decrypt_into_gives_a_wipeable_buffer_and_as_bytes_encrypts_without_a_copy() -> None:
    key = bytes(range(32))
    vector = np.linspace(-1, 1, 512, dtype="<f4")
    nonce, ciphertext = crypto.encrypt(key, wiping.as_bytes(vector), b"aad")
    plain = wiping.decrypt_into(key, nonce, ciphertext, b"aad")
    assert isinstance(plain, bytearray)
    assert np.array_equal(np.frombuffer(plain, dtype="<f4"), vector)
    wiping.wipe(plain)
    assert plain == bytearray(4 * 512)
    seen = wiping.as_bytes(vector)
    vector[0] = 7.0
    assert bytes(seen[:4]) == np.float32(7.0).tobytes()  # The array's own memory, not a copy.
    with pytest.raises(ValueError):
        wiping.as_bytes(np.ones((4, 4), dtype=np.float32)[:, 1])


def test_P18_parse_embedding_normalises_exactly_in_float64_while_wiping_its_copies() -> None:
    raw = (3.0 * np.random.default_rng(7).standard_normal(512) + 0.5).astype("<f4")
    wide = raw.astype(np.float64)
    expected = (wide / float(np.linalg.norm(wide))).astype(np.float32)
    assert np.array_equal(parse_embedding(raw.tobytes(), 512), expected)


def test_P18_scrubbing_environment_adds_the_settings_and_keeps_others() -> None:
    env = process_memory.scrubbing_environment({"GLIBC_TUNABLES": "glibc.malloc.perturb=1:glibc.x=2"})
    assert env is not None
    assert env["PYTHONMALLOC"] == "malloc"
    assert env["GLIBC_TUNABLES"] == "glibc.x=2:glibc.malloc.perturb=255:glibc.malloc.tcache_count=0"
    assert process_memory.scrubbing_environment(env) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tunables and prctl are Linux's")
def test_P18_the_process_re_executes_once_with_the_scrubbing_allocator_and_hardens() -> None:
    code = textwrap.dedent(
        """
        import ctypes, os, resource
        from matcher import process_memory
        process_memory.reexec_scrubbed()
        measures = process_memory.harden()
        print(os.environ["PYTHONMALLOC"], os.environ["GLIBC_TUNABLES"], os.environ["MATCHER_SCRUB_REEXEC"])
        print(process_memory.scrub_status()[0], resource.getrlimit(resource.RLIMIT_CORE))
        print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE
        """
    )
    env = {"PATH": "/usr/bin:/bin", "GLIBC_TUNABLES": "", "PYTHONPATH": "."}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    first, second, third = done.stdout.splitlines()
    assert first == "malloc glibc.malloc.perturb=255:glibc.malloc.tcache_count=0 1"
    assert second == "True (0, 0)"
    assert third == "0"
