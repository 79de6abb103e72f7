"""API keys: hashed in the store, scoped, revocable; who needs one under each policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from lmrec.models.classic.itemknn import ItemKNN
from lmrec.service import schema
from lmrec.service.api import create_app
from lmrec.service.engine import RecommendService
from lmrec.service.keys import AuthPolicy, create_key, revoke_key
from lmrec.service.store import Store
from service_helpers import ThreadServer, tiny_dataset


def running(tmp_path: Path, policy: AuthPolicy) -> tuple[ThreadServer, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    ds = tiny_dataset(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.import_dataset(ds)
    service = RecommendService(ds, ItemKNN().fit(ds.interactions), store, None, "itemknn")
    return ThreadServer(create_app(service, policy)), service


def click(key: str | None, n: int, header: str = "bearer") -> dict[str, Any]:
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
    body = {"user_id": "u1", "item_id": "60", "kind": "click", "idempotency_key": f"k{n}"}
    return {"json": body, "headers": headers, "timeout": 10}


def test_policies() -> None:
    assert AuthPolicy("auto", host="127.0.0.1").needs(write=True) is None
    assert AuthPolicy("auto", host="0.0.0.0").needs(write=True) == "write"
    assert AuthPolicy("auto", host="0.0.0.0").needs(write=False) is None
    assert AuthPolicy("required").needs(write=False) == "read"
    assert AuthPolicy("off", host="0.0.0.0").needs(write=True) is None


def test_required_keys_scopes_and_revocation(tmp_path: Path) -> None:
    server, service = running(tmp_path, AuthPolicy("required"))
    store = service.store
    read_key, _ = create_key(store, "read", "dashboard")
    write_key, write_record = create_key(store, "write", "ingest")
    url = server.url
    try:
        with store.engine.connect() as conn:
            stored = [r.key_hash for r in conn.execute(select(schema.api_keys))]
        assert read_key not in stored and write_key not in stored  # only hashes are kept
        assert httpx.get(f"{url}/health").status_code == 200  # health stays open
        ask = {"json": {"user_id": "u1", "k": 2}, "timeout": 10}
        no_key = httpx.post(f"{url}/recommend", **ask)
        assert no_key.status_code == 401 and "needs an API key with read scope" in no_key.text
        bad = httpx.post(f"{url}/recommend", headers={"X-API-Key": "lmrec_nope"}, **ask)
        assert bad.status_code == 401 and "unknown or revoked" in bad.text
        auth = {"Authorization": f"Bearer {read_key}"}
        assert httpx.post(f"{url}/recommend", headers=auth, **ask).status_code == 200
        assert httpx.get(f"{url}/users/u1", headers=auth).status_code == 200
        assert httpx.get(f"{url}/users/u1").status_code == 401
        low = httpx.post(f"{url}/feedback", **click(read_key, 1))
        assert low.status_code == 403 and "read scope" in low.text
        assert httpx.post(f"{url}/feedback", **click(write_key, 2, "x-api-key")).status_code == 200
        assert revoke_key(store, write_record.id)
        assert httpx.post(f"{url}/feedback", **click(write_key, 3)).status_code == 401
    finally:
        server.stop()
        service.close()


def test_auto_beyond_loopback_guards_writes_and_read_only_refuses_them(tmp_path: Path) -> None:
    server, service = running(tmp_path / "a", AuthPolicy("auto", host="0.0.0.0"))
    try:
        assert (
            httpx.post(f"{server.url}/recommend", json={"user_id": "u1", "k": 2}).status_code == 200
        )
        assert httpx.post(f"{server.url}/feedback", **click(None, 1)).status_code == 401
    finally:
        server.stop()
        service.close()
    server, service = running(tmp_path / "b", AuthPolicy("off", read_only=True))
    try:
        refused = httpx.post(f"{server.url}/feedback", **click(None, 2))
        assert refused.status_code == 403 and "read-only" in refused.text
    finally:
        server.stop()
        service.close()


def test_keys_from_the_cli(tmp_path: Path, shop_data: Path) -> None:
    from conftest import run_cli

    def keys(command: str) -> Any:
        return run_cli(shop_data, f"keys {command.replace('ml-100k', 'shop')}")

    store = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    created = keys(f"create -d ml-100k --scope write --label ci --store {store}")
    assert created.exit_code == 0, created.output
    key = next(line for line in created.output.splitlines() if line.startswith("lmrec_"))
    opened = Store.open(store)
    try:
        from lmrec.service.keys import key_scope

        assert key_scope(opened, key) == "write"
    finally:
        opened.close()
    listed = keys(f"list -d ml-100k --store {store}")
    assert "write" in listed.output and "ci" in listed.output
    assert keys(f"revoke -d ml-100k 1 --store {store}").exit_code == 0
    missing = keys(f"revoke -d ml-100k 9 --store {store}")
    assert missing.exit_code != 0 and "no API key with id 9" in missing.output
    assert keys(f"create -d ml-100k --scope root --store {store}").exit_code != 0
    assert keys(f"create -d ml-100k --scope admin --store {store}").exit_code == 0
    unknown = keys(f"create -d no-such-dataset --store {store}x")
    assert unknown.exit_code != 0 and "no-such-dataset" in unknown.output
    assert not (tmp_path / "keys.sqlitex").exists()  # an unknown dataset creates no store
    other = keys(f"list -d ml-100k --store sqlite:///{tmp_path / 'other.sqlite'}")
    assert other.exit_code == 0


@pytest.mark.parametrize("scope", ["read", "write"])
def test_create_key_records_its_scope(tmp_path: Path, scope: str) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        from lmrec.service.keys import key_scope

        key, record = create_key(store, scope)  # type: ignore[arg-type]
        assert record.scope == scope and key_scope(store, key) == scope
        assert key_scope(store, key + "x") is None
    finally:
        store.close()
