"""Histories in event time: index interactions by (user_id, timestamp, id).

A feedback event carries its own timestamp; a user's history is ordered by it (insertion order
breaks ties), so an event sent late lands where it happened, not at the end.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_interactions_user_id_timestamp_id", "interactions", ["user_id", "timestamp", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_interactions_user_id_timestamp_id", table_name="interactions")
