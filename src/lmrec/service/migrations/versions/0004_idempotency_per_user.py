"""Idempotency keys scoped per user: unique on (user_id, idempotency_key), not on the key alone,
so one user's key never collides with (or reveals) another's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# SQLite's constraint from 0001 has no name; this convention gives it one to drop it by. SQLite
# rebuilds the table; Store turns its foreign keys off around migrations and checks them after.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_name() -> str:
    sqlite = op.get_bind().dialect.name == "sqlite"
    return "uq_feedback_idempotency_key" if sqlite else "feedback_idempotency_key_key"


def upgrade() -> None:
    with op.batch_alter_table("feedback", naming_convention=NAMING) as batch:
        batch.drop_constraint(_old_name(), type_="unique")
        batch.create_unique_constraint("uq_feedback_user_key", ["user_id", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("feedback", naming_convention=NAMING) as batch:
        batch.drop_constraint("uq_feedback_user_key", type_="unique")
        batch.create_unique_constraint(_old_name(), ["idempotency_key"])
