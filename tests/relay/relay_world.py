"""Test set-up for relay tests: users with points and keys, prices, channels, a served host.

State is created through the services and the HTTP APIs of the host itself, never by writing
rows behind their back.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from chatnio_host.billing import ledger
from chatnio_host.billing.money import to_micro
from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.db.models.billing import UsageRecord
from chatnio_host.testing import TestHost, serve_app


@dataclass
class Account:
    """A user of the test host with an API key."""

    user_id: int
    key: str
    token: str


async def make_account(
    host: TestHost, *, points: str | int = 0, admin: bool = False, allowed_models: list[str] | None = None,
) -> Account:
    """Create a user, give points through the ledger and create an API key through the keys API."""
    ctx = host.ctx
    auth = ctx.services["auth"]
    async with ctx.db.transaction() as session:
        user = await auth.create_user(
            session, username=f"u{secrets.token_hex(4)}", password="correct horse battery",
            role="admin" if admin else "user",
        )
        user_id = user.id
        if points:
            await ledger.credit(
                session, ctx.db.backend, user_id=user_id, delta=to_micro(str(points)), kind="admin",
                now=ctx.clock.now(), note="test grant",
            )
    token = await auth.issue_token(await auth.get_user(user_id))
    body: dict[str, Any] = {"name": "test"}
    if allowed_models is not None:
        body["allowed_models"] = allowed_models
    response = await host.client.post("/api/keys", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return Account(user_id=user_id, key=response.json()["key"], token=token)


async def set_token_price(host: TestHost, models: list[str], *, input: str, output: str) -> None:
    """Price ``models`` per 1,000 input and output tokens (points)."""
    await add_price_rule(host, PriceRule(type="token", models=models, input=Decimal(input), output=Decimal(output)))


async def add_price_rule(host: TestHost, rule: PriceRule) -> None:
    """Append one rule to the prices section."""
    ctx = host.ctx
    config = await ctx.site.get(PRICES_SECTION, PricesConfig)
    config = PricesConfig(rules=[*config.rules, rule])
    await ctx.site.put(PRICES_SECTION, config)


async def add_channel(host: TestHost, **fields: Any) -> int:
    """Create a channel through the channel manager and return its id."""
    values: dict[str, Any] = {"name": f"ch-{secrets.token_hex(3)}", "type": "openai", "keys": "sk-test"}
    values.update(fields)
    channel = await host.ctx.services["channels"].manager.create(ChannelCreate(**values))
    return channel.id


async def balance_micro(host: TestHost, user_id: int) -> int:
    """Return the user's available balance in micro-points."""
    async with host.ctx.db.session() as session:
        balance = await ledger.balance_of(session, user_id)
    return balance.available


async def usage_records(host: TestHost, user_id: int) -> list[UsageRecord]:
    """Return the user's usage records, oldest first."""
    async with host.ctx.db.session() as session:
        rows = await session.scalars(
            select(UsageRecord).where(UsageRecord.user_id == user_id).order_by(UsageRecord.id)
        )
        return list(rows)


async def wait_for_records(host: TestHost, user_id: int, count: int, timeout: float = 5.0) -> list[UsageRecord]:
    """Wait until the user has ``count`` usage records."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        records = await usage_records(host, user_id)
        if len(records) >= count or loop.time() > deadline:
            return records
        await asyncio.sleep(0.05)

serve = serve_app
"""Serve the host's app on a free 127.0.0.1 port and yield its base URL."""
