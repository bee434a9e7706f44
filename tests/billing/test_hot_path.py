"""The per-request database work of billing: which statements a request runs, the batched
daily aggregates, the subscription snapshots and the price index."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event, select, text

from billing_helpers import FakeCaller, available, billing, make_user, points, set_prices
from chatnio_host.billing.subscription_cache import SubscriptionSnapshot
from chatnio_host.billing.usage import Counts
from chatnio_host.db.models.billing import DailyAggregate, UsageRecord
from chatnio_host.db.models.user import User
from chatnio_host.db.session import Database
from chatnio_host.relay.canonical import Usage
from chatnio_host.testing import TestHost

TOKEN_RULE = {"type": "token", "models": ["tok"], "input": "0.5", "output": "1.5"}


def rid() -> str:
    return uuid.uuid4().hex


@contextmanager
def statements_of(db: Database) -> Iterator[list[str]]:
    """Collect the verb and table of every statement the engine runs inside the block."""
    seen: list[str] = []

    def record(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        words = statement.split()
        verb = words[0].upper()
        if verb in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            return
        marker = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE"}.get(verb)
        upper = [word.upper() for word in words]
        table = words[upper.index(marker) + 1].strip('"`') if marker in upper else ""
        seen.append(f"{verb} {table}")

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def aggregate(host: TestHost, scope: str, key: str) -> DailyAggregate | None:
    async with host.ctx.db.session() as session:
        return await session.scalar(select(DailyAggregate).where(DailyAggregate.scope == scope, DailyAggregate.key == key))


async def test_points_request_statements(billed: TestHost) -> None:
    await set_prices(billed, TOKEN_RULE)
    user = await make_user(billed, points=10)
    service = billing(billed)
    # The first request caches the site settings sections and the subscription snapshot.
    await service.active_level(user.id)
    warm_up = await service.admit(FakeCaller(user), "tok", request_id=rid())
    await service.release(warm_up)

    with statements_of(billed.ctx.db) as seen:
        assert await service.active_level(user.id) == 0
        hold = await service.admit(FakeCaller(user, api_key_id=7), "tok", estimated_input_tokens=10, request_id=rid())
        await service.settle(hold, Usage(input_tokens=1000, output_tokens=1000), model_sent="tok", channel_id=1)

    assert seen == [
        "INSERT holds",
        "UPDATE balances",
        "UPDATE holds",
        "INSERT ledger_entries",
        "INSERT usage_records",
        "UPDATE balances",
    ]
    assert await available(billed, user.id) == points("8")


async def test_aggregates_wait_for_flush(billed: TestHost) -> None:
    await set_prices(billed, TOKEN_RULE)
    user = await make_user(billed, points=10)
    service = billing(billed)
    assert service.counters.running

    for _ in range(3):
        hold = await service.admit(FakeCaller(user), "tok", request_id=rid())
        await service.settle(hold, Usage(input_tokens=1000, output_tokens=1000), channel_id=4)
    failed = await service.admit(FakeCaller(user), "tok", request_id=rid())
    await service.release(failed, status="upstream_error", error="every channel failed")

    assert await aggregate(billed, "site", "") is None
    async with billed.ctx.db.session() as session:
        records = list(await session.scalars(select(UsageRecord).where(UsageRecord.user_id == user.id)))
    assert len(records) == 4

    await service.flush()

    site = await aggregate(billed, "site", "")
    assert site is not None
    assert (site.requests, site.errors, site.input_tokens, site.output_tokens) == (3, 1, 3000, 3000)
    assert site.points == points("6")
    assert (await aggregate(billed, "user", str(user.id))).requests == 3
    assert (await aggregate(billed, "channel", "4")).requests == 3
    assert (await aggregate(billed, "model", "tok")).errors == 1

    await service.flush()
    assert (await aggregate(billed, "site", "")).requests == 3


async def test_dashboard_reads_unflushed_counts(billed: TestHost) -> None:
    from billing_helpers import headers_for

    await set_prices(billed, TOKEN_RULE)
    admin = await make_user(billed, admin=True)
    user = await make_user(billed, points=10)
    service = billing(billed)
    hold = await service.admit(FakeCaller(user), "tok", request_id=rid())
    await service.settle(hold, Usage(input_tokens=10, output_tokens=10))

    response = await billed.client.get("/api/admin/analytics/request", headers=await headers_for(billed, admin))

    assert response.status_code == 200
    assert response.json()["value"][-1] == 1


async def test_failed_write_keeps_counts(billed: TestHost) -> None:
    service = billing(billed)
    now = billed.ctx.clock.now()
    service.counters.add(now, [("site", ""), ("model", "m")], Counts(requests=2, points=5))

    async with billed.ctx.db.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE daily_aggregates RENAME TO daily_aggregates_away"))
    try:
        with pytest.raises(Exception):
            await service.flush()
        assert service.counters.pending == 2
        service.counters.add(now, [("site", "")], Counts(requests=1))
    finally:
        async with billed.ctx.db.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE daily_aggregates_away RENAME TO daily_aggregates"))

    await service.flush()

    assert service.counters.pending == 0
    site = await aggregate(billed, "site", "")
    assert (site.requests, site.points) == (3, 5)
    assert (await aggregate(billed, "model", "m")).requests == 2


async def test_stop_writes_pending_counts(billed: TestHost) -> None:
    service = billing(billed)
    now = billed.ctx.clock.now()
    service.counters.add(now, [("site", "")], Counts(requests=4))

    await service.counters.stop()
    assert not service.counters.running
    assert (await aggregate(billed, "site", "")).requests == 4

    await service.counters.record(now, [("site", "")], Counts(requests=1))
    assert (await aggregate(billed, "site", "")).requests == 5
    service.counters.start()


async def test_minute_resolves_to_site_day(billed: TestHost) -> None:
    await billed.ctx.site.put("general", {"timezone": "Asia/Kolkata"})
    service = billing(billed)
    # 18:29:59 UTC is 23:59:59 in Kolkata (+05:30); 18:30 UTC is the next day there.
    service.counters.add(dt.datetime(2025, 3, 10, 18, 29, 59, tzinfo=dt.UTC), [("site", "")], Counts(requests=1))
    service.counters.add(dt.datetime(2025, 3, 10, 18, 30, 0, tzinfo=dt.UTC), [("site", "")], Counts(requests=10))

    await service.flush()

    async with billed.ctx.db.session() as session:
        rows = {row.day: row.requests for row in await session.scalars(select(DailyAggregate).where(DailyAggregate.scope == "site"))}
    assert rows == {dt.date(2025, 3, 10): 1, dt.date(2025, 3, 11): 10}


async def test_concurrent_requests_exact(billed: TestHost) -> None:
    await set_prices(billed, TOKEN_RULE)
    users = [await make_user(billed, points=100) for _ in range(4)]
    service = billing(billed)

    async def request(user: User) -> None:
        hold = await service.admit(FakeCaller(user), "tok", estimated_input_tokens=10, max_output_tokens=100, request_id=rid())
        await service.settle(hold, Usage(input_tokens=100, output_tokens=100))

    await asyncio.gather(*(request(users[number % 4]) for number in range(40)))
    await service.flush()

    for user in users:
        assert await available(billed, user.id) == points("100") - 10 * points("0.2")
    async with billed.ctx.db.session() as session:
        per_user = collections.Counter(await session.scalars(select(UsageRecord.user_id)))
    assert per_user == {user.id: 10 for user in users}
    assert (await aggregate(billed, "site", "")).requests == 40


async def test_subscription_change_seen_at_once(billed: TestHost) -> None:
    user = await make_user(billed, points=1000)
    service = billing(billed)
    await billed.ctx.site.put("subscription", {"enabled": True, "plans": [{"level": 1, "price": "18"}, {"level": 2, "price": "36"}]})
    assert await service.active_level(user.id) == 0

    expires = billed.ctx.clock.now() + dt.timedelta(days=3)
    await service.set_subscription(user.id, level=2, expires_at=expires, actor_id=0)
    assert await service.active_level(user.id) == 2

    await service.buy_subscription(user.id, level=1, months=1)
    assert await service.active_level(user.id) == 1

    billed.ctx.clock.advance(days=400)
    assert await service.active_level(user.id) == 0


async def test_snapshot_read_before_change_not_kept(billed: TestHost) -> None:
    user = await make_user(billed)
    service = billing(billed)
    cache = service.subscriptions
    key = f"billing:subscription:{user.id}"

    # A reader looks at the cache, then loads the row, and a change commits in between.
    seen = await billed.ctx.state.get(key)
    stale = SubscriptionSnapshot(0, billed.ctx.clock.now(), billed.ctx.clock.now())
    expires = billed.ctx.clock.now() + dt.timedelta(days=30)
    await service.set_subscription(user.id, level=3, expires_at=expires, actor_id=0)

    assert not await cache.state.compare_and_set(key, seen, stale.to_json())
    assert await service.active_level(user.id) == 3


async def test_new_user_gets_no_old_snapshot(billed: TestHost) -> None:
    first = await make_user(billed)
    service = billing(billed)
    await service.set_subscription(first.id, level=2, expires_at=billed.ctx.clock.now() + dt.timedelta(days=30), actor_id=0)
    assert await service.active_level(first.id) == 2
    async with billed.ctx.db.transaction() as session:
        await session.delete(await session.get(User, first.id))

    second = await make_user(billed)

    assert await service.active_level(second.id) == 0


async def test_price_index_follows_section(billed: TestHost) -> None:
    service = billing(billed)
    await set_prices(billed, {"type": "times", "models": ["a", "b"], "output": "2"}, {"type": "times", "models": ["b"], "output": "9"})
    assert (await service.price_for("b")).output == Decimal("2")
    assert await service.price_for("c") is None

    await set_prices(billed, {"type": "token", "models": ["c"], "input": "1", "output": "3"})

    assert await service.price_for("b") is None
    assert (await service.price_for("c")).kind == "token"
    edited = await service.prices()
    edited.rules.clear()
    assert (await service.price_for("c")).output == Decimal("3")


async def test_terminated_connections_replaced(billed: TestHost) -> None:
    if billed.ctx.db.backend != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    await set_prices(billed, TOKEN_RULE)
    user = await make_user(billed, points=10)
    service = billing(billed)
    hold = await service.admit(FakeCaller(user), "tok", request_id=rid())

    async with billed.ctx.db.engine.connect() as connection:
        database = (await connection.execute(text("SELECT current_database()"))).scalar()
    admin = Database(billed.ctx.db.url.rsplit("/", 1)[0] + "/postgres")
    try:
        async with admin.engine.connect() as connection:
            killed = (await connection.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": database},
            )).scalar()
    finally:
        await admin.dispose()
    assert killed >= 1
    await asyncio.sleep(0.2)

    await service.settle(hold, Usage(input_tokens=1000, output_tokens=1000))

    assert await available(billed, user.id) == points("8")
