"""Validation of embeddings received over the wire.

An embedding that is not finite, of the wrong dimension, or all zeros cannot be compared
meaningfully; storing or searching it would produce phantom or missed matches, so it is refused
with INVALID_ARGUMENT before anything is touched.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lifecycle.errors import Kind, PolicyError
from matcher.wiping import wipe, wiped

Vector = npt.NDArray[np.float32]


def _invalid(reason: str, message: str) -> PolicyError:
    return PolicyError(Kind.INVALID_ARGUMENT, reason, message)


def parse_embedding(values: bytes, dim: int) -> Vector:
    """Little-endian float32 bytes to an L2-normalised vector of the model's dimension."""
    if len(values) != 4 * dim:
        got = f"{len(values) / 4:g} values" if len(values) % 4 == 0 else f"{len(values)} bytes"
        raise _invalid(
            "EMBEDDING_WRONG_DIMENSION",
            f"the embedding has {got}; this model's embeddings have {dim} float32 values "
            f"({4 * dim} bytes, little-endian)",
        )
    # Every copy of the raw values is zeroed before returning (matcher.wiping); the normalised
    # vector is the caller's to wipe once enrolled or searched.
    raw = np.frombuffer(values, dtype="<f4").astype(np.float32)
    # In float64 throughout: the norm of float32 values near their maximum (512 x 3e38) is above
    # float32's range, and dividing a float32 array by it would cast the norm to inf and store an
    # all-zero template that then answers every search at score 0 (issue 17).
    wide = raw.astype(np.float64)
    with wiped(raw, wide):
        if not np.all(np.isfinite(raw)):
            raise _invalid("EMBEDDING_NOT_FINITE", "the embedding holds NaN or infinite values")
        norm = float(np.linalg.norm(wide))
        if norm == 0.0:
            raise _invalid("EMBEDDING_ZERO", "the embedding is all zeros: it has no direction to compare")
        np.divide(wide, norm, out=wide)
        normalised: Vector = wide.astype(np.float32)
    length = float(np.linalg.norm(normalised.astype(np.float64)))
    if not np.isfinite(length) or abs(length - 1.0) > 1e-3:
        # Unreachable for finite float32 input in float64, kept so that no path can ever store a
        # template without a direction.
        wipe(normalised)
        raise _invalid(
            "EMBEDDING_ZERO", "the embedding is not finite or has no direction after normalisation"
        )
    return normalised
