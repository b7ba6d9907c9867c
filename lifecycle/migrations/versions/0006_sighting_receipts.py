"""Receipts of the sightings camera gateways reported by their own ids (issue 15).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

A gateway that lost its stream resends what the stream did not confirm; the receipt of each
``sighting_id`` (per principal) lets the service acknowledge a resent sighting without matching
it or alerting again. A receipt holds no face, camera or capture time (P7, P8) and is pruned
after a day.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sighting_receipts",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.String(length=128), nullable=False),
        sa.Column("sighting_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("principal_id", "sighting_id"),
    )
    op.create_index(
        op.f("ix_sighting_receipts_received_at"), "sighting_receipts", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sighting_receipts_received_at"), table_name="sighting_receipts")
    op.drop_table("sighting_receipts")
