"""Licences: plans, licences (key hash, status, expiry, trial) and activated machines.

Rows of ``plans`` come from ``plans.toml`` through ``coditect server seed``.

Revision ID: 0002_licences
Revises: 0001_accounts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_licences"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("entitlements", sa.JSON(), nullable=False),
        sa.Column("ai_operations_limit", sa.Integer(), nullable=True),
        sa.Column("ai_operations_period", sa.String(8), nullable=False),
        sa.Column("machine_limit", sa.Integer(), nullable=False),
        sa.Column("activations_per_day", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "ai_operations_period IN ('day', 'month')",
            name=op.f("ck_plans_ai_operations_period"),
        ),
        sa.CheckConstraint("machine_limit >= 1", name=op.f("ck_plans_machine_limit")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_plans")),
    )
    op.create_table(
        "licences",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("machine_limit", sa.Integer(), nullable=True),
        sa.Column("is_trial", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'expired', 'revoked')",
            name=op.f("ck_licences_status"),
        ),
        sa.CheckConstraint(
            "machine_limit IS NULL OR machine_limit >= 1", name=op.f("ck_licences_machine_limit")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_licences_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["plan_code"],
            ["plans.code"],
            name=op.f("fk_licences_plan_code_plans"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licences")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_licences_key_hash")),
    )
    op.create_index(op.f("ix_licences_user_id"), "licences", ["user_id"])
    op.create_index(
        "uq_licences_one_trial_per_user",
        "licences",
        ["user_id"],
        unique=True,
        sqlite_where=sa.text("is_trial"),
        postgresql_where=sa.text("is_trial"),
    )
    op.create_table(
        "machines",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("licence_id", sa.String(36), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("deactivated_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id"],
            ["licences.id"],
            name=op.f("fk_machines_licence_id_licences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
    )
    op.create_index(
        "uq_machines_active_fingerprint",
        "machines",
        ["licence_id", "fingerprint"],
        unique=True,
        sqlite_where=sa.text("deactivated_at IS NULL"),
        postgresql_where=sa.text("deactivated_at IS NULL"),
    )
    op.create_index("ix_machines_licence_id_created_at", "machines", ["licence_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_machines_licence_id_created_at", table_name="machines")
    op.drop_index("uq_machines_active_fingerprint", table_name="machines")
    op.drop_table("machines")
    op.drop_index("uq_licences_one_trial_per_user", table_name="licences")
    op.drop_index(op.f("ix_licences_user_id"), table_name="licences")
    op.drop_table("licences")
    op.drop_table("plans")
