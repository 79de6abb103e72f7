"""Initial schema: items, users, feedback, interactions, imports.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("item_id", sa.String(128), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("title_lower", sa.Text, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("user_id", sa.String(128), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("item_id", sa.String(128), sa.ForeignKey("items.item_id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_table(
        "interactions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(128), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("item_id", sa.String(128), sa.ForeignKey("items.item_id"), nullable=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("rating", sa.Float, nullable=True),
        sa.Column("feedback_id", BigId, sa.ForeignKey("feedback.id"), nullable=True),
    )
    op.create_index("ix_interactions_user_id_id", "interactions", ["user_id", "id"])
    op.create_table(
        "imports",
        sa.Column("dataset", sa.String(64), primary_key=True),
        sa.Column("n_items", sa.Integer, nullable=False),
        sa.Column("n_users", sa.Integer, nullable=False),
        sa.Column("n_interactions", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_interactions_user_id_id", table_name="interactions")
    for table in ("imports", "interactions", "feedback", "users", "items"):
        op.drop_table(table)
