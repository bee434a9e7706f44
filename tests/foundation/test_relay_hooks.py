"""The relay hooks: before_relay may refuse, after_relay and usage_recorded observe."""

from __future__ import annotations

import asyncio
import secrets
import types
from pathlib import Path

from chatnio_host import PermissionDenied, hookimpl
from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.testing import TestHost
from chatnio_host.testing_vendors.openai import FakeOpenAI


def observer(calls: list[tuple[str, object]]) -> types.SimpleNamespace:
    def before_relay(request, caller):  # type: ignore[no-untyped-def]
        calls.append(("before", request.model))
        if "forbidden" in request.messages[-1].text():
            raise PermissionDenied("This request violates the site's policy.", code="policy")

    async def after_relay(request, result):  # type: ignore[no-untyped-def]
        calls.append(("after", (result.status, result.usage.output_tokens)))

    async def usage_recorded(event):  # type: ignore[no-untyped-def]
        calls.append(("usage", event))

    return types.SimpleNamespace(
        before_relay=hookimpl(before_relay), after_relay=hookimpl(after_relay), usage_recorded=hookimpl(usage_recorded)
    )


async def relay_host(tmp_path: Path, calls: list, vendor: FakeOpenAI) -> TestHost:
    import chatnio_openai

    return TestHost(tmp_path, plugins=[("openai", chatnio_openai), ("observer", observer(calls))])


async def make_key(host: TestHost) -> str:
    auth = host.ctx.services["auth"]
    async with host.ctx.db.transaction() as session:
        user = await auth.create_user(session, username=f"h{secrets.token_hex(4)}", password="correct horse battery")
        user_id = user.id
    token = await auth.issue_token(await auth.get_user(user_id))
    response = await host.client.post("/api/keys", json={"name": "hooks"}, headers={"Authorization": f"Bearer {token}"})
    return response.json()["key"]


async def prepare(host: TestHost, vendor: FakeOpenAI) -> str:
    await host.ctx.services["channels"].manager.create(
        ChannelCreate(name="fake", type="openai", keys="sk-vendor", endpoint=vendor.url, models=["gpt-4o-mini"])
    )
    await host.ctx.site.put(PRICES_SECTION, PricesConfig(rules=[PriceRule(type="none", models=["gpt-4o-mini"])]))
    return await make_key(host)


async def test_hook_before_relay(tmp_path: Path) -> None:
    calls: list = []
    async with FakeOpenAI(reply_text="fine") as vendor:
        async with await relay_host(tmp_path, calls, vendor) as host:
            key = await prepare(host, vendor)
            refused = await host.client.post(
                "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "something forbidden"}]},
            )

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "policy"
    assert ("before", "gpt-4o-mini") in calls
    assert vendor.requests == []


async def test_hook_after_relay(tmp_path: Path) -> None:
    calls: list = []
    async with FakeOpenAI(reply_text="one two three") as vendor:
        async with await relay_host(tmp_path, calls, vendor) as host:
            key = await prepare(host, vendor)
            response = await host.client.post(
                "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]},
            )
            for _ in range(50):
                if any(name == "after" for name, _ in calls):
                    break
                await asyncio.sleep(0.05)

    assert response.status_code == 200
    after = [value for name, value in calls if name == "after"]
    assert after and after[0][1] == response.json()["usage"]["completion_tokens"]


async def test_hook_usage_recorded(tmp_path: Path) -> None:
    calls: list = []
    async with FakeOpenAI(reply_text="one two three") as vendor:
        async with await relay_host(tmp_path, calls, vendor) as host:
            key = await prepare(host, vendor)
            await host.client.post(
                "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]},
            )
            for _ in range(50):
                if any(name == "usage" for name, _ in calls):
                    break
                await asyncio.sleep(0.05)

    events = [value for name, value in calls if name == "usage"]
    assert len(events) == 1
    event = events[0]
    assert event["model"] == "gpt-4o-mini"
    assert event["status"] == "success"
    assert event["points"] == 0
    assert event["subscription"] is False
    assert isinstance(event["user_id"], int)
