"""API keys: shown once, stored hashed, rolled, disabled, deleted, expired; relay callers; bans."""

from __future__ import annotations

import datetime as dt

import openai
import pytest
from sqlalchemy import select, text

from chatnio_host.db.models.auth import ApiKey
from chatnio_host.testing import TestHost
from tests.auth.conftest import HostFactory, bearer, create_key, login, register, root_token


async def _user_with_key(host: TestHost, name: str = "alice", **key_fields: object) -> tuple[str, dict]:
    token = (await register(host.client, name, "secret123"))["token"]
    return token, await create_key(host.client, token, **key_fields)


async def test_created_key_works_once_shown(app_host: TestHost) -> None:
    token, created = await _user_with_key(app_host)
    key = created["key"]
    assert key.startswith("sk-")
    assert len(key) == 3 + 48
    assert created["masked_key"] == "sk-..." + key[-4:]

    probe = await app_host.client.get("/v1/_probe", headers=bearer(key))
    assert probe.status_code == 200
    assert probe.json()["key_id"] == created["id"]
    assert probe.json()["group"] == "normal"

    listed = (await app_host.client.get("/api/keys", headers=bearer(token))).json()
    assert [item["id"] for item in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert key not in str(listed)


async def test_keys_table_holds_no_full_key(app_host: TestHost) -> None:
    _, created = await _user_with_key(app_host)
    key = created["key"]
    async with app_host.db.session() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    dump = repr(rows)
    assert len(rows) == 1
    assert key not in dump
    assert key[3:] not in dump
    assert key[-4:] in dump


async def test_rolled_key_stops_old_at_once(app_host: TestHost) -> None:
    token, created = await _user_with_key(app_host)
    old_key = created["key"]
    assert (await app_host.client.get("/v1/_probe", headers=bearer(old_key))).status_code == 200

    rolled = await app_host.client.post(f"/api/keys/{created['id']}/roll", headers=bearer(token))
    assert rolled.status_code == 200
    new_key = rolled.json()["key"]
    assert new_key != old_key
    assert (await app_host.client.get("/v1/_probe", headers=bearer(old_key))).status_code == 401
    assert (await app_host.client.get("/v1/_probe", headers=bearer(new_key))).status_code == 200


async def test_disabled_then_deleted_key_refused(app_host: TestHost) -> None:
    token, created = await _user_with_key(app_host)
    key = created["key"]
    assert (await app_host.client.get("/v1/_probe", headers=bearer(key))).status_code == 200

    disabled = await app_host.client.patch(f"/api/keys/{created['id']}", json={"enabled": False}, headers=bearer(token))
    assert disabled.status_code == 200
    refused = await app_host.client.get("/v1/_probe", headers=bearer(key))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_disabled"

    await app_host.client.patch(f"/api/keys/{created['id']}", json={"enabled": True}, headers=bearer(token))
    assert (await app_host.client.get("/v1/_probe", headers=bearer(key))).status_code == 200

    deleted = await app_host.client.delete(f"/api/keys/{created['id']}", headers=bearer(token))
    assert deleted.status_code == 204
    assert (await app_host.client.get("/v1/_probe", headers=bearer(key))).status_code == 401
    assert (await app_host.client.get("/api/keys", headers=bearer(token))).json() == []


async def test_expired_key_refused(app_host: TestHost) -> None:
    token, created = await _user_with_key(app_host)
    past = await app_host.client.post(
        "/api/keys", json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"}, headers=bearer(token)
    )
    assert past.status_code == 400
    assert past.json()["error"]["param"] == "expires_at"

    async with app_host.db.transaction() as session:
        row = await session.get(ApiKey, created["id"])
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await app_host.ctx.services["auth"].keys.forget(row.key_hash)
    refused = await app_host.client.get("/v1/_probe", headers=bearer(created["key"]))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_expired"


async def test_allow_list_reaches_caller(app_host: TestHost) -> None:
    token, created = await _user_with_key(app_host, allowed_models=["gpt-4o", "gpt-4o-mini", "gpt-4o"])
    probe = (await app_host.client.get("/v1/_probe", headers=bearer(created["key"]))).json()
    assert probe["allowed_models"] == ["gpt-4o", "gpt-4o-mini"]

    await app_host.client.patch(f"/api/keys/{created['id']}", json={"allowed_models": None}, headers=bearer(token))
    probe = (await app_host.client.get("/v1/_probe", headers=bearer(created["key"]))).json()
    assert probe["allowed_models"] is None


async def test_other_users_key_not_found(app_host: TestHost) -> None:
    _, created = await _user_with_key(app_host, "alice")
    mallory = (await register(app_host.client, "mallory", "secret123"))["token"]
    for response in (
        await app_host.client.post(f"/api/keys/{created['id']}/roll", headers=bearer(mallory)),
        await app_host.client.patch(f"/api/keys/{created['id']}", json={"enabled": False}, headers=bearer(mallory)),
        await app_host.client.delete(f"/api/keys/{created['id']}", headers=bearer(mallory)),
    ):
        assert response.status_code == 404
    assert (await app_host.client.get("/v1/_probe", headers=bearer(created["key"]))).status_code == 200


async def test_relay_key_headers(app_host: TestHost) -> None:
    _, created = await _user_with_key(app_host)
    key = created["key"]
    assert (await app_host.client.get("/v1/_probe", headers={"x-api-key": key})).status_code == 200
    assert (await app_host.client.get("/v1/_probe", headers={"x-goog-api-key": key})).status_code == 200
    assert (await app_host.client.get("/v1beta/_probe", params={"key": key})).status_code == 200
    assert (await app_host.client.get("/v1/_probe", params={"key": key})).status_code == 401
    missing = await app_host.client.get("/v1/_probe")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_api_key"


async def test_relay_refuses_session_token(app_host: TestHost) -> None:
    token, created = await _user_with_key(app_host)
    refused = await app_host.client.get("/v1/_probe", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    dashboard = await app_host.client.get("/dashboard/_probe", headers=bearer(token))
    assert dashboard.status_code == 200
    assert dashboard.json()["key_id"] is None
    dashboard_key = await app_host.client.get("/dashboard/_probe", headers=bearer(created["key"]))
    assert dashboard_key.json()["key_id"] == created["id"]


async def test_web_api_refuses_api_key(app_host: TestHost) -> None:
    _, created = await _user_with_key(app_host)
    refused = await app_host.client.get("/api/auth/me", headers=bearer(created["key"]))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_not_accepted"


async def test_openai_sdk_gets_authentication_error(app_host: TestHost) -> None:
    client = openai.AsyncOpenAI(
        api_key="sk-" + "x" * 48, base_url="http://testserver/v1", http_client=app_host.client, max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        await client.get("/_probe", cast_to=object)
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"


async def test_ban_refuses_token_and_key(app_host: TestHost) -> None:
    token, created = await _user_with_key(app_host, "bob")
    admin = await root_token(app_host)
    assert (await app_host.client.get("/v1/_probe", headers=bearer(created["key"]))).status_code == 200
    bob_id = (await app_host.client.get("/api/auth/me", headers=bearer(token))).json()["id"]

    banned = await app_host.client.post(f"/api/admin/users/{bob_id}/ban", headers=bearer(admin))
    assert banned.status_code == 200
    me = await app_host.client.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 403
    assert "banned" in me.json()["error"]["message"]
    relay = await app_host.client.get("/v1/_probe", headers=bearer(created["key"]))
    assert relay.status_code == 403
    assert relay.json()["error"]["code"] == "account_banned"
    relogin = await app_host.client.post("/api/auth/login", json={"username": "bob", "password": "secret123"})
    assert relogin.status_code == 403

    await app_host.client.post(f"/api/admin/users/{bob_id}/unban", headers=bearer(admin))
    assert (await app_host.client.get("/v1/_probe", headers=bearer(created["key"]))).status_code == 200
    assert (await app_host.client.get("/api/auth/me", headers=bearer(token))).status_code == 401
    await login(app_host.client, "bob", "secret123")


async def test_ban_seen_by_second_replica(hosts: HostFactory) -> None:
    first = await hosts.start()
    second = await hosts.start()
    token = (await register(first.client, "bob", "secret123"))["token"]
    key = (await create_key(first.client, token))["key"]
    bob_id = (await first.client.get("/api/auth/me", headers=bearer(token))).json()["id"]

    # Both replicas have looked the key up, so both caches would hold it.
    assert (await first.client.get("/v1/_probe", headers=bearer(key))).status_code == 200
    assert (await second.client.get("/v1/_probe", headers=bearer(key))).status_code == 200
    assert (await second.client.get("/api/auth/me", headers=bearer(token))).status_code == 200

    admin = await root_token(first)
    assert (await first.client.post(f"/api/admin/users/{bob_id}/ban", headers=bearer(admin))).status_code == 200
    assert (await second.client.get("/v1/_probe", headers=bearer(key))).status_code == 403
    assert (await second.client.get("/api/auth/me", headers=bearer(token))).status_code == 403

    second_admin = await root_token(second)
    assert (await second.client.post(f"/api/admin/users/{bob_id}/unban", headers=bearer(second_admin))).status_code == 200
    assert (await first.client.get("/v1/_probe", headers=bearer(key))).status_code == 200


async def test_key_change_seen_by_second_replica(hosts: HostFactory) -> None:
    first = await hosts.start()
    second = await hosts.start()
    token = (await register(first.client, "carol", "secret123"))["token"]
    created = await create_key(first.client, token)
    assert (await second.client.get("/v1/_probe", headers=bearer(created["key"]))).status_code == 200
    await first.client.patch(f"/api/keys/{created['id']}", json={"enabled": False}, headers=bearer(token))
    assert (await second.client.get("/v1/_probe", headers=bearer(created["key"]))).status_code == 401
    async with second.db.session() as session:
        stored = await session.scalar(select(ApiKey).where(ApiKey.id == created["id"]))
    assert stored is not None and stored.enabled is False


async def test_key_use_recorded(app_host: TestHost) -> None:
    token, created = await _user_with_key(app_host)
    assert created["last_used_at"] is None
    assert (await app_host.client.get("/v1/_probe", headers=bearer(created["key"]))).status_code == 200
    await app_host.ctx.services["auth"].drain()
    listed = (await app_host.client.get("/api/keys", headers=bearer(token))).json()
    assert listed[0]["last_used_at"] is not None
