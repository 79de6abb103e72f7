"""API keys for the service: created once (only their SHA-256 is stored), scoped read, write or
admin (each allows what the scopes below it do), revocable; and the policy that decides which
requests need one.

Policy (``--auth``): ``auto`` (the default) requires a write key for writes (``POST /feedback``)
when the server listens on anything but loopback, and leaves reads open; ``required`` needs a key
for every endpoint but ``/health`` (read scope for reads, write for writes, admin for
``/admin/*``); ``off`` needs none. Admin endpoints need an admin key under ``auto`` too, beyond
loopback.
``--read-only`` refuses every write. Keys come in ``Authorization: Bearer KEY`` or ``X-API-Key``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import insert, select, update

from lmrec.service import schema
from lmrec.service.errors import ServiceError
from lmrec.service.store import Store

Scope = Literal["read", "write", "admin"]
RANK = {"read": 0, "write": 1, "admin": 2}  # a key may do what its scope and the ones below allow
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


@dataclass(frozen=True)
class ApiKey:
    id: int
    scope: str
    label: str
    created_at: float
    revoked: bool


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: Store, scope: Scope, label: str = "") -> tuple[str, ApiKey]:
    """A new key (returned once, never stored) and its record."""
    if scope not in RANK:
        raise ValueError(f"scope must be read, write or admin, got {scope!r}")
    key = "lmrec_" + secrets.token_urlsafe(32)
    now = time.time()
    with store.engine.begin() as conn:
        row = conn.execute(
            insert(schema.api_keys).values(
                key_hash=_digest(key), scope=scope, label=label[:128], created_at=now, revoked=False
            )
        )
        primary = row.inserted_primary_key
        assert primary is not None
        key_id = int(primary[0])
    return key, ApiKey(key_id, scope, label[:128], now, False)


def list_keys(store: Store) -> list[ApiKey]:
    t = schema.api_keys
    with store.engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.id)).all()
    return [ApiKey(r.id, r.scope, r.label, r.created_at, r.revoked) for r in rows]


def revoke_key(store: Store, key_id: int) -> bool:
    t = schema.api_keys
    with store.engine.begin() as conn:
        done = conn.execute(update(t).where(t.c.id == key_id).values(revoked=True))
    return bool(done.rowcount)


def key_scope(store: Store, key: str) -> str | None:
    """The scope of a valid, unrevoked key; ``None`` otherwise."""
    t = schema.api_keys
    digest = _digest(key)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(t.c.key_hash, t.c.scope).where(t.c.key_hash == digest, t.c.revoked.is_(False))
        ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return str(row.scope)


@dataclass(frozen=True)
class AuthPolicy:
    """Which requests need a key. ``host`` is where the server listens."""

    mode: Literal["auto", "required", "off"] = "auto"
    read_only: bool = False
    host: str = "127.0.0.1"

    def needs(self, write: bool, admin: bool = False) -> Scope | None:
        """The scope a request needs, or ``None`` when it needs no key."""
        wanted: Scope = "admin" if admin else "write" if write else "read"
        if self.mode == "required":
            return wanted
        if self.mode == "auto" and (write or admin) and self.host not in LOOPBACK:
            return wanted
        return None

    def check(self, store: Store, write: bool, key: str | None, admin: bool = False) -> None:
        """Refuse (401 without a valid key, 403 with too small a scope or in read-only mode)."""
        if write and self.read_only:
            raise Forbidden("this service is read-only: feedback and items are not accepted")
        needed = self.needs(write, admin)
        if needed is None:
            return
        if not key:
            raise Unauthorized(
                f"this endpoint needs an API key with {needed} scope "
                "(Authorization: Bearer KEY or X-API-Key; create one with `lmrec keys create`)"
            )
        scope = key_scope(store, key)
        if scope is None:
            raise Unauthorized("unknown or revoked API key")
        if RANK.get(scope, -1) < RANK[needed]:
            raise Forbidden(f"this API key has {scope} scope; this endpoint needs {needed}")
