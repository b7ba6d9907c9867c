"""The interface through which the policy tells holders of derived copies that data must go.

``lifecycle`` decides; whoever keeps copies outside the database (the in-memory FAISS indexes of
``matcher``) implements this protocol and registers with :class:`lifecycle.cases.Lifecycle`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class PurgeListener(Protocol):
    def revoking(self) -> AbstractContextManager[None]:
        """Held around the commit that ends a legal basis and the ``basis_ended`` call after it.

        A listener that blocks its searches while this is held makes revocation atomic with
        respect to matching: a search either finished before the commit or cannot see the data.
        A listener whose searches confirm every hit against the system of record after the index
        answered may block nothing here (the face galleries, :mod:`matcher.face_matching`): then
        the commit does not wait on its searches, nor its searches on the commit's flush.
        """
        ...

    def basis_ended(self, case_id: str, subject_pk: int | None) -> None:
        """Drops every in-memory copy of the case's (or one subject's) data. Must be idempotent."""
        ...
