"""Subscriptions: quota units, monthly periods from the purchase instant, purchases and admin changes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from billing_helpers import FakeCaller, available, billing, headers_for, make_user, points, set_prices
from chatnio_host.billing.subscriptions import add_months, period_start
from chatnio_host.errors import InsufficientQuota
from chatnio_host.relay.canonical import Usage
from chatnio_host.testing import TestHost

UTC = dt.UTC


def rid() -> str:
    return uuid.uuid4().hex


def plans(*items: dict, price: str = "18", relay_plan: bool = False) -> dict:
    return {"enabled": True, "relay_plan": relay_plan, "plans": [{"level": 1, "price": price, "items": list(items)}]}


async def subscribe(host: TestHost, user_id: int, *, level: int = 1, days: int = 60) -> None:
    now = host.ctx.clock.now()
    await billing(host).set_subscription(user_id, level=level, expires_at=now + dt.timedelta(days=days), actor_id=0)


async def use(host: TestHost, user, model: str, *, fail: bool = False, api_key_id: int | None = None):  # type: ignore[no-untyped-def]
    service = billing(host)
    hold = await service.admit(FakeCaller(user, api_key_id=api_key_id), model, request_id=rid())
    if fail:
        await service.release(hold, status="upstream_error")
    else:
        await service.settle(hold, Usage(input_tokens=10, output_tokens=10))
    return hold


async def usage_of(host: TestHost, user, item: str) -> int:  # type: ignore[no-untyped-def]
    view = await billing(host).subscription_view(user.id)
    return view["usage"][item]["used"]


def test_period_start_keeps_anchor_time() -> None:
    anchor = dt.datetime(2024, 7, 17, 23, 30, tzinfo=UTC)
    assert period_start(anchor, dt.datetime(2024, 8, 17, 23, 29, 59, tzinfo=UTC)) == anchor
    assert period_start(anchor, dt.datetime(2024, 8, 17, 23, 30, tzinfo=UTC)) == dt.datetime(2024, 8, 17, 23, 30, tzinfo=UTC)
    assert period_start(anchor, dt.datetime(2024, 12, 1, tzinfo=UTC)) == dt.datetime(2024, 11, 17, 23, 30, tzinfo=UTC)
    counter = dt.datetime(2024, 1, 10, 10, tzinfo=UTC)
    assert period_start(counter, dt.datetime(2024, 3, 15, 12, tzinfo=UTC)) == dt.datetime(2024, 3, 10, 10, tzinfo=UTC)
    end_of_month = dt.datetime(2024, 1, 31, 8, tzinfo=UTC)
    assert add_months(end_of_month, 1) == dt.datetime(2024, 2, 29, 8, tzinfo=UTC)
    assert period_start(end_of_month, dt.datetime(2024, 3, 31, 9, tzinfo=UTC)) == dt.datetime(2024, 3, 31, 8, tzinfo=UTC)


async def test_quota_then_points_then_reset(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["mj-fast"], "output": "0.5"})
    await billed.ctx.site.put("subscription", plans({"id": "mj", "name": "MJ Fast", "models": ["mj-fast"], "monthly_quota": 3}))
    billed.ctx.clock.set(dt.datetime(2024, 7, 17, 23, 30, tzinfo=UTC))
    user = await make_user(billed, points=10)
    await subscribe(billed, user.id)

    for _ in range(3):
        hold = await use(billed, user, "mj-fast")
        assert hold.subscription
    assert await usage_of(billed, user, "mj") == 3
    assert await available(billed, user.id) == points("10")

    fourth = await use(billed, user, "mj-fast")
    assert not fourth.subscription
    assert await available(billed, user.id) == points("9.5")
    assert await usage_of(billed, user, "mj") == 3

    billed.ctx.clock.set(dt.datetime(2024, 8, 17, 23, 29, 59, tzinfo=UTC))
    assert not (await use(billed, user, "mj-fast")).subscription

    billed.ctx.clock.set(dt.datetime(2024, 8, 17, 23, 30, 0, tzinfo=UTC))
    assert await usage_of(billed, user, "mj") == 0
    assert (await use(billed, user, "mj-fast")).subscription
    assert await usage_of(billed, user, "mj") == 1
    assert await available(billed, user.id) == points("9")


async def test_no_points_when_quota_used(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["mj-fast"], "output": "0.5"})
    await billed.ctx.site.put("subscription", plans({"id": "mj", "name": "MJ Fast", "models": ["mj-fast"], "monthly_quota": 2}))
    user = await make_user(billed)
    await subscribe(billed, user.id)
    await use(billed, user, "mj-fast")
    await use(billed, user, "mj-fast")

    with pytest.raises(InsufficientQuota):
        await use(billed, user, "mj-fast")

    await billing(billed).adjust_points(user.id, actor_id=0, delta=Decimal(10), set_to=None, reason="top up")
    assert not (await use(billed, user, "mj-fast")).subscription
    assert await available(billed, user.id) == points("9.5")


async def test_unlimited_item_never_runs_out(billed: TestHost) -> None:
    await set_prices(billed, {"type": "token", "models": ["gpt-4"], "input": "2", "output": "4"})
    await billed.ctx.site.put("subscription", plans({"id": "g4", "models": ["gpt-4"], "monthly_quota": -1}))
    user = await make_user(billed)
    await subscribe(billed, user.id)
    for _ in range(30):
        assert (await use(billed, user, "gpt-4")).subscription
    view = await billing(billed).subscription_view(user.id)
    assert view["usage"]["g4"] == {"used": 0, "total": -1}


async def test_failed_requests_and_units(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["mj-fast"], "output": "0.5"})
    await billed.ctx.site.put("subscription", plans({"id": "mj", "models": ["mj-fast"], "monthly_quota": 1}))
    user = await make_user(billed, points=5)
    await subscribe(billed, user.id)

    failed = await use(billed, user, "mj-fast", fail=True)
    assert failed.subscription
    assert await usage_of(billed, user, "mj") == 0

    await use(billed, user, "mj-fast")
    assert await usage_of(billed, user, "mj") == 1
    paid_failure = await use(billed, user, "mj-fast", fail=True)
    assert not paid_failure.subscription
    assert await usage_of(billed, user, "mj") == 1
    assert await available(billed, user.id) == points("5")


async def test_relay_plan_flag(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["gpt-4"], "output": "1"})
    await billed.ctx.site.put("subscription", plans({"id": "g4", "models": ["gpt-4"], "monthly_quota": 50}))
    user = await make_user(billed, points=10)
    await subscribe(billed, user.id)

    assert not (await use(billed, user, "gpt-4", api_key_id=7)).subscription
    assert (await use(billed, user, "gpt-4")).subscription
    await billed.ctx.site.put("subscription", plans({"id": "g4", "models": ["gpt-4"], "monthly_quota": 50}, relay_plan=True))
    assert (await use(billed, user, "gpt-4", api_key_id=7)).subscription


async def test_expired_subscription_pays_points(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["gpt-4"], "output": "1"})
    await billed.ctx.site.put("subscription", plans({"id": "g4", "models": ["gpt-4"], "monthly_quota": 50}))
    user = await make_user(billed, points=10)
    await subscribe(billed, user.id, days=1)
    billed.ctx.clock.advance(days=2)
    assert not (await use(billed, user, "gpt-4")).subscription
    assert await billing(billed).active_level(user.id) == 0


async def _buy(host: TestHost, headers: dict[str, str], level: int, months: int):  # type: ignore[no-untyped-def]
    return await host.client.post("/api/subscription/buy", json={"level": level, "months": months}, headers=headers)


async def test_purchase_with_points(billed: TestHost) -> None:
    config = {"enabled": True, "plans": [
        {"level": 1, "price": 18, "items": [{"id": "a", "models": ["m1"], "monthly_quota": 5}]},
        {"level": 2, "price": 20, "items": [{"id": "b", "models": ["m2"], "monthly_quota": 9}]},
    ]}
    await billed.ctx.site.put("subscription", config)
    user = await make_user(billed, points=2000)
    headers = await headers_for(billed, user)
    now = billed.ctx.clock.now()

    bought = await _buy(billed, headers, 2, 12)
    assert bought.status_code == 200, bought.text
    assert bought.json()["paid"] == 1920
    balance = await billing(billed).balance(user.id)
    assert balance.available == points("80")
    assert balance.used == points("1920")
    row = await billing(billed).subscription_of(user.id)
    assert row.level == 2
    assert row.total_months == 12
    assert row.expires_at == now.replace(year=now.year + 1)

    view = (await billed.client.get("/api/subscription", headers=headers)).json()
    assert view["level"] == 2
    assert view["is_subscribed"] is True
    assert view["usage"] == {"b": {"used": 0, "total": 9}}

    poor = await _buy(billed, headers, 2, 1)
    assert poor.status_code == 403
    assert poor.json()["error"]["type"] == "insufficient_quota"


async def test_discount_tiers(billed: TestHost) -> None:
    await billed.ctx.site.put("subscription", {"enabled": True, "plans": [{"level": 1, "price": 10, "items": []}]})
    for months, cny in ((1, 10), (6, 54), (12, 96), (36, 252)):
        user = await make_user(billed, points=cny * 10)
        response = await _buy(billed, await headers_for(billed, user), 1, months)
        assert response.json()["paid"] == cny * 10, months
        assert await available(billed, user.id) == 0


async def test_renew_upgrade_downgrade(billed: TestHost) -> None:
    await billed.ctx.site.put("subscription", {"enabled": True, "plans": [
        {"level": 1, "price": 18, "items": []},
        {"level": 2, "price": 36, "items": []},
        {"level": 3, "price": 72, "items": []},
    ]})
    user = await make_user(billed, points=1000)
    headers = await headers_for(billed, user)
    now = billed.ctx.clock.now()
    service = billing(billed)

    await service.set_subscription(user.id, level=1, expires_at=now + dt.timedelta(days=10), actor_id=0)
    renewed = await _buy(billed, headers, 1, 1)
    assert renewed.json()["action"] == "renew"
    assert (await service.subscription_of(user.id)).expires_at == add_months(now + dt.timedelta(days=10), 1)

    await service.set_subscription(user.id, level=1, expires_at=now + dt.timedelta(days=15), actor_id=0)
    before = await available(billed, user.id)
    upgraded = await _buy(billed, headers, 2, 1)
    assert upgraded.json()["action"] == "upgrade"
    assert before - await available(billed, user.id) == points("90")
    row = await service.subscription_of(user.id)
    assert row.level == 2
    assert row.expires_at == now + dt.timedelta(days=15)

    await service.set_subscription(user.id, level=3, expires_at=now + dt.timedelta(days=10), actor_id=0)
    before = await available(billed, user.id)
    downgraded = await _buy(billed, headers, 1, 1)
    assert downgraded.json()["action"] == "downgrade"
    assert await available(billed, user.id) == before
    row = await service.subscription_of(user.id)
    assert row.level == 1
    assert row.expires_at == now + dt.timedelta(days=39)


async def test_disabled_subscription_views(billed: TestHost) -> None:
    user = await make_user(billed)
    headers = await headers_for(billed, user)
    assert (await billed.client.get("/v1/plans")).json() == []
    view = await billed.client.get("/api/subscription", headers=headers)
    assert view.json()["is_subscribed"] is False
    assert view.json()["level"] == 0
    refused = await _buy(billed, headers, 1, 1)
    assert refused.status_code == 400

    await billed.ctx.site.put("subscription", plans({"id": "g4", "name": "GPT-4", "models": ["gpt-4"], "monthly_quota": 50}))
    listed = (await billed.client.get("/v1/plans")).json()
    assert listed[0]["items"][0]["value"] == 50
    assert listed[0]["price"] == 18


async def test_admin_release_and_level(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["a", "b"], "output": "1"})
    await billed.ctx.site.put("subscription", plans(
        {"id": "ia", "models": ["a"], "monthly_quota": 10}, {"id": "ib", "models": ["b"], "monthly_quota": 10}
    ))
    admin = await make_user(billed, admin=True)
    admin_headers = await headers_for(billed, admin)
    user = await make_user(billed)
    expires = (billed.ctx.clock.now() + dt.timedelta(days=20)).isoformat()
    response = await billed.client.put(f"/api/admin/users/{user.id}/subscription", json={"level": 1, "expires_at": expires}, headers=admin_headers)
    assert response.status_code == 200, response.text
    for _ in range(7):
        await use(billed, user, "a")
    for _ in range(3):
        await use(billed, user, "b")

    view = (await billed.client.get("/api/subscription", headers=await headers_for(billed, user))).json()
    assert view["expired_days"] == 20
    assert view["usage"] == {"ia": {"used": 7, "total": 10}, "ib": {"used": 3, "total": 10}}

    released = await billed.client.post(f"/api/admin/users/{user.id}/subscription/release", headers=admin_headers)
    assert released.json() == {"released_items": 2}
    assert await usage_of(billed, user, "ia") == 0
    assert (await use(billed, user, "a")).subscription

    stranger = await make_user(billed)
    refused = await billed.client.post(f"/api/admin/users/{stranger.id}/subscription/release", headers=admin_headers)
    assert refused.status_code == 400


async def test_concurrent_units_exact(billed: TestHost) -> None:
    import asyncio

    await set_prices(billed, {"type": "times", "models": ["mj-fast"], "output": "0.5"})
    await billed.ctx.site.put("subscription", plans({"id": "mj", "models": ["mj-fast"], "monthly_quota": 5}))
    billed.ctx.clock.set(dt.datetime(2024, 7, 17, 23, 30, tzinfo=UTC))
    user = await make_user(billed, points=100)
    await subscribe(billed, user.id)
    service = billing(billed)

    # The first burst also races on the counter's creation; the second on the month's rollover.
    for moment in (dt.datetime(2024, 7, 18, tzinfo=UTC), dt.datetime(2024, 8, 18, tzinfo=UTC)):
        billed.ctx.clock.set(moment)
        holds = await asyncio.gather(
            *(service.admit(FakeCaller(user), "mj-fast", request_id=rid()) for _ in range(20))
        )
        assert sum(hold.subscription for hold in holds) == 5
        assert await usage_of(billed, user, "mj") == 5
        for hold in holds:
            await service.settle(hold, Usage())

    assert await available(billed, user.id) == points("100") - 2 * 15 * points("0.5")
