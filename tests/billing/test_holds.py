"""Admission, holds, settlement, release and reconciliation against the real databases."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from chatnio_host.db.models.billing import LedgerEntry, UsageRecord
from chatnio_host import hookimpl
from chatnio_host.errors import Conflict, InsufficientQuota, PermissionDenied
from chatnio_host.relay.canonical import Usage
from chatnio_host.testing import TestHost

from billing_helpers import FakeCaller, available, billing, check_ledger, make_user, points, set_prices

TOKEN_RULE = {"type": "token", "models": ["tok"], "input": "0.015", "output": "0.02"}
TIMES_RULE = {"type": "times", "models": ["per-call"], "output": "0.1"}


def rid() -> str:
    return uuid.uuid4().hex


async def test_token_settlement_exact(billed: TestHost) -> None:
    await set_prices(billed, TOKEN_RULE)
    user = await make_user(billed, points=100)
    caller = FakeCaller(user)
    service = billing(billed)

    hold = await service.admit(caller, "tok", estimated_input_tokens=123, max_output_tokens=78, request_id=rid())
    charged = await service.settle(hold, Usage(input_tokens=123, output_tokens=78), model_sent="tok", channel_id=1)

    assert charged == Decimal("0.003405")
    assert await available(billed, user.id) == points("100") - 3405


async def test_ten_thousand_settlements_no_drift(billed: TestHost) -> None:
    await set_prices(billed, TOKEN_RULE)
    user = await make_user(billed, points=100)
    service = billing(billed)
    usage = Usage(input_tokens=123, output_tokens=78)
    price = await service.price_for("tok")
    assert price is not None
    from chatnio_host.billing.prices import cost_micro

    total = sum(cost_micro(price, usage) for _ in range(10_000))
    assert total == points("34.05")

    # All 10,000 go through the database on SQLite (about 40 s on 2 cores); the server
    # databases run 1,000 each, which is where their drift would show too.
    rounds = 10_000 if billed.db.backend == "sqlite" else 1_000
    for _ in range(rounds):
        hold = await service.admit(FakeCaller(user), "tok", estimated_input_tokens=123, max_output_tokens=78, request_id=rid())
        await service.settle(hold, usage)
    assert await available(billed, user.id) == points("100") - rounds * 3405
    if rounds == 10_000:
        assert points("100") - await available(billed, user.id) == points("34.05")


async def test_times_price_three_requests(billed: TestHost) -> None:
    await set_prices(billed, TIMES_RULE)
    user = await make_user(billed, points=1)
    service = billing(billed)
    for _ in range(3):
        hold = await service.admit(FakeCaller(user), "per-call", request_id=rid())
        await service.settle(hold, Usage(input_tokens=5, output_tokens=500))
    assert await available(billed, user.id) == points("0.7")


async def test_settle_twice_charges_once(billed: TestHost) -> None:
    await set_prices(billed, TIMES_RULE)
    user = await make_user(billed, points=1)
    service = billing(billed)
    request_id = rid()
    hold = await service.admit(FakeCaller(user), "per-call", request_id=request_id)

    first = await service.settle(hold, Usage(input_tokens=1, output_tokens=1))
    second = await service.settle(hold, Usage(input_tokens=1, output_tokens=1))
    await service.release(hold)

    assert first == second == Decimal("0.1")
    assert await available(billed, user.id) == points("0.9")
    async with billed.ctx.db.session() as session:
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.request_id == request_id))
        records = await session.scalar(select(func.count()).select_from(UsageRecord).where(UsageRecord.request_id == request_id))
    assert entries == 1
    assert records == 1


async def test_release_costs_nothing(billed: TestHost) -> None:
    await set_prices(billed, TOKEN_RULE)
    user = await make_user(billed, points=10)
    service = billing(billed)
    hold = await service.admit(FakeCaller(user), "tok", estimated_input_tokens=1000, max_output_tokens=1000, request_id=rid())
    assert await available(billed, user.id) < points("10")

    await service.release(hold, status="upstream_error", error="every channel failed")

    balance = await service.balance(user.id)
    assert balance.available == points("10")
    assert balance.held == 0
    assert balance.used == 0


async def test_release_retried_after_failed_commit(billed: TestHost, monkeypatch: pytest.MonkeyPatch) -> None:
    await set_prices(billed, TOKEN_RULE)
    user = await make_user(billed, points=10)
    service = billing(billed)
    hold = await service.admit(FakeCaller(user), "tok", estimated_input_tokens=10, request_id=rid())

    import chatnio_host.billing.service as service_module

    original = service_module.usage_record
    calls = {"n": 0}

    def failing_once(**kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected failure after the refund was written")
        return original(**kwargs)

    monkeypatch.setattr(service_module, "usage_record", failing_once)
    with pytest.raises(RuntimeError):
        await service.release(hold)
    await service.release(hold)
    await service.release(hold)

    assert await available(billed, user.id) == points("10")


async def test_minimum_balance_rule(billed: TestHost) -> None:
    await set_prices(billed, {"type": "token", "models": ["m"], "input": "0.5", "output": "1.5"})
    poor = await make_user(billed, points="1.99")
    enough = await make_user(billed, points="2")
    service = billing(billed)

    with pytest.raises(InsufficientQuota) as refused:
        await service.admit(FakeCaller(poor), "m", request_id=rid())
    assert "'m'" in refused.value.message
    assert "2 points" in refused.value.message
    assert "1.99" in refused.value.message
    assert refused.value.status == 403

    hold = await service.admit(FakeCaller(enough), "m", estimated_input_tokens=8, max_output_tokens=100_000, request_id=rid())
    await service.release(hold)


async def test_unpriced_model_admin_only(billed: TestHost) -> None:
    await set_prices(billed, TIMES_RULE)
    alice = await make_user(billed, points=100)
    root = await make_user(billed, points=100, admin=True)
    service = billing(billed)

    with pytest.raises(PermissionDenied):
        await service.admit(FakeCaller(alice), "unpriced", request_id=rid())
    hold = await service.admit(FakeCaller(root), "unpriced", request_id=rid())
    assert await service.settle(hold, Usage(input_tokens=100, output_tokens=100)) == 0
    assert await available(billed, root.id) == points("100")


async def test_anonymous_free_model(billed: TestHost) -> None:
    await set_prices(billed, {"type": "none", "models": ["open"], "anonymous": True}, {"type": "none", "models": ["closed"]})
    service = billing(billed)
    hold = await service.admit(None, "open", request_id=rid())
    assert await service.settle(hold, Usage(input_tokens=1, output_tokens=1)) == 0
    with pytest.raises(PermissionDenied):
        await service.admit(None, "closed", request_id=rid())


async def test_concurrent_admits_exactly_hundred(billed: TestHost) -> None:
    await set_prices(billed, {"type": "times", "models": ["big"], "output": "100"})
    user = await make_user(billed, points=10_000)
    service = billing(billed)
    caller = FakeCaller(user)
    lowest: list[int] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            lowest.append(await available(billed, user.id))
            await asyncio.sleep(0.01)

    async def attempt() -> object:
        try:
            return await service.admit(caller, "big", request_id=rid())
        except InsufficientQuota:
            return None

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(*(attempt() for _ in range(200)))
    done.set()
    await watcher

    admitted = [hold for hold in results if hold is not None]
    assert len(admitted) == 100
    assert await available(billed, user.id) == 0
    assert min(lowest) >= 0
    for hold in admitted:
        await service.settle(hold, Usage(input_tokens=1, output_tokens=1))  # type: ignore[arg-type]
    balance = await service.balance(user.id)
    assert balance.available + balance.held == 0
    async with billed.ctx.db.session() as session:
        total = await session.scalar(select(func.sum(LedgerEntry.delta)).where(LedgerEntry.user_id == user.id, LedgerEntry.kind == "charge"))
    assert total == -points("10000")


async def test_stale_hold_released_on_restart(billed: TestHost, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await set_prices(billed, TIMES_RULE)
    user = await make_user(billed, points=1)
    service = billing(billed)
    await service.admit(FakeCaller(user), "per-call", request_id="killed-request")
    assert await available(billed, user.id) == points("0.9")

    # A new process on the same database starts 16 minutes later and reconciles at startup.
    clock = billed.ctx.clock
    clock.advance(minutes=16)
    second = TestHost(
        tmp_path / "second", db=billed.ctx.db, state=billed.ctx.state, clock=clock, create_schema=False,
        max_stream_duration=540.0,
    )
    lifespan = second.app.router.lifespan_context(second.app)
    await lifespan.__aenter__()
    try:
        assert await available(billed, user.id) == points("1")
    finally:
        await lifespan.__aexit__(None, None, None)
    await check_ledger(billed)


async def test_reconcile_keeps_fresh_holds(billed: TestHost) -> None:
    await set_prices(billed, TIMES_RULE)
    user = await make_user(billed, points=1)
    service = billing(billed)
    hold = await service.admit(FakeCaller(user), "per-call", request_id=rid())
    billed.ctx.clock.advance(minutes=14)
    assert await service.reconcile() == 0
    billed.ctx.clock.advance(minutes=2)
    assert await service.reconcile() == 1
    assert await service.settle(hold, Usage()) == 0
    assert await available(billed, user.id) == points("1")


async def test_duplicate_request_id_rejected(billed: TestHost) -> None:
    await set_prices(billed, TIMES_RULE)
    user = await make_user(billed, points=1)
    service = billing(billed)
    hold = await service.admit(FakeCaller(user), "per-call", request_id="same-id")

    with pytest.raises(Conflict):
        await service.admit(FakeCaller(user), "per-call", request_id="same-id")

    assert await available(billed, user.id) == points("0.9")
    await service.settle(hold, Usage())
    assert await available(billed, user.id) == points("0.9")


async def test_mixed_concurrent_changes_balance(billed: TestHost) -> None:
    await set_prices(billed, TOKEN_RULE, {"type": "times", "models": ["one"], "output": "1"})
    user = await make_user(billed, points=50)
    admin = await make_user(billed, admin=True)
    service = billing(billed)
    codes = await service.generate_redeem_codes(name="mixed", points=points("2"), count=10, actor_id=admin.id)

    async def request(index: int) -> None:
        model = "one" if index % 2 else "tok"
        try:
            hold = await service.admit(FakeCaller(user), model, estimated_input_tokens=100, request_id=rid())
        except InsufficientQuota:
            return
        if index % 3 == 0:
            await service.release(hold)
        else:
            await service.settle(hold, Usage(input_tokens=123, output_tokens=78))

    async def top_up(code: str) -> None:
        await service.redeem(user.id, code)

    async def adjust(index: int) -> None:
        await service.adjust_points(user.id, actor_id=admin.id, delta=Decimal(index), set_to=None, reason="mixed")

    await asyncio.gather(
        *(request(index) for index in range(60)),
        *(top_up(code) for code in codes),
        *(adjust(index) for index in range(5)),
    )

    await check_ledger(billed)
    balance = await service.balance(user.id)
    assert balance.held == 0
    async with billed.ctx.db.session() as session:
        charged = await session.scalar(select(func.coalesce(func.sum(UsageRecord.points), 0)).where(UsageRecord.user_id == user.id))
    assert balance.available == points("50") + 10 * points("2") + points("10") - int(charged)
    assert balance.used == int(charged)


class _UsageObserver:
    def __init__(self) -> None:
        self.events: list[dict] = []

    @hookimpl
    async def usage_recorded(self, event: dict) -> None:
        self.events.append(event)


async def test_usage_hook_sees_records(tmp_path) -> None:  # type: ignore[no-untyped-def]
    observer = _UsageObserver()
    async with TestHost(tmp_path, plugins=[("usage-observer", observer)]) as host:
        await set_prices(host, TIMES_RULE)
        user = await make_user(host, points=1)
        service = billing(host)
        settled = await service.admit(FakeCaller(user), "per-call", request_id="observed-1")
        await service.settle(settled, Usage(input_tokens=1, output_tokens=1))
        failed = await service.admit(FakeCaller(user), "per-call", request_id="observed-2")
        await service.release(failed, status="upstream_error")
        await check_ledger(host)

    assert [(event["request_id"], event["status"], event["points"]) for event in observer.events] == [
        ("observed-1", "success", 0.1),
        ("observed-2", "upstream_error", 0),
    ]


async def test_long_stream_keeps_hold(billed: TestHost) -> None:
    await set_prices(billed, TIMES_RULE)
    user = await make_user(billed, points=1)
    service = billing(billed)
    billed.ctx.settings.max_stream_duration = 1800.0
    hold = await service.admit(FakeCaller(user), "per-call", request_id=rid())

    billed.ctx.clock.advance(minutes=20)
    assert await service.reconcile() == 0
    assert await service.settle(hold, Usage()) == Decimal("0.1")
    assert await available(billed, user.id) == points("0.9")
