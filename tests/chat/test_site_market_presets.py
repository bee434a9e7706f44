"""Presets, the model market, announcements and site settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
from chat_world import make_user, serve, set_price

from chatnio_host.billing.prices import PriceRule
from chatnio_host.billing.settings import SUBSCRIPTION_SECTION, Plan, PlanItem, SubscriptionConfig
from chatnio_host.state import RedisState
from chatnio_host.testing import REDIS_TEST_URL, TestHost, redis_state_for_test


async def test_preset_crud_and_clone(host: TestHost) -> None:
    alice = await make_user(host)
    bob = await make_user(host)

    created = await host.client.post("/api/presets", headers=alice.headers, json={
        "name": "Pirate", "avatar": "🏴‍☠️", "description": "Talks like a pirate",
        "context": [{"role": "system", "content": "Answer like a pirate."}], "model": "gpt-4o-mini",
    })
    assert created.status_code == 201
    preset_id = created.json()["id"]

    listed = (await host.client.get("/api/presets?lang=zh-CN", headers=alice.headers)).json()
    assert listed[0]["name"] == "Pirate"
    assert any(item["builtin"] and item["name"] == "翻译助手" for item in listed)
    assert all(not item["builtin"] for item in listed if item["name"] == "Pirate")

    updated = await host.client.patch(f"/api/presets/{preset_id}", headers=alice.headers, json={"name": "Captain"})
    assert updated.json()["name"] == "Captain"
    assert (await host.client.patch(f"/api/presets/{preset_id}", headers=bob.headers, json={"name": "x"})).status_code == 404
    assert (await host.client.delete(f"/api/presets/{preset_id}", headers=bob.headers)).status_code == 404

    clone = await host.client.post(f"/api/presets/{preset_id}/clone", headers=alice.headers)
    builtin_clone = await host.client.post("/api/presets/builtin:translator/clone", headers=bob.headers)
    assert clone.status_code == 201
    assert clone.json()["name"] == "Captain"
    assert clone.json()["id"] != preset_id
    assert builtin_clone.status_code == 201
    assert builtin_clone.json()["name"] == "Translator"

    bad = await host.client.post("/api/presets", headers=alice.headers,
                                 json={"name": "Bad", "context": [{"role": "wizard", "content": "x"}]})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "context.0"

    assert (await host.client.delete(f"/api/presets/{preset_id}", headers=alice.headers)).status_code == 204


async def test_market_joins_prices_and_plus(host: TestHost) -> None:
    admin = await make_user(host, admin=True)
    subscriber = await make_user(host)
    await set_price(host, PriceRule(type="token", models=["gpt-4o"], input=Decimal("0.015"), output=Decimal("0.02")))
    await set_price(host, PriceRule(type="none", models=["free-1"], anonymous=True))
    await host.ctx.site.put(SUBSCRIPTION_SECTION, SubscriptionConfig(enabled=True, plans=[
        Plan(level=1, price=Decimal(18), items=[PlanItem(id="g4", name="GPT-4o", models=["gpt-4o"], monthly_quota=50)]),
    ]))
    async with host.ctx.db.transaction() as session:
        from chatnio_host.db.models.billing import Subscription

        session.add(Subscription(user_id=subscriber.id, level=1, expires_at=host.ctx.clock.now().replace(year=2100)))

    saved = await host.client.put("/api/admin/market", headers=admin.headers, json=[
        {"model": "free-1", "name": "Free One", "tags": ["fast"]},
        {"model": "gpt-4o", "name": "GPT-4o", "tags": ["official"], "default": True},
        {"model": "hidden", "name": "Hidden", "enabled": False},
    ])
    assert saved.status_code == 200

    public = (await host.client.get("/v1/market")).json()
    assert [entry["model"] for entry in public] == ["free-1", "gpt-4o"]
    assert public[0]["price"] == {"type": "none", "input": 0, "output": 0, "anonymous": True}
    assert public[1]["price"]["input"] == 0.015
    assert public[1]["plus"] is False
    mine = (await host.client.get("/api/market", headers=subscriber.headers)).json()
    assert [entry["plus"] for entry in mine] == [False, True]
    assert (await host.client.put("/api/admin/market", headers=subscriber.headers, json=[])).status_code == 403

    duplicate = await host.client.put("/api/admin/market", headers=admin.headers,
                                      json=[{"model": "a"}, {"model": "a"}])
    assert duplicate.status_code == 400


async def test_market_sync_adds_only_new(tmp_path: Path) -> None:
    async with TestHost(tmp_path / "source") as source, TestHost(tmp_path / "target") as target:
        source_admin = await make_user(source, admin=True)
        target_admin = await make_user(target, admin=True)
        await source.client.put("/api/admin/market", headers=source_admin.headers,
                                json=[{"model": "gpt-4o", "name": "Remote name"}, {"model": "claude-3", "name": "Claude"}])
        await target.client.put("/api/admin/market", headers=target_admin.headers,
                                json=[{"model": "gpt-4o", "name": "Local name"}])
        async with serve(source) as base:
            synced = await target.client.post("/api/admin/market/sync", headers=target_admin.headers, json={"url": base})

    assert synced.status_code == 200
    assert [(entry["model"], entry["name"]) for entry in synced.json()] == [("gpt-4o", "Local name"), ("claude-3", "Claude")]


async def test_announcement_latest_and_admin_only(host: TestHost) -> None:
    admin = await make_user(host, admin=True)
    user = await make_user(host)

    assert (await host.client.get("/api/announcement")).json() is None
    first = (await host.client.post("/api/admin/announcements", headers=admin.headers, json={"content": "a"})).json()
    second = (await host.client.post("/api/admin/announcements", headers=admin.headers,
                                     json={"title": "New", "content": "**b**"})).json()
    await host.client.post("/api/admin/announcements", headers=admin.headers, json={"content": "n", "kind": "notification"})
    refused = await host.client.post("/api/admin/announcements", headers=user.headers, json={"content": "x"})

    latest = (await host.client.get("/api/announcement")).json()
    assert latest["id"] == second["id"]
    assert latest["id"] > first["id"]
    assert latest["content"] == "**b**"
    assert [item["content"] for item in (await host.client.get("/api/notifications")).json()] == ["n"]
    assert refused.status_code == 403


async def test_site_settings_apply_on_other_replica(tmp_path: Path) -> None:
    shared_db = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first_state = await redis_state_for_test()
    second_state = RedisState(REDIS_TEST_URL, prefix=first_state.prefix)
    async with TestHost(tmp_path / "a", database_url=shared_db, state=first_state) as first, \
            TestHost(tmp_path / "b", database_url=shared_db, state=second_state, create_schema=False) as second:
        admin = await make_user(first, admin=True)
        assert (await second.client.get("/api/site")).json()["site_name"] == "Chat Nio"

        saved = await first.client.put("/api/admin/settings", headers=admin.headers, json={
            "general": {"site_name": "Nio Lab", "timezone": "Asia/Shanghai", "buy_link": "https://shop.example/"},
            "mail": {"host": "smtp.example", "port": 465, "sender": "noreply@example.com", "password": "smtp-secret-1"},
        })
        assert saved.status_code == 200
        assert saved.json()["mail"]["password"] == ""
        assert saved.json()["mail"]["password_set"] is True

        site = (await second.client.get("/api/site")).json()
        assert site["site_name"] == "Nio Lab"
        assert site["timezone"] == "Asia/Shanghai"
        assert site["buy_link"] == "https://shop.example"
        assert site["mail_configured"] is True

        settings = await first.client.get("/api/admin/settings", headers=admin.headers)
        assert "smtp-secret-1" not in settings.text
        kept = await first.client.put("/api/admin/settings", headers=admin.headers,
                                      json={"mail": {"host": "smtp2.example", "password": ""}})
        assert kept.status_code == 200
        from chatnio_host.auth.settings import MailSettings

        assert (await second.ctx.site.get("mail", MailSettings)).password == "smtp-secret-1"

        bad = await first.client.put("/api/admin/settings", headers=admin.headers,
                                     json={"general": {"timezone": "Mars/Olympus"}})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "general.timezone"
        unknown = await first.client.put("/api/admin/settings", headers=admin.headers, json={"nope": {}})
        assert unknown.status_code == 400


async def test_openapi_documents_chat_endpoints(host: TestHost) -> None:
    schema = (await host.client.get("/openapi.json")).json()
    paths = schema["paths"]

    for path in ("/api/conversations", "/api/conversations/{conversation_id}/messages", "/api/messages/{message_id}/events",
                 "/api/messages/{message_id}/stop", "/api/shares", "/api/shares/{share_id}", "/api/presets",
                 "/api/market", "/v1/market", "/api/announcement", "/api/site", "/api/admin/settings"):
        assert path in paths, path
    send = paths["/api/conversations/{conversation_id}/messages"]["post"]
    assert "requestBody" in send
    assert "text/event-stream" in send["responses"]["200"]["content"]
    assert paths["/api/shares/{share_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


async def test_relay_closed_switch(host: TestHost) -> None:
    admin = await make_user(host, admin=True)
    user = await make_user(host)
    key = (await host.client.post("/api/keys", headers=user.headers, json={"name": "k"})).json()["key"]
    relay_headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}

    closed = await host.client.put("/api/admin/settings", headers=admin.headers, json={"general": {"relay_closed": True}})
    refused = await host.client.post("/v1/chat/completions", headers=relay_headers, json=body)
    images = await host.client.post("/v1/images/generations", headers=relay_headers, json={"prompt": "cat"})
    models = await host.client.get("/v1/models", headers=relay_headers)

    assert closed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "relay_closed"
    assert images.status_code == 403
    assert models.status_code == 200
    assert (await host.client.get("/api/site")).json()["relay_closed"] is True
