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
    normalised: Vector = np.frombuffer(values, dtype="<f4").astype(np.float32)
    try:
        if not np.all(np.isfinite(normalised)):
            raise _invalid("EMBEDDING_NOT_FINITE", "the embedding holds NaN or infinite values")
        wide = normalised.astype(np.float64)
        with wiped(wide):
            norm = float(np.linalg.norm(wide))
        if norm == 0.0 or not np.isfinite(norm):
            raise _invalid("EMBEDDING_ZERO", "the embedding is all zeros: it has no direction to compare")
    except PolicyError:
        wipe(normalised)
        raise
    normalised /= norm  # In place: float32 divided by the norm as float32, no further copy.
    return normalised
