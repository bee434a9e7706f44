"""Billing HTTP API: balance and ledger JSON, admin points, prices and their sync, dashboard endpoints."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from billing_helpers import FakeCaller, api_key_for, available, billing, headers_for, make_user, points, set_prices
from chatnio_host import ChannelAdapter, ChannelType, hookimpl
from chatnio_host.clock import Clock
from chatnio_host.relay.canonical import Finish, Usage
from chatnio_host.testing import TestHost


async def test_times_price_json_exact(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["per-call"], "output": 0.1})
    user = await make_user(billed, points=1)
    headers = await headers_for(billed, user)
    service = billing(billed)
    for _ in range(3):
        hold = await service.admit(FakeCaller(user), "per-call", request_id=uuid.uuid4().hex)
        await service.settle(hold, Usage(input_tokens=3, output_tokens=3))

    response = await billed.client.get("/api/billing/balance", headers=headers)

    assert response.status_code == 200
    assert '"used":0.3' in response.text.replace(" ", "")
    assert '"balance":0.7' in response.text.replace(" ", "")
    assert "0.30000000000000004" not in response.text
    ledger = (await billed.client.get("/api/billing/ledger", params={"size": 2}, headers=headers)).json()
    assert ledger["total"] == 4
    assert [item["delta"] for item in ledger["items"]] == [-0.1, -0.1]
    assert ledger["items"][0]["kind"] == "charge"
    last = (await billed.client.get("/api/billing/ledger", params={"size": 2, "page": 2}, headers=headers)).json()
    assert [item["kind"] for item in last["items"]] == ["charge", "admin"]


async def test_admin_points_delta_and_set(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    headers = await headers_for(billed, admin)
    user = await make_user(billed, points=5)

    added = await billed.client.post(f"/api/admin/users/{user.id}/points", json={"delta": "2.5", "reason": "support"}, headers=headers)
    assert added.json()["balance"] == 7.5
    taken = await billed.client.post(f"/api/admin/users/{user.id}/points", json={"delta": -10}, headers=headers)
    assert taken.json()["balance"] == -2.5
    set_to = await billed.client.post(f"/api/admin/users/{user.id}/points", json={"set": 100, "reason": "reset"}, headers=headers)
    assert set_to.json()["balance"] == 100
    assert await available(billed, user.id) == points("100")

    both = await billed.client.post(f"/api/admin/users/{user.id}/points", json={"set": 1, "delta": 1}, headers=headers)
    assert both.status_code == 400
    precise = await billed.client.post(f"/api/admin/users/{user.id}/points", json={"delta": "0.0000001"}, headers=headers)
    assert precise.status_code == 400
    missing = await billed.client.post("/api/admin/users/999999/points", json={"delta": 1}, headers=headers)
    assert missing.status_code == 404
    admin_view = (await billed.client.get(f"/api/admin/users/{user.id}/ledger", headers=headers)).json()
    assert admin_view["total"] == 4
    assert admin_view["items"][0]["note"] == "reset"
    listed = await billing(billed).balances_for([user.id, admin.id, 999999])
    assert listed[user.id].available == points("100")
    assert 999999 not in listed
    ledger = (await billed.client.get("/api/billing/ledger", headers=await headers_for(billed, user))).json()
    assert [item["kind"] for item in ledger["items"]] == ["admin"] * 4


async def test_initial_points_on_register(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    headers = await headers_for(billed, admin)
    saved = await billed.client.put("/api/admin/billing/settings", json={"initial_points": "12.5"}, headers=headers)
    assert saved.json() == {"initial_points": 12.5, "usd_cny_rate": 7.3}

    billed.ctx.clock = Clock()  # PyJWT checks the token's expiry against the real time
    registered = await billed.client.post("/api/auth/register", json={"username": "newbie1", "password": "secret-pass-1"})
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Bearer {registered.json()['token']}"}

    balance = (await billed.client.get("/api/billing/balance", headers=headers)).json()
    assert balance["balance"] == 12.5
    ledger = (await billed.client.get("/api/billing/ledger", headers=headers)).json()
    assert [(item["kind"], item["delta"]) for item in ledger["items"]] == [("initial", 12.5)]


async def test_dashboard_openai_shape(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["m"], "output": 20})
    user = await make_user(billed, points=120)
    hold = await billing(billed).admit(FakeCaller(user), "m", request_id=uuid.uuid4().hex)
    await billing(billed).settle(hold, Usage())
    key = await api_key_for(billed, user)

    for path in ("/dashboard/billing/subscription", "/v1/dashboard/billing/subscription"):
        for headers in ({"Authorization": f"Bearer {key}"}, await headers_for(billed, user)):
            body = (await billed.client.get(path, headers=headers)).json()
            assert body["object"] == "billing_subscription"
            assert body["soft_limit"] == 10000
            assert body["hard_limit"] == 12000
            assert body["system_hard_limit"] == 100000000
            assert body["soft_limit_usd"] == pytest.approx(100 / 7.3 / 10, abs=1e-12)
            assert body["hard_limit_usd"] == pytest.approx(120 / 7.3 / 10, abs=1e-12)
            assert body["system_hard_limit_usd"] == 1000000
    for path in ("/dashboard/billing/usage", "/v1/dashboard/billing/usage"):
        body = (await billed.client.get(path, headers={"Authorization": f"Bearer {key}"})).json()
        assert body == {"object": "list", "total_usage": 20}
    anonymous = await billed.client.get("/dashboard/billing/usage")
    assert anonymous.status_code == 401


async def test_openai_sdk_reads_dashboard(billed: TestHost) -> None:
    import openai

    user = await make_user(billed, points=100)
    key = await api_key_for(billed, user)
    client = openai.AsyncOpenAI(api_key=key, base_url="http://testserver/v1", http_client=billed.client)
    body = await client.get("/dashboard/billing/subscription", cast_to=object)
    assert body["hard_limit_usd"] == pytest.approx(100 / 7.3 / 10)


async def test_price_rules_roundtrip(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    headers = await headers_for(billed, admin)
    rules = {"rules": [
        {"id": -1, "type": "token", "models": ["gpt-4o", " gpt-4o "], "input": 0.015, "output": "0.02"},
        {"id": -1, "type": "times-billing", "models": ["dall-e-3"], "output": 0.1},
        {"id": -1, "type": "none", "models": ["free"], "anonymous": True},
        {"id": -1, "type": "token", "models": ["gpt-4o"], "input": 9, "output": 9},
    ]}
    saved = await billed.client.put("/api/admin/prices", json=rules, headers=headers)
    assert saved.status_code == 200, saved.text
    assert [rule["id"] for rule in saved.json()["rules"]] == [1, 2, 3, 4]
    assert saved.json()["rules"][0]["models"] == ["gpt-4o"]
    assert (await billing(billed).price_for("gpt-4o")).input == Decimal("0.015")

    public = (await billed.client.get("/v1/charge")).json()
    assert public[0] == {"id": 1, "type": "token-billing", "models": ["gpt-4o"], "input": 0.015, "output": 0.02, "anonymous": False}
    assert public[1]["type"] == "times-billing"
    assert public[2] == {"id": 3, "type": "non-billing", "models": ["free"], "input": 0, "output": 0, "anonymous": True}

    bad = await billed.client.put("/api/admin/prices", json={"rules": [{"type": "monthly", "models": ["x"]}]}, headers=headers)
    assert bad.status_code == 400
    user = await make_user(billed)
    assert (await billed.client.get("/api/admin/prices", headers=await headers_for(billed, user))).status_code == 403


@pytest.fixture
async def other_site() -> AsyncIterator[str]:
    """A local server that serves /v1/charge and /v1/plans like another Chat Nio site."""
    charge = [
        {"id": 1, "type": "token-billing", "models": ["gpt-4o", "claude-3"], "input": 0.05, "output": 0.15, "anonymous": False},
        {"id": 2, "type": "times-billing", "models": ["mj-fast"], "input": 0, "output": 0.5, "anonymous": False},
    ]
    plans = [
        {"level": 0, "price": 0, "items": []},
        {"level": 1, "price": 18, "items": [{"id": "g4", "name": "GPT-4", "icon": "compass", "value": 50, "models": ["gpt-4"]}]},
    ]

    async def charge_handler(_request: web.Request) -> web.Response:
        return web.json_response(charge)

    async def plans_handler(_request: web.Request) -> web.Response:
        return web.json_response(plans)

    app = web.Application()
    app.router.add_get("/v1/charge", charge_handler)
    app.router.add_get("/v1/plans", plans_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_price_sync_merges(billed: TestHost, other_site: str) -> None:
    admin = await make_user(billed, admin=True)
    headers = await headers_for(billed, admin)
    await set_prices(billed, {"id": 1, "type": "token", "models": ["gpt-4o", "local"], "input": "1", "output": "2"})

    merged = await billed.client.post("/api/admin/prices/sync", json={"url": other_site, "overwrite": False}, headers=headers)
    assert merged.status_code == 200, merged.text
    rules = merged.json()["rules"]
    assert [rule["models"] for rule in rules] == [["gpt-4o", "local"], ["claude-3"], ["mj-fast"]]
    assert rules[0]["input"] == 1

    overwritten = await billed.client.post(
        "/api/admin/prices/sync", json={"url": other_site + "/v1/charge", "overwrite": True}, headers=headers
    )
    rules = overwritten.json()["rules"]
    assert [rule["models"] for rule in rules] == [["local"], ["gpt-4o", "claude-3"], ["mj-fast"]]
    assert rules[1]["input"] == 0.05
    assert rules[2]["type"] == "times"

    down = await billed.client.post("/api/admin/prices/sync", json={"url": "http://127.0.0.1:9/", "overwrite": False}, headers=headers)
    assert down.status_code == 502
    assert "127.0.0.1:9" in down.json()["error"]["message"]


async def test_plan_sync_and_import(billed: TestHost, other_site: str) -> None:
    admin = await make_user(billed, admin=True)
    headers = await headers_for(billed, admin)
    synced = await billed.client.post("/api/admin/subscription/sync", json={"url": other_site}, headers=headers)
    assert synced.status_code == 200, synced.text
    assert synced.json()["enabled"] is True
    assert [plan["level"] for plan in synced.json()["plans"]] == [1]
    assert synced.json()["plans"][0]["items"][0]["monthly_quota"] == 50

    imported = await billed.client.post("/api/admin/subscription/import-items", json={"from_level": 1, "to_level": 3}, headers=headers)
    assert [plan["level"] for plan in imported.json()["plans"]] == [1, 3]
    assert imported.json()["plans"][1]["items"][0]["id"] == "g4"

    duplicate = await billed.client.put("/api/admin/subscription", json={"enabled": True, "plans": [{"level": 1}, {"level": 1}]}, headers=headers)
    assert duplicate.status_code == 400


class _ListOnlyAdapter(ChannelAdapter):
    async def chat(self, request, target):  # type: ignore[no-untyped-def, override]
        yield Finish("stop")


class _ChannelTypePlugin:
    @hookimpl
    def register_channel_types(self, register: Any) -> None:
        register(ChannelType(name="billing-fake", adapter=_ListOnlyAdapter, label="Fake", settings_schema={"type": "object"}))


async def test_unpriced_lists_channel_models(tmp_path: Path) -> None:
    async with TestHost(tmp_path, plugins=[("billing-fake", _ChannelTypePlugin())]) as host:
        admin = await make_user(host, admin=True)
        headers = await headers_for(host, admin)
        created = await host.client.post(
            "/api/admin/channels",
            json={"name": "c1", "type": "billing-fake", "keys": "k1", "endpoint": "http://127.0.0.1:9", "models": ["a", "b", "c"]},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        await set_prices(host, {"type": "times", "models": ["b"], "output": 1})

        response = await host.client.get("/api/admin/prices/unpriced", headers=headers)

        assert response.json() == {"models": ["a", "c"]}
