"""Emergencies declared by the Director of Health or Human Services, and the zones they cover (P6).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Two new tables; nothing existing changes. (If another branch also adds a revision after 0002,
chain one after the other: set this one's ``down_revision`` to that revision.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emergencies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("declared_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_emergencies_end_at", "emergencies", ["end_at"], unique=False)
    op.create_table(
        "emergency_zones",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("emergency_id", sa.String(length=32), nullable=False),
        sa.Column("zone_id", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index(
        op.f("ix_emergency_zones_emergency_id"), "emergency_zones", ["emergency_id"], unique=False
    )
    op.create_index(op.f("ix_emergency_zones_zone_id"), "emergency_zones", ["zone_id"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("matcher's migrations go forward only: restore the backup taken before")
