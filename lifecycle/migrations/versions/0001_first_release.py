"""The first release's schema (the baseline every later revision builds on).

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Instants are stored as naive UTC ``DATETIME``/``TIMESTAMP`` (``lifecycle.db.UtcDateTime`` maps
them); the DDL here is plain SQLAlchemy types so that this file never changes with the code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("resource", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(op.f("ix_audit_records_action"), "audit_records", ["action"], unique=False)
    op.create_index(op.f("ix_audit_records_resource"), "audit_records", ["resource"], unique=False)
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "disclosures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=False),
        sa.Column("recipient_kind", sa.String(length=64), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.String(length=64), nullable=False),
        sa.Column("legal_reference", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("includes_biometric", sa.Boolean(), nullable=False),
        sa.Column("basis_ends_at", sa.DateTime(), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("refusal_reason", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("packaged_at", sa.DateTime(), nullable=True),
        sa.Column("packaged_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_disclosures_case_id"), "disclosures", ["case_id"], unique=False)
    op.create_index("ix_disclosures_decided_at", "disclosures", ["decided_at"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("legal_reference", sa.Text(), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_orders_end_at"), "orders", ["end_at"], unique=False)
    op.create_index(op.f("ix_orders_state"), "orders", ["state"], unique=False)
    op.create_table(
        "principals",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("last_revalidated_at", sa.DateTime(), nullable=True),
        sa.Column("revalidated_by", sa.String(length=128), nullable=True),
        sa.Column("locked_at", sa.DateTime(), nullable=True),
        sa.Column("lock_reason", sa.Text(), nullable=True),
        sa.Column("unlocked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_principals_department"), "principals", ["department"], unique=False)
    op.create_table(
        "waivers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("reason_kind", sa.String(length=32), nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("granted_by_title", sa.String(length=64), nullable=False),
        sa.Column("mayor_approval", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_waivers_rule_scope", "waivers", ["rule", "scope"], unique=False)
    op.create_table(
        "zones",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=63), nullable=False),
        sa.Column("camera_id", sa.String(length=63), nullable=False),
        sa.Column("zones", sa.String(length=1000), nullable=False),
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_alerts_order_id"), "alerts", ["order_id"], unique=False)
    op.create_table(
        "auth_failures",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.String(length=128), nullable=True),
        sa.Column("presented_identity", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("peer", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_auth_failures_at", "auth_failures", ["at"], unique=False)
    op.create_index("ix_auth_failures_principal_at", "auth_failures", ["principal_id", "at"], unique=False)
    op.create_table(
        "case_assignments",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=False),
        sa.Column("assigned_by", sa.String(length=128), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("principal_id", "case_id"),
    )
    op.create_index(op.f("ix_case_assignments_case_id"), "case_assignments", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_case_assignments_principal_id"), "case_assignments", ["principal_id"], unique=False
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=False),
        sa.Column("authority_kind", sa.String(length=32), nullable=False),
        sa.Column("authority", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_legal_holds_case_id"), "legal_holds", ["case_id"], unique=False)
    op.create_table(
        "operator_zones",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.String(length=128), nullable=False),
        sa.Column("zone_id", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("principal_id", "zone_id"),
    )
    op.create_index(op.f("ix_operator_zones_principal_id"), "operator_zones", ["principal_id"], unique=False)
    op.create_table(
        "order_keys",
        sa.Column("order_id", sa.String(length=63), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "order_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=63), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_templates_order_id"), "order_templates", ["order_id"], unique=False)
    op.create_table(
        "order_zones",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=63), nullable=False),
        sa.Column("zone_id", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("order_id", "zone_id"),
    )
    op.create_index(op.f("ix_order_zones_order_id"), "order_zones", ["order_id"], unique=False)
    op.create_index(op.f("ix_order_zones_zone_id"), "order_zones", ["zone_id"], unique=False)
    op.create_table(
        "role_grants",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("granted_by", sa.String(length=128), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("principal_id", "role"),
    )
    op.create_index(op.f("ix_role_grants_principal_id"), "role_grants", ["principal_id"], unique=False)
    op.create_table(
        "subjects",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=63), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("case_id", "subject_id"),
    )
    op.create_index(op.f("ix_subjects_case_id"), "subjects", ["case_id"], unique=False)
    op.create_table(
        "zone_cameras",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("zone_id", sa.String(length=63), nullable=False),
        sa.Column("camera_id", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("zone_id", "camera_id"),
    )
    op.create_index(op.f("ix_zone_cameras_camera_id"), "zone_cameras", ["camera_id"], unique=False)
    op.create_index(op.f("ix_zone_cameras_zone_id"), "zone_cameras", ["zone_id"], unique=False)
    op.create_table(
        "alert_acks",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("principal_id", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("alert_id", "principal_id"),
    )
    op.create_index(op.f("ix_alert_acks_alert_id"), "alert_acks", ["alert_id"], unique=False)
    op.create_table(
        "data_keys",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=False),
        sa.Column("subject_pk", sa.Integer(), nullable=True),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subject_pk"],
            ["subjects.pk"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("case_id", "subject_pk"),
    )
    op.create_index(op.f("ix_data_keys_case_id"), "data_keys", ["case_id"], unique=False)
    op.create_table(
        "face_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=False),
        sa.Column("subject_pk", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subject_pk"],
            ["subjects.pk"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_face_templates_case_id"), "face_templates", ["case_id"], unique=False)
    op.create_index(op.f("ix_face_templates_subject_pk"), "face_templates", ["subject_pk"], unique=False)
    op.create_table(
        "plate_entries",
        sa.Column("index_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=False),
        sa.Column("subject_pk", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subject_pk"],
            ["subjects.pk"],
        ),
        sa.PrimaryKeyConstraint("index_id"),
        sa.UniqueConstraint("id"),
    )
    op.create_index(op.f("ix_plate_entries_case_id"), "plate_entries", ["case_id"], unique=False)
    op.create_index(op.f("ix_plate_entries_subject_pk"), "plate_entries", ["subject_pk"], unique=False)
    op.create_table(
        "purges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=63), nullable=True),
        sa.Column("subject_pk", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.String(length=63), nullable=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("face_template_count", sa.Integer(), nullable=False),
        sa.Column("plate_entry_count", sa.Integer(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subject_pk"],
            ["subjects.pk"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_purges_case_id"), "purges", ["case_id"], unique=False)
    op.create_index(op.f("ix_purges_order_id"), "purges", ["order_id"], unique=False)
    op.create_index("ix_purges_state", "purges", ["state"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("matcher's migrations go forward only: restore the backup taken before")
