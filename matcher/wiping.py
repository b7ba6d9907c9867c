"""Zeroing of the mutable buffers that held a template, so that it is gone when they are (P3, P18).

A template passes through several numpy arrays and byte buffers between the wire and the gallery:
the raw float32 values, the normalised vector, the plaintext decrypted at start-up. Each is
zeroed as soon as it has served, not left for the allocator to reuse some day: whatever the
allocator does (see :mod:`matcher.process_memory` for what it is told), a zeroed buffer holds
nothing. Immutable ``bytes`` cannot be zeroed from Python, so the code avoids making them: the
start-up rebuild decrypts into a ``bytearray`` (:func:`decrypt_into`) and enrolment encrypts
from the array's own memory.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TAG_BYTES = 16


def wipe(*buffers: Any) -> None:
    """Overwrites each buffer with zeros in place (numpy arrays, bytearrays, writable memoryviews).

    A numpy array that does not own its memory is a view: the zeros reach the buffer it views.
    Read-only buffers (``bytes``, a frozen array) raise ``TypeError``: silently skipping them
    would promise a wipe that did not happen.
    """
    for buffer in buffers:
        if buffer is None:
            continue
        if isinstance(buffer, np.ndarray):
            if not buffer.flags.writeable:
                raise TypeError("a read-only array cannot be wiped")
            buffer[...] = 0
            continue
        view = memoryview(buffer)
        if view.readonly:
            raise TypeError(f"a read-only {type(buffer).__name__} cannot be wiped")
        if view.nbytes:
            ctypes.memset((ctypes.c_char * view.nbytes).from_buffer(view.cast("B")), 0, view.nbytes)
        view.release()


@contextmanager
def wiped(*buffers: Any) -> Iterator[None]:
    """Wipes the buffers when the block ends, however it ends."""
    try:
        yield
    finally:
        wipe(*buffers)


def decrypt_into(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytearray:
    """AES-256-GCM decryption into a ``bytearray`` the caller wipes (never an immutable copy)."""
    plain = bytearray(len(ciphertext) - TAG_BYTES)
    AESGCM(key).decrypt_into(nonce, ciphertext, aad, plain)
    return plain


def decrypt_vector(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> npt.NDArray[np.float32]:
    """A stored template decrypted into a float32 vector of its own; the plaintext buffer is
    zeroed before returning (the caller wipes the vector when done)."""
    plain = decrypt_into(key, nonce, ciphertext, aad)
    with wiped(plain):
        return np.frombuffer(plain, dtype="<f4").astype(np.float32)


def as_bytes(array: npt.NDArray[Any]) -> bytes:
    """The array's own memory, to encrypt from without copying it into an immutable ``bytes``.

    Typed as ``bytes`` for the callers (``AESGCM`` takes any buffer); it is a memoryview.
    """
    if not array.flags.c_contiguous:
        raise ValueError("only a contiguous array can be seen as bytes without a copy")
    return cast(bytes, array.data.cast("B"))
