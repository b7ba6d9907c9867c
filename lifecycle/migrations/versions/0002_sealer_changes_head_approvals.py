"""Audit records sequenced by the database and chained by the sealer; the change feed; approvals
of department heads by the Mayor's designee.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

``audit_records`` gets an ``id`` primary key (the order of writing, from a database sequence) and
``seq``, ``prev_hash`` and ``hash`` become nullable (set by the sealer a bounded moment after the
write). The table is rebuilt with every row copied and ``id = seq``, so the first release's chain
keeps its order and its hashes and still verifies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

_COLUMNS = "at, actor, action, outcome, resource, reason, count, code, detail_json, prev_hash, hash"


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("origin", sa.String(length=36), nullable=False),
        sa.Column("tables", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_changes_origin"), "changes", ["origin"], unique=False)
    op.create_table(
        "head_approvals",
        sa.Column("principal_id", sa.String(length=128), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"]),
        sa.PrimaryKeyConstraint("principal_id"),
    )
    _rebuild_audit_records()


def _rebuild_audit_records() -> None:
    op.create_table(
        "audit_records_v2",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("resource", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="audit_records_v2_pkey"),
        sa.UniqueConstraint("seq", name="audit_records_seq_key"),
    )
    op.execute(
        f"INSERT INTO audit_records_v2 (id, seq, {_COLUMNS}) "
        f"SELECT seq, seq, {_COLUMNS} FROM audit_records ORDER BY seq"
    )
    op.drop_index(op.f("ix_audit_records_action"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_resource"), table_name="audit_records")
    op.drop_table("audit_records")
    op.rename_table("audit_records_v2", "audit_records")
    op.create_index(op.f("ix_audit_records_action"), "audit_records", ["action"], unique=False)
    op.create_index(op.f("ix_audit_records_resource"), "audit_records", ["resource"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        # The copied ids came from ``seq``: the sequence continues after them.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_records', 'id'), "
            "COALESCE((SELECT MAX(id) FROM audit_records), 0) + 1, false)"
        )


def downgrade() -> None:
    raise NotImplementedError("matcher's migrations go forward only: restore the backup taken before")
