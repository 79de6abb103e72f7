"""The service's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create them.

- ``items``: the catalogue (id, display title, lower-cased title for search); ``source`` says
  whether the dataset or the running service added it, ``fields`` holds a runtime item's catalogue
  fields (JSON), ``retired`` items are never recommended again (histories keep them).
- ``item_changes``: every runtime put or retire, in order: each service process replays the rows
  after the last one it applied (how ``--workers`` processes learn of an item added in another).
- ``model_swaps``: checkpoints an operator (or the retrainer) asked every process to swap in.
- ``users``: every user with a history, from the dataset or first seen in feedback.
- ``interactions``: each user's history, read in event time (``timestamp``, then ``id``). Dataset
  rows are imported once, feedback rows are appended in the same transaction as their
  ``feedback`` row.
- ``feedback``: the event log as received (kind, value, client timestamp), one row per user and
  idempotency key (keys are scoped per user).
- ``imports``: which dataset the store holds, written in the import transaction.
- ``api_keys``: hashed API keys with their scope (read | write); a key is shown once, at creation.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

# SQLite makes only INTEGER PRIMARY KEY an auto-incrementing rowid; elsewhere 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

items = Table(
    "items",
    metadata,
    Column("item_id", String(128), primary_key=True),
    Column("title", Text, nullable=False),
    Column("title_lower", Text, nullable=False),
    Column("source", String(16), nullable=False, server_default="dataset"),
    Column("fields", Text, nullable=True),
    Column("retired", Boolean, nullable=False, server_default=false()),
    Column("updated_at", Float, nullable=True),
)

item_changes = Table(
    "item_changes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("item_id", String(128), ForeignKey("items.item_id"), nullable=False),
    Column("action", String(8), nullable=False),  # put | retire
    Column("at", Float, nullable=False),
)

model_swaps = Table(
    "model_swaps",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("checkpoint", Text, nullable=False),
    Column("source", String(16), nullable=False),  # reload | watch | retrain
    Column("requested_at", Float, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("source", String(16), nullable=False),  # dataset | feedback
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(128), nullable=False),
    Column("user_id", String(128), ForeignKey("users.user_id"), nullable=False),
    Column("item_id", String(128), ForeignKey("items.item_id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Float, nullable=True),
    Column("timestamp", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    UniqueConstraint("user_id", "idempotency_key", name="uq_feedback_user_key"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", String(128), ForeignKey("users.user_id"), nullable=False),
    Column("item_id", String(128), ForeignKey("items.item_id"), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("rating", Float, nullable=True),
    Column("feedback_id", BigId, ForeignKey("feedback.id"), nullable=True),
    Index("ix_interactions_user_id_id", "user_id", "id"),
    Index("ix_interactions_user_id_timestamp_id", "user_id", "timestamp", "id"),
)

imports = Table(
    "imports",
    metadata,
    Column("dataset", String(64), primary_key=True),
    Column("n_items", Integer, nullable=False),
    Column("n_users", Integer, nullable=False),
    Column("n_interactions", Integer, nullable=False),
    Column("imported_at", Float, nullable=False),
    Column("content_hash", String(64), nullable=True),  # lmrec.data.identity; null: before 0006
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex; the key is not kept
    Column("scope", String(8), nullable=False),  # read | write
    Column("label", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False),
)
