"""Items at runtime and model swaps: items gain ``source``, ``fields``, ``retired`` and
``updated_at``; ``item_changes`` logs every runtime put or retire; ``model_swaps`` records the
checkpoints every service process is asked to swap in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="dataset")
        )
        batch.add_column(sa.Column("fields", sa.Text, nullable=True))
        batch.add_column(
            sa.Column("retired", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("updated_at", sa.Float, nullable=True))
    op.create_table(
        "item_changes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(128), sa.ForeignKey("items.item_id"), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_table(
        "model_swaps",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("checkpoint", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_swaps")
    op.drop_table("item_changes")
    with op.batch_alter_table("items") as batch:
        for column in ("updated_at", "retired", "fields", "source"):
            batch.drop_column(column)
