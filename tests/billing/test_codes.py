"""Redeem and gift codes through the HTTP API: generation, claims under races, clear refusals."""

from __future__ import annotations

import asyncio
import csv
import io

from sqlalchemy import func, select

from billing_helpers import available, headers_for, make_user, points
from chatnio_host.db.models.billing import LedgerEntry
from chatnio_host.testing import TestHost


async def _generate(host: TestHost, admin_headers: dict[str, str], path: str, body: dict) -> list[str]:
    response = await host.client.post(path, json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    return response.json()["codes"]


async def test_redeem_race_credits_once(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    admin_headers = await headers_for(billed, admin)
    [code] = await _generate(billed, admin_headers, "/api/admin/redeem-codes", {"name": "race", "points": 50, "count": 1})
    users = [await make_user(billed) for _ in range(10)]
    headers = [await headers_for(billed, user) for user in users]

    async def claim(index: int):  # type: ignore[no-untyped-def]
        return await billed.client.post("/api/billing/redeem", json={"code": code}, headers=headers[index % 10])

    responses = await asyncio.gather(*(claim(index) for index in range(15)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 1
    assert all(status == 409 for status in statuses if status != 200)
    balances = [await available(billed, user.id) for user in users]
    assert sorted(balances) == [0] * 9 + [points("50")]
    async with billed.ctx.db.session() as session:
        rows = await session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "redeem"))
    assert rows == 1


async def test_redeem_refusals_are_clear(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    user = await make_user(billed)
    headers = await headers_for(billed, user)
    [code] = await _generate(billed, await headers_for(billed, admin), "/api/admin/redeem-codes", {"name": "b", "points": "0.5", "count": 1})

    first = await billed.client.post("/api/billing/redeem", json={"code": f"  {code} "}, headers=headers)
    assert first.status_code == 200
    assert first.json() == {"points": 0.5}

    cases = {
        code: (409, "code_used"),
        "nio-" + "x" * 32: (404, "code_not_found"),
        "not a code!": (400, "invalid_code"),
        "": (400, "invalid_code"),
    }
    for value, (status, error_code) in cases.items():
        response = await billed.client.post("/api/billing/redeem", json={"code": value}, headers=headers)
        assert response.status_code == status, value
        assert response.json()["error"]["code"] == error_code
    missing = await billed.client.post("/api/billing/redeem", json={}, headers=headers)
    assert missing.status_code == 400


async def test_gift_type_once_per_user(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    admin_headers = await headers_for(billed, admin)
    codes = await _generate(billed, admin_headers, "/api/admin/gift-codes", {"type": "spring", "points": 5, "count": 3})
    other = await _generate(billed, admin_headers, "/api/admin/gift-codes", {"type": "summer", "points": 7, "count": 1})
    alice, bob = await make_user(billed), await make_user(billed)
    alice_headers, bob_headers = await headers_for(billed, alice), await headers_for(billed, bob)

    assert (await billed.client.post("/api/billing/gift", json={"code": codes[0]}, headers=alice_headers)).status_code == 200
    second = await billed.client.post("/api/billing/gift", json={"code": codes[1]}, headers=alice_headers)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "gift_type_used"
    assert (await billed.client.post("/api/billing/gift", json={"code": other[0]}, headers=alice_headers)).status_code == 200
    assert (await billed.client.post("/api/billing/gift", json={"code": codes[1]}, headers=bob_headers)).status_code == 200
    reused = await billed.client.post("/api/billing/gift", json={"code": codes[0]}, headers=bob_headers)
    assert reused.status_code == 409

    assert await available(billed, alice.id) == points("12")
    assert await available(billed, bob.id) == points("5")


async def test_gift_race_one_type(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    codes = await _generate(billed, await headers_for(billed, admin), "/api/admin/gift-codes", {"type": "promo", "points": 3, "count": 6})
    user = await make_user(billed)
    headers = await headers_for(billed, user)

    responses = await asyncio.gather(
        *(billed.client.post("/api/billing/gift", json={"code": code}, headers=headers) for code in codes)
    )

    assert sorted(response.status_code for response in responses) == [200] + [409] * 5
    assert await available(billed, user.id) == points("3")


async def test_admin_lists_deletes_exports(billed: TestHost) -> None:
    admin = await make_user(billed, admin=True)
    headers = await headers_for(billed, admin)
    batch = await _generate(billed, headers, "/api/admin/redeem-codes", {"name": "card-1", "points": 10, "count": 3})
    await _generate(billed, headers, "/api/admin/redeem-codes", {"name": "card-2", "points": 20, "count": 2})
    assert all(code.startswith("nio-") and len(code) == 36 for code in batch)

    listed = (await billed.client.get("/api/admin/redeem-codes", params={"name": "card-1"}, headers=headers)).json()
    assert listed["total"] == 3
    assert {item["code"] for item in listed["items"]} == set(batch)
    assert listed["items"][0]["points"] == 10

    text = await billed.client.get("/api/admin/redeem-codes/export", params={"name": "card-1"}, headers=headers)
    assert text.headers["content-type"].startswith("text/plain")
    assert "attachment" in text.headers["content-disposition"]
    assert set(text.text.split()) == set(batch)
    table = await billed.client.get("/api/admin/redeem-codes/export", params={"name": "card-2", "format": "csv"}, headers=headers)
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 2
    assert rows[0]["points"] == "20"

    one = await billed.client.delete("/api/admin/redeem-codes", params={"code": batch[0]}, headers=headers)
    assert one.json() == {"deleted": 1}
    gone = await billed.client.delete("/api/admin/redeem-codes", params={"code": batch[0]}, headers=headers)
    assert gone.status_code == 404
    rest = await billed.client.delete("/api/admin/redeem-codes", params={"name": "card-1"}, headers=headers)
    assert rest.json() == {"deleted": 2}
    neither = await billed.client.delete("/api/admin/redeem-codes", headers=headers)
    assert neither.status_code == 400

    user = await make_user(billed)
    refused = await billed.client.get("/api/admin/redeem-codes", headers=await headers_for(billed, user))
    assert refused.status_code == 403
