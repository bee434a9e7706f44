"""A host with the openai, claude and gemini plugins, a fake vendor per channel type, and a funded key.

State is created through the host's own services and HTTP API, never by writing rows directly.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import chatnio_claude
import chatnio_gemini
import chatnio_openai

from chatnio_host.billing import ledger
from chatnio_host.billing.money import to_micro
from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.db.session import Database
from chatnio_host.state import MemoryState
from chatnio_host.testing import TestHost, clear_database, create_tables, drop_prefix, redis_state_for_test
from chatnio_host.testing_vendors.anthropic import FakeAnthropic
from chatnio_host.testing_vendors.gemini import FakeGemini
from chatnio_host.testing_vendors.openai import FakeOpenAI
from chatnio_host.testing_vendors.server import FakeVendor
from scenarios import MODELS

VENDOR_KEYS = {"openai": "sk-vendor-openai-0000aaaa", "claude": "sk-ant-vendor-1111bbbb",
               "gemini": "AIzaVendorGemini-2222cccc"}


@dataclass
class MatrixSite:
    host: TestHost
    key: str
    user_id: int
    vendors: dict[str, FakeVendor]


async def _account(host: TestHost) -> tuple[int, str]:
    ctx = host.ctx
    auth = ctx.services["auth"]
    async with ctx.db.transaction() as session:
        user = await auth.create_user(session, username=f"m{secrets.token_hex(4)}", password="correct horse battery")
        user_id = user.id
        await ledger.credit(session, ctx.db.backend, user_id=user_id, delta=to_micro("100"), kind="admin",
                            now=ctx.clock.now(), note="matrix grant")
    token = await auth.issue_token(await auth.get_user(user_id))
    response = await host.client.post("/api/keys", json={"name": "matrix"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return user_id, response.json()["key"]


async def _configure(host: TestHost, vendors: dict[str, FakeVendor]) -> None:
    ctx = host.ctx
    for channel_type, vendor in vendors.items():
        await ctx.services["channels"].manager.create(ChannelCreate(
            name=f"matrix-{channel_type}", type=channel_type, endpoint=vendor.url, keys=VENDOR_KEYS[channel_type],
            models=[MODELS[channel_type]], retry=2,
        ))
    config = await ctx.site.get(PRICES_SECTION, PricesConfig)
    rule = PriceRule(type="token", models=list(MODELS.values()), input=Decimal("0.5"), output=Decimal("1.5"))
    await ctx.site.put(PRICES_SECTION, PricesConfig(rules=[*config.rules, rule]))


@contextlib.asynccontextmanager
async def open_site(stack: str, tmp_path: Path, server_databases: Any) -> AsyncIterator[MatrixSite]:
    """Start the fake vendors and a host on ``stack`` with a channel of each type."""
    backend, state_kind = stack.split("-")
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'matrix.db'}")
        await create_tables(database)
    else:
        database = Database(await server_databases.url(backend))
    shared = await redis_state_for_test() if state_kind == "redis" else MemoryState(prefix="matrix:")
    plugins = [("openai", chatnio_openai), ("claude", chatnio_claude), ("gemini", chatnio_gemini)]
    vendors: dict[str, FakeVendor] = {"openai": FakeOpenAI(), "claude": FakeAnthropic(), "gemini": FakeGemini()}
    # The image server of the URL-image tests listens on 127.0.0.1, which fetches refuse unless allowed.
    host = TestHost(tmp_path, plugins=plugins, db=database, state=shared, create_schema=False,
                    fetch_allow_hosts=["127.0.0.1"])
    try:
        async with contextlib.AsyncExitStack() as running:
            for vendor in vendors.values():
                await running.enter_async_context(vendor)
            await running.enter_async_context(host)
            await _configure(host, vendors)
            user_id, key = await _account(host)
            yield MatrixSite(host=host, key=key, user_id=user_id, vendors=vendors)
    finally:
        if database.backend != "sqlite":
            reopened = Database(database.url)
            await clear_database(reopened)
            await reopened.dispose()
        if state_kind == "redis":
            cleanup = await redis_state_for_test()
            cleanup.prefix = shared.prefix
            await drop_prefix(cleanup)
            await cleanup.close()
