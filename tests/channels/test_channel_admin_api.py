"""The channel admin API over HTTP, as the admin UI calls it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from chatnio_host.db.models.user import ROLE_USER
from chatnio_host.testing import TestHost

from conftest import Upstream  # type: ignore[import-not-found]

BASE = "/api/admin/channels"


def channel_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "fake one",
        "type": "fake",
        "endpoint": "http://127.0.0.1:9/",
        "keys": "key-one-1111\nkey-two-2222",
        "models": ["m1", "m2"],
    }
    body.update(fields)
    return body


async def test_create_get_list_masked(channel_host: TestHost, admin: dict[str, str]) -> None:
    created = await channel_host.client.post(BASE, json=channel_body(), headers=admin)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["endpoint"] == "http://127.0.0.1:9"
    assert [key["masked"] for key in data["keys"]] == ["****1111", "****2222"]
    assert "key-one-1111" not in created.text

    got = await channel_host.client.get(f"{BASE}/{data['id']}", headers=admin)
    assert got.status_code == 200
    assert got.json()["served_models"] == ["m1", "m2"]
    assert "key-two-2222" not in got.text

    listed = await channel_host.client.get(BASE, headers=admin)
    assert [item["id"] for item in listed.json()] == [data["id"]]
    assert "key-one" not in listed.text


async def test_non_admin_forbidden(channel_host: TestHost) -> None:
    auth = channel_host.ctx.services["auth"]
    async with channel_host.ctx.db.transaction() as session:
        user = await auth.create_user(session, username="alice", password="alice-password-1", role=ROLE_USER)
    token = await auth.issue_token(user)
    response = await channel_host.client.get(BASE, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    anonymous = await channel_host.client.get(BASE)
    assert anonymous.status_code == 401


async def test_unknown_type_400(channel_host: TestHost, admin: dict[str, str]) -> None:
    response = await channel_host.client.post(BASE, json=channel_body(type="nope"), headers=admin)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "type"
    assert "fake" in error["message"]


async def test_mapping_cycle_400(channel_host: TestHost, admin: dict[str, str]) -> None:
    response = await channel_host.client.post(
        BASE, json=channel_body(mapping={"a": "b", "b": "c", "c": "b"}), headers=admin
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "mapping"
    assert "cycle" in response.json()["error"]["message"]


async def test_settings_schema_400(channel_host: TestHost, admin: dict[str, str]) -> None:
    response = await channel_host.client.post(BASE, json=channel_body(settings={"timeout": 0}), headers=admin)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "settings.timeout"


async def test_empty_keys_400(channel_host: TestHost, admin: dict[str, str]) -> None:
    response = await channel_host.client.post(BASE, json=channel_body(keys="\n  \n"), headers=admin)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "keys"


async def test_update_enable_disable_delete(channel_host: TestHost, admin: dict[str, str]) -> None:
    channel_id = (await channel_host.client.post(BASE, json=channel_body(), headers=admin)).json()["id"]

    updated = await channel_host.client.put(
        f"{BASE}/{channel_id}", json={"priority": 5, "weight": 0, "mapping": "alias>m1"}, headers=admin
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["priority"] == 5
    assert updated.json()["served_models"] == ["m1", "m2", "alias"]
    assert [key["masked"] for key in updated.json()["keys"]] == ["****1111", "****2222"]

    disabled = await channel_host.client.post(f"{BASE}/{channel_id}/disable", headers=admin)
    assert disabled.json()["enabled"] is False
    assert await channel_host.ctx.services["channels"].models_for("normal") == []
    enabled = await channel_host.client.post(f"{BASE}/{channel_id}/enable", headers=admin)
    assert enabled.json()["enabled"] is True
    assert await channel_host.ctx.services["channels"].models_for("normal") == ["m1", "m2", "alias"]

    key_off = await channel_host.client.post(f"{BASE}/{channel_id}/keys/1/disable", headers=admin)
    assert [key["enabled"] for key in key_off.json()["keys"]] == [True, False]

    deleted = await channel_host.client.delete(f"{BASE}/{channel_id}", headers=admin)
    assert deleted.status_code == 204
    missing = await channel_host.client.get(f"{BASE}/{channel_id}", headers=admin)
    assert missing.status_code == 404


async def test_proxy_password_masked(channel_host: TestHost, admin: dict[str, str]) -> None:
    body = channel_body(proxy="socks5://user:hunter2@127.0.0.1:1080")
    data = (await channel_host.client.post(BASE, json=body, headers=admin)).json()
    assert data["proxy"] == "socks5://user:****@127.0.0.1:1080"
    resaved = await channel_host.client.put(f"{BASE}/{data['id']}", json={"proxy": data["proxy"]}, headers=admin)
    assert resaved.json()["proxy"] == "socks5://user:****@127.0.0.1:1080"
    [candidate] = await channel_host.ctx.services["channels"].candidates("m1", "normal")
    assert candidate.proxy == "socks5://user:hunter2@127.0.0.1:1080"


async def test_channel_test_stores_result(channel_host: TestHost, admin: dict[str, str], upstream: Upstream) -> None:
    body = channel_body(endpoint=upstream.url, keys="good\nbroken-key-9999", mapping="m1>up-model")
    channel_id = (await channel_host.client.post(BASE, json=body, headers=admin)).json()["id"]
    await channel_host.client.post(f"{BASE}/{channel_id}/keys/1/disable", headers=admin)

    response = await channel_host.client.post(f"{BASE}/{channel_id}/test", json={}, headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ok"] is True
    assert result["model"] == "m1"
    assert result["latency_ms"] >= 0
    assert [key["index"] for key in result["keys"]] == [0, 1]
    assert result["keys"][1]["ok"] is False
    assert result["keys"][1]["enabled"] is False
    assert upstream.requests[0].model == "up-model"

    shown = (await channel_host.client.get(f"{BASE}/{channel_id}", headers=admin)).json()
    assert shown["last_test"]["ok"] is True
    assert shown["last_test"]["latency_ms"] is not None
    assert shown["keys"][1]["last_error"] == "invalid key broken-key-9999"


async def test_channel_test_failure_stored(channel_host: TestHost, admin: dict[str, str], upstream: Upstream) -> None:
    upstream.status_for_all = 500
    channel_id = (
        await channel_host.client.post(BASE, json=channel_body(endpoint=upstream.url, keys="good"), headers=admin)
    ).json()["id"]
    result = (await channel_host.client.post(f"{BASE}/{channel_id}/test", headers=admin)).json()
    assert result["ok"] is False
    assert result["message"] == "upstream is down"
    shown = (await channel_host.client.get(f"{BASE}/{channel_id}", headers=admin)).json()
    assert shown["last_test"]["ok"] is False
    assert shown["last_test"]["message"] == "upstream is down"


async def test_fetch_template_clear_models(channel_host: TestHost, admin: dict[str, str], upstream: Upstream) -> None:
    channel_id = (
        await channel_host.client.post(BASE, json=channel_body(endpoint=upstream.url, keys="good"), headers=admin)
    ).json()["id"]

    preview = await channel_host.client.post(f"{BASE}/{channel_id}/models/fetch", json={"mode": "preview"}, headers=admin)
    assert preview.json()["upstream_models"] == ["up-1", "up-2"]
    assert preview.json()["channel"]["models"] == ["m1", "m2"]

    merged = await channel_host.client.post(f"{BASE}/{channel_id}/models/fetch", json={"mode": "merge"}, headers=admin)
    assert merged.json()["channel"]["models"] == ["m1", "m2", "up-1", "up-2"]

    fetched = await channel_host.client.post(f"{BASE}/{channel_id}/models/fetch", headers=admin)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["channel"]["models"] == ["up-1", "up-2"]
    assert await channel_host.ctx.services["channels"].models_for("normal") == ["up-1", "up-2"]

    template = await channel_host.client.post(f"{BASE}/{channel_id}/models/template", headers=admin)
    assert template.json()["models"] == ["fake-small", "fake-large"]

    cleared = await channel_host.client.delete(f"{BASE}/{channel_id}/models", headers=admin)
    assert cleared.json()["models"] == []
    assert await channel_host.ctx.services["channels"].models_for("normal") == []


async def test_channel_types_listed(channel_host: TestHost, admin: dict[str, str]) -> None:
    response = await channel_host.client.get("/api/admin/channel-types", headers=admin)
    fake = next(item for item in response.json() if item["name"] == "fake")
    assert fake["template_models"] == ["fake-small", "fake-large"]
    assert fake["settings_schema"]["properties"]["region"]["enum"] == ["us", "eu"]


async def test_strict_tiers_setting_roundtrip(channel_host: TestHost, admin: dict[str, str]) -> None:
    url = "/api/admin/settings/channels"
    assert (await channel_host.client.get(url, headers=admin)).json() == {"strict_tiers": False, "key_recheck_minutes": 0}
    put = await channel_host.client.put(url, json={"strict_tiers": True, "key_recheck_minutes": 30}, headers=admin)
    assert put.status_code == 200
    assert (await channel_host.client.get(url, headers=admin)).json() == {"strict_tiers": True, "key_recheck_minutes": 30}
    invalid = await channel_host.client.put(url, json={"key_recheck_minutes": -1}, headers=admin)
    assert invalid.status_code == 400


async def test_key_encrypted_in_database(channel_host: TestHost, admin: dict[str, str]) -> None:
    from chatnio_host.db.models.channel import ChannelKey

    await channel_host.client.post(BASE, json=channel_body(keys="plain-vendor-key-4242"), headers=admin)
    async with channel_host.ctx.db.session() as session:
        secrets = (await session.scalars(select(ChannelKey.secret))).all()
    assert secrets
    assert all("plain-vendor-key" not in secret for secret in secrets)


async def test_retry_over_limit_rejected(channel_host: TestHost, admin: dict[str, str]) -> None:
    response = await channel_host.client.post(BASE, json=channel_body(retry=1000), headers=admin)
    assert response.status_code == 400
    assert "retry" in response.text


async def test_cooling_key_shown(channel_host: TestHost, admin: dict[str, str]) -> None:
    from chatnio_host.channels.base import UpstreamFailure
    from chatnio_host.channels.scheduler import Attempt

    channel_id = (await channel_host.client.post(BASE, json=channel_body(), headers=admin)).json()["id"]
    service = channel_host.ctx.services["channels"]
    [candidate] = await service.candidates("m1", "normal")
    key = candidate.keys[0]
    attempt = Attempt(channel=candidate, key=key.value, key_index=key.index, key_id=key.id)
    await service.record_failure(attempt, UpstreamFailure("rate_limit", "slow down", status=429, retry_after=60))

    shown = (await channel_host.client.get(f"{BASE}/{channel_id}", headers=admin)).json()
    assert shown["keys"][0]["cooling_down"] is True
    assert shown["keys"][0]["cooldown_until"] is not None
    assert shown["keys"][0]["last_error"] == "slow down"
    assert shown["keys"][1]["cooling_down"] is False

    enabled = await channel_host.client.post(f"{BASE}/{channel_id}/keys/0/enable", headers=admin)
    assert enabled.json()["keys"][0]["cooling_down"] is False
    [candidate] = await service.candidates("m1", "normal")
    assert len(candidate.keys) == 2


async def test_upstream_models_before_saving(channel_host: TestHost, admin: dict[str, str], upstream: Upstream) -> None:
    body = {"type": "fake", "endpoint": upstream.url + "/", "keys": "\n good \nother"}
    response = await channel_host.client.post(f"{BASE}/upstream-models", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"models": ["up-1", "up-2"]}
    assert upstream.requests[-1].authorization == "Bearer good"

    refused = await channel_host.client.post(
        f"{BASE}/upstream-models", json={**body, "keys": "wrong"}, headers=admin
    )
    assert refused.status_code == 502
    assert refused.json()["error"]["message"] == "The upstream model list failed: invalid key"


async def test_secret_setting_masked(channel_host: TestHost, admin: dict[str, str]) -> None:
    body = channel_body(settings={"region": "us", "signing_secret": "very-secret-value-7777"})
    data = (await channel_host.client.post(BASE, json=body, headers=admin)).json()
    assert data["settings"] == {"region": "us", "signing_secret": "****7777"}

    resaved = await channel_host.client.put(
        f"{BASE}/{data['id']}", json={"settings": {"region": "eu", "signing_secret": "****7777"}}, headers=admin
    )
    assert resaved.status_code == 200, resaved.text
    assert resaved.json()["settings"] == {"region": "eu", "signing_secret": "****7777"}
    [candidate] = await channel_host.ctx.services["channels"].candidates("m1", "normal")
    assert candidate.settings == {"region": "eu", "signing_secret": "very-secret-value-7777"}
