"""Test set-up for the web chat: a served host with the openai plugin, a fake vendor, users."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from chatnio_host.billing import ledger
from chatnio_host.billing.money import to_micro
from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.testing import TestHost, serve_app

__all__ = ["SSEEvent", "User", "add_channel", "make_user", "read_events", "serve", "set_price"]


@dataclass
class User:
    """A signed-in user of the test host."""

    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class SSEEvent:
    """One event read from a chat stream."""

    id: str
    type: str
    data: dict[str, Any]


async def make_user(host: TestHost, *, points: str | int = 0, admin: bool = False) -> User:
    """Create a user through the auth service, with points through the ledger."""
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
    return User(id=user_id, token=token)


async def set_price(host: TestHost, rule: PriceRule) -> None:
    """Append one price rule."""
    config = await host.ctx.site.get(PRICES_SECTION, PricesConfig)
    await host.ctx.site.put(PRICES_SECTION, PricesConfig(rules=[*config.rules, rule]))


async def free_model(host: TestHost, model: str) -> None:
    """Make ``model`` free for signed-in users."""
    await set_price(host, PriceRule(type="none", models=[model]))


async def token_price(host: TestHost, model: str, *, input: str, output: str) -> None:
    """Price ``model`` per 1,000 input and output tokens."""
    await set_price(host, PriceRule(type="token", models=[model], input=Decimal(input), output=Decimal(output)))


async def add_channel(host: TestHost, endpoint: str, models: list[str], **fields: Any) -> int:
    """Create an openai channel pointing at the fake vendor."""
    values: dict[str, Any] = {
        "name": f"ch-{secrets.token_hex(3)}", "type": "openai", "keys": "sk-test", "endpoint": endpoint,
        "models": models,
    }
    values.update(fields)
    channel = await host.ctx.services["channels"].manager.create(ChannelCreate(**values))
    return channel.id

serve = serve_app
"""Serve the host's app on a free 127.0.0.1 port and yield its base URL."""


async def read_events(response: httpx.Response, *, stop_after: int | None = None, delta_limit: int | None = None
                      ) -> list[SSEEvent]:
    """Parse SSE events from a streaming response; stop after ``delta_limit`` delta events."""
    events: list[SSEEvent] = []
    block: dict[str, str] = {}
    deltas = 0
    async for line in response.aiter_lines():
        if line == "":
            if "data" in block:
                event = SSEEvent(id=block.get("id", ""), type=block.get("event", "message"),
                                 data=json.loads(block["data"]))
                events.append(event)
                if event.type == "delta":
                    deltas += 1
                if event.type == "done" or (delta_limit is not None and deltas >= delta_limit):
                    return events
                if stop_after is not None and len(events) >= stop_after:
                    return events
            block = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        block[name] = value[1:] if value.startswith(" ") else value
    return events


def project_root() -> Path:
    """Return the repository root."""
    return Path(__file__).resolve().parents[2]
