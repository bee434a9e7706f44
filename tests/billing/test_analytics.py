"""Dashboard statistics count by the day of the site's timezone, whatever the server's zone."""

from __future__ import annotations

import datetime as dt
import uuid

from billing_helpers import FakeCaller, billing, headers_for, make_user, set_prices
from chatnio_host.relay.canonical import Usage
from chatnio_host.testing import TestHost

UTC = dt.UTC


async def _call(host: TestHost, user, *, fail: bool = False) -> None:  # type: ignore[no-untyped-def]
    service = billing(host)
    hold = await service.admit(FakeCaller(user), "m", estimated_input_tokens=4, request_id=uuid.uuid4().hex)
    if fail:
        await service.release(hold, status="upstream_error", error="every channel failed")
    else:
        await service.settle(hold, Usage(input_tokens=4, output_tokens=6), model_sent="m", channel_id=3)


async def test_days_follow_site_timezone(billed: TestHost) -> None:
    await billed.ctx.site.put("general", {"timezone": "Asia/Shanghai"})
    await set_prices(billed, {"type": "token", "models": ["m"], "input": "0.01", "output": "0.01"})
    clock = billed.ctx.clock
    clock.set(dt.datetime(2025, 3, 30, tzinfo=UTC))
    admin = await make_user(billed, admin=True)
    admin_headers = await headers_for(billed, admin)
    user = await make_user(billed, points=100)
    [code] = (await billed.client.post("/api/admin/redeem-codes", json={"name": "e3", "points": 100, "count": 1}, headers=admin_headers)).json()["codes"]

    clock.set(dt.datetime(2025, 3, 31, 15, 59, 59, tzinfo=UTC))
    await _call(billed, user)
    clock.set(dt.datetime(2025, 3, 31, 16, 0, 1, tzinfo=UTC))
    await _call(billed, user)
    await _call(billed, user, fail=True)
    clock.set(dt.datetime(2025, 3, 31, 16, 30, tzinfo=UTC))
    assert (await billed.client.post("/api/billing/redeem", json={"code": code}, headers=await headers_for(billed, user))).status_code == 200
    clock.set(dt.datetime(2025, 3, 31, 23, 0, tzinfo=UTC))
    await _call(billed, user)

    clock.set(dt.datetime(2025, 4, 1, 1, 0, tzinfo=UTC))
    browser = {**admin_headers, "Accept-Language": "en-US", "X-Timezone": "America/Los_Angeles"}
    requests = (await billed.client.get("/api/admin/analytics/request", headers=browser)).json()
    assert requests["date"] == ["3/26", "3/27", "3/28", "3/29", "3/30", "3/31", "4/1"]
    assert requests["value"] == [0, 0, 0, 0, 0, 1, 2]
    assert requests["timezone"] == "Asia/Shanghai"
    assert requests["utc_offset"] == "+0800"

    errors = (await billed.client.get("/api/admin/analytics/error", headers=browser)).json()
    assert errors["value"] == [0, 0, 0, 0, 0, 0, 1]

    models = (await billed.client.get("/api/admin/analytics/model", headers=browser)).json()
    assert models["value"] == [{"model": "m", "data": [0, 0, 0, 0, 0, 10, 20]}]

    income = (await billed.client.get("/api/admin/analytics/billing", headers=browser)).json()
    assert len(income["date"]) == 30
    assert income["date"][-1] == "4/1"
    assert income["value"][-1] == 10.0
    assert income["value"][-2] == 0

    info = (await billed.client.get("/api/admin/analytics/info", headers=browser)).json()
    assert info["billing_today"] == 10.0
    assert info["billing_month"] == 10.0

    today = (await billed.client.get("/api/billing/usage", headers=await headers_for(billed, user))).json()
    assert today["date"] == "2025-04-01"
    assert len(today["items"]) == 3
    assert {item["status"] for item in today["items"]} == {"success", "upstream_error"}
    assert all(item["created_at"].endswith("+08:00") for item in today["items"])
    march = (await billed.client.get("/api/billing/usage", params={"date": "2025-03-31"}, headers=await headers_for(billed, user))).json()
    assert len(march["items"]) == 1

    users = (await billed.client.get("/api/admin/analytics/breakdown", params={"scope": "user", "days": 2}, headers=admin_headers)).json()
    assert users["items"] == [
        {"key": str(user.id), "requests": 3, "errors": 1, "input_tokens": 12, "output_tokens": 18, "points": 0.0003}
    ]
    channels = (await billed.client.get("/api/admin/analytics/breakdown", params={"scope": "channel"}, headers=admin_headers)).json()
    assert [(item["key"], item["requests"]) for item in channels["items"]] == [("3", 3)]

    clock.set(dt.datetime(2025, 4, 1, 16, 0, 1, tzinfo=UTC))
    later = (await billed.client.get("/api/admin/analytics/request", headers=admin_headers)).json()
    assert later["date"][0] == "3/27"
    assert later["date"][-1] == "4/2"
    assert later["value"][-1] == 0
    assert later["value"][-2] == 2


async def test_user_types(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    headers = await headers_for(billed, admin)
    await make_user(billed)
    await make_user(billed, points=5)
    subscribed = await make_user(billed)
    expires = (billed.ctx.clock.now() + dt.timedelta(days=30)).isoformat()
    await billed.client.put(f"/api/admin/users/{subscribed.id}/subscription", json={"level": 2, "expires_at": expires}, headers=headers)

    counts = (await billed.client.get("/api/admin/analytics/user", headers=headers)).json()

    total = counts["total"]
    assert counts["standard_plan"] == 1
    assert counts["basic_plan"] == 0
    assert counts["api_paid"] == 1
    assert counts["normal"] == total - 2
    info = (await billed.client.get("/api/admin/analytics/info", headers=headers)).json()
    assert info["subscription_count"] == 1
