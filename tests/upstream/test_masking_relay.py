"""Upstream URLs and keys never reach the client or the logs, whatever way the upstream fails."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chatnio_host.billing import ledger
from chatnio_host.billing.money import to_micro
from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.db.session import Database
from chatnio_host.relay.masking import MASKED_LOGGER_PREFIXES
from chatnio_host.state import MemoryState
from chatnio_host.testing import TestHost, clear_database, create_tables, drop_prefix, redis_state_for_test
from chatnio_host.testing_vendors import FakeOpenAI, Reply, chat_chunk, sse_data

chatnio_openai = pytest.importorskip("chatnio_openai")

UPSTREAM_KEY = "sk-upstreamSecretKey-0123456789abcdef"
MODEL = "gpt-4o-mini"


@contextlib.asynccontextmanager
async def relay_host(stack: str, tmp_path: Path, server_databases: Any) -> AsyncIterator[TestHost]:
    backend, state_kind = stack.split("-")
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'masking.db'}")
        await create_tables(database)
    else:
        database = Database(await server_databases.url(backend))
    shared = await redis_state_for_test() if state_kind == "redis" else MemoryState(prefix="masking:")
    host = TestHost(tmp_path, plugins=[("openai", chatnio_openai)], db=database, state=shared, create_schema=False,
                    first_byte_timeout=0.5, idle_timeout=0.5, max_stream_duration=3.0)
    try:
        async with host:
            yield host
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


async def api_key_for_new_user(host: TestHost) -> str:
    ctx = host.ctx
    auth = ctx.services["auth"]
    async with ctx.db.transaction() as session:
        user = await auth.create_user(session, username=f"u{secrets.token_hex(4)}", password="correct horse battery")
        user_id = user.id
        await ledger.credit(session, ctx.db.backend, user_id=user_id, delta=to_micro("100"), kind="admin",
                            now=ctx.clock.now(), note="test grant")
    token = await auth.issue_token(await auth.get_user(user_id))
    response = await host.client.post("/api/keys", json={"name": "t"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return response.json()["key"]


async def prepare(host: TestHost, vendor: FakeOpenAI) -> dict[str, str]:
    config = await host.ctx.site.get(PRICES_SECTION, PricesConfig)
    rule = PriceRule(type="token", models=[MODEL], input=Decimal("1"), output=Decimal("1"))
    await host.ctx.site.put(PRICES_SECTION, PricesConfig(rules=[*config.rules, rule]))
    await host.ctx.services["channels"].manager.create(ChannelCreate(
        name="masked", type="openai", keys=UPSTREAM_KEY, endpoint=vendor.url, models=[MODEL], retry=1))
    return {"Authorization": f"Bearer {await api_key_for_new_user(host)}"}


def leaks(text: str, vendor: FakeOpenAI) -> list[str]:
    found = []
    for secret in (UPSTREAM_KEY, UPSTREAM_KEY[3:-4], vendor.url, f"127.0.0.1:{vendor.port}"):
        if secret in text:
            found.append(secret)
    return found


def relay_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Return the host's and aiohttp's log lines; the fake vendor and database drivers are left out."""
    lines = []
    for record in caplog.records:
        if not record.name.startswith(MASKED_LOGGER_PREFIXES) or record.name.startswith("chatnio_host.testing_vendors"):
            continue
        lines.append(record.getMessage())
        if record.exc_text:
            lines.append(record.exc_text)
    return "\n".join(lines)


def poisoned(vendor: FakeOpenAI) -> str:
    return f"upstream {vendor.url}/v1/chat/completions rejected key {UPSTREAM_KEY} (Authorization: Bearer {UPSTREAM_KEY})"


CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


async def test_status_errors_masked(stack: str, tmp_path: Path, server_databases: Any,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeOpenAI() as vendor, relay_host(stack, tmp_path, server_databases) as host:
        headers = await prepare(host, vendor)
        for status in (500, 400, 401):
            vendor.enqueue(Reply.error(status, poisoned(vendor), type="server_error"))
            response = await host.client.post("/v1/chat/completions", json=CHAT, headers=headers)
            assert response.status_code >= 400
            assert response.json()["error"]["message"]
            assert leaks(response.text, vendor) == []
    assert leaks(relay_log_text(caplog), vendor) == []


async def test_stream_errors_masked(stack: str, tmp_path: Path, server_databases: Any,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeOpenAI() as vendor, relay_host(stack, tmp_path, server_databases) as host:
        headers = await prepare(host, vendor)
        error = sse_data({"error": {"message": poisoned(vendor), "type": "server_error", "code": 503}})
        vendor.enqueue(Reply.sse([sse_data(chat_chunk({"content": "Hel"})), error, b"data: [DONE]\n\n"]))
        after_content = await host.client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers)
        vendor.enqueue(Reply.sse([error, b"data: [DONE]\n\n"]))
        before_content = await host.client.post("/v1/chat/completions", json={**CHAT, "stream": True},
                                                headers=headers)
    assert after_content.status_code == 200
    assert b"Hel" in after_content.content
    assert b'"error"' in after_content.content
    assert leaks(after_content.text, vendor) == []
    assert before_content.status_code == 502
    assert leaks(before_content.text, vendor) == []
    assert leaks(relay_log_text(caplog), vendor) == []


async def test_timeouts_masked(stack: str, tmp_path: Path, server_databases: Any,
                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeOpenAI() as vendor, relay_host(stack, tmp_path, server_databases) as host:
        headers = await prepare(host, vendor)
        vendor.enqueue(Reply.stalled())
        no_first_byte = await host.client.post("/v1/chat/completions", json=CHAT, headers=headers)
        vendor.enqueue(Reply.sse([sse_data(chat_chunk({"content": "Hi"}))], ending="hold", hold_seconds=10))
        idle = await host.client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers)
        endpoint = vendor.url
        await vendor.stop()
        refused = await host.client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert no_first_byte.status_code == 504
    assert leaks(no_first_byte.text, vendor) == []
    assert idle.status_code == 200
    assert b"Hi" in idle.content
    assert b'"error"' in idle.content
    assert leaks(idle.text, vendor) == []
    assert refused.status_code == 502
    assert endpoint not in refused.text
    assert leaks(refused.text, vendor) == []
    assert leaks(relay_log_text(caplog), vendor) == []
