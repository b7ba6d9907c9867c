"""Stored plate hits of camera gateways' reads, for the case's investigators (issue 17, P8/P9).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plate_hits",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=False),
        sa.Column("subject_pk", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["subject_pk"], ["subjects.pk"]),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("id"),
    )
    for column in ("case_id", "entry_id", "reference", "subject_pk"):
        op.create_index(op.f(f"ix_plate_hits_{column}"), "plate_hits", [column], unique=False)


def downgrade() -> None:
    raise NotImplementedError("matcher's migrations go forward only: restore the backup taken before")
