"""Complaints received from the public (P17); the searches a P1 waiver allows outside any case
(P15): their key and templates, and the purge of such a search.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Written on the governance branch, which predates the migrations on main: on merge, this file
goes after main's head (``down_revision``), and ``lifecycle.schema.tables()`` imports
``lifecycle.search_models``. ``purges.waiver_id`` is a nullable column without a foreign key,
so that ``ADD COLUMN`` is all an existing database needs, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_complaints_received_at", "complaints", ["received_at"], unique=False)
    op.create_table(
        "waiver_keys",
        sa.Column("waiver_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["waiver_id"],
            ["waivers.id"],
        ),
        sa.PrimaryKeyConstraint("waiver_id"),
    )
    op.create_table(
        "waiver_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("waiver_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["waiver_id"],
            ["waivers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_waiver_templates_waiver_id"), "waiver_templates", ["waiver_id"], unique=False)
    op.add_column("purges", sa.Column("waiver_id", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_purges_waiver_id"), "purges", ["waiver_id"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("matcher's migrations go forward only: restore the backup taken before")
