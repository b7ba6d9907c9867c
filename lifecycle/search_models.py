"""Tables of the searches a waiver allows outside any case (P1, P15): their key and templates.

A Director's waiver of P1 for ``searches/<id>`` (a missing person, a life in danger) is a scope of
its own, like a case or an order: a data key wrapped by the key-encryption key, templates
encrypted under it, a gallery scope. All of it is destroyed by the durable purge when the waiver
ends or is revoked (``lifecycle.waiver_searches``), whatever else happens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.db import Base, UtcDateTime


class WaiverKey(Base):
    __tablename__ = "waiver_keys"

    waiver_id: Mapped[str] = mapped_column(ForeignKey("waivers.id"), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WaiverTemplate(Base):
    """A face enrolled for a waiver's search: who is sought is named by a label, never more."""

    __tablename__ = "waiver_templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    waiver_id: Mapped[str] = mapped_column(ForeignKey("waivers.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int]
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
