"""Fixtures of the channel tests: a host with a ``fake`` channel type and a local upstream.

The ``fake`` adapter speaks a small OpenAI-shaped protocol to ``Upstream``, an aiohttp server on
127.0.0.1 that checks ``Authorization: Bearer <key>`` and records every request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select

from chatnio_host import ChannelAdapter, ChannelType, UpstreamFailure, UpstreamTarget, hookimpl
from chatnio_host.db.models.user import User
from chatnio_host.db.session import Database
from chatnio_host.relay.canonical import ChatRequest, Finish, TextDelta
from chatnio_host.state import MemoryState, SharedState
from chatnio_host.testing import TestHost, clear_database, create_tables, drop_prefix, redis_state_for_test

FAKE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "enum": ["us", "eu"]},
        "timeout": {"type": "integer", "minimum": 1},
        "signing_secret": {"type": "string", "writeOnly": True},
    },
    "additionalProperties": False,
}


@dataclass
class Recorded:
    """One request the upstream received."""

    path: str
    authorization: str | None
    model: str | None


@dataclass
class Upstream:
    """A local upstream: accepts ``valid_keys``, returns 429 for ``limited_keys``, records requests."""

    valid_keys: set[str] = field(default_factory=set)
    limited_keys: dict[str, str] = field(default_factory=dict)
    models: list[str] = field(default_factory=lambda: ["up-1", "up-2"])
    status_for_all: int | None = None
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    def _key(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization")
        return header[len("Bearer "):] if header and header.startswith("Bearer ") else None

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(Recorded(request.path, request.headers.get("Authorization"), body.get("model")))
        key = self._key(request)
        if self.status_for_all is not None:
            return web.json_response({"error": {"message": "upstream is down"}}, status=self.status_for_all)
        if key in self.limited_keys:
            return web.json_response(
                {"error": {"message": "slow down"}}, status=429, headers={"Retry-After": self.limited_keys[key]}
            )
        if key not in self.valid_keys:
            return web.json_response({"error": {"message": f"invalid key {key}", "code": "invalid_api_key"}}, status=401)
        return web.json_response({"choices": [{"message": {"content": f"hello from {body.get('model')}"}}]})

    async def list_models(self, request: web.Request) -> web.Response:
        self.requests.append(Recorded(request.path, request.headers.get("Authorization"), None))
        if self._key(request) not in self.valid_keys:
            return web.json_response({"error": {"message": "invalid key"}}, status=401)
        return web.json_response({"object": "list", "data": [{"id": name, "object": "model"} for name in self.models]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.list_models)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def keys_used(self) -> list[str | None]:
        return [recorded.authorization for recorded in self.requests]


def _failure(status: int, text: str, headers: httpx.Headers) -> UpstreamFailure:
    message = json.loads(text)["error"]["message"]
    if status == 401:
        return UpstreamFailure("auth", message, status=status)
    if status == 429:
        retry_after = headers.get("Retry-After")
        return UpstreamFailure("rate_limit", message, status=status, retry_after=float(retry_after) if retry_after else None)
    if status == 404:
        return UpstreamFailure("not_found", message, status=status)
    if status == 400:
        return UpstreamFailure("request", message, status=status)
    return UpstreamFailure("server", message, status=status)


class FakeAdapter(ChannelAdapter):
    """Calls ``Upstream`` with httpx; the host's upstream client is not needed here."""

    supports_model_list = True

    async def chat(self, request: ChatRequest, target: UpstreamTarget):  # type: ignore[override]
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                f"{target.endpoint}/v1/chat/completions",
                headers={"Authorization": f"Bearer {target.key}"},
                json={"model": target.model, "messages": [{"role": "user", "content": "hi"}]},
            )
        if response.status_code != 200:
            raise _failure(response.status_code, response.text, response.headers)
        yield TextDelta(response.json()["choices"][0]["message"]["content"])
        yield Finish("stop")

    async def list_models(self, target: UpstreamTarget) -> list[str]:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{target.endpoint}/v1/models", headers={"Authorization": f"Bearer {target.key}"})
        if response.status_code != 200:
            raise _failure(response.status_code, response.text, response.headers)
        return [item["id"] for item in response.json()["data"]]


class FakeChannelPlugin:
    """Registers the ``fake`` channel type."""

    @hookimpl
    def register_channel_types(self, register: Any) -> None:
        register(
            ChannelType(
                name="fake",
                adapter=FakeAdapter,
                label="Fake vendor",
                settings_schema=FAKE_SCHEMA,
                template_models=("fake-small", "fake-large"),
                default_endpoint="",
            )
        )


def install_adapter(host: TestHost) -> None:
    """Make sure ``ctx.services["adapters"]`` has a ``fake`` adapter (the relay builds it when present)."""
    adapters = host.ctx.services.setdefault("adapters", {})
    if "fake" not in adapters:
        adapters["fake"] = FakeAdapter(http=None)  # type: ignore[arg-type]


async def _open(stack: str, tmp_path: Path, server_databases: Any) -> tuple[Database, SharedState]:
    backend, state_kind = stack.split("-")
    if backend == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'channels.db'}")
        await create_tables(db)
    else:
        db = Database(await server_databases.url(backend))
    state: SharedState = await redis_state_for_test() if state_kind == "redis" else MemoryState(prefix="test:")
    return db, state


@pytest.fixture
async def channel_host(stack: str, tmp_path: Path, server_databases: Any) -> AsyncIterator[TestHost]:
    """A started host with the ``fake`` channel type registered by a test plugin."""
    db, state = await _open(stack, tmp_path, server_databases)
    prefix = state.prefix
    host = TestHost(tmp_path, plugins=[("fake-channel", FakeChannelPlugin())], db=db, state=state, create_schema=False)
    try:
        async with host:
            install_adapter(host)
            yield host
    finally:
        if db.backend != "sqlite":
            reopened = Database(db.url)
            await clear_database(reopened)
            await reopened.dispose()
        if stack.endswith("redis"):
            cleanup = await redis_state_for_test()
            cleanup.prefix = prefix
            await drop_prefix(cleanup)
            await cleanup.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """A started local upstream that accepts the key ``good``."""
    server = Upstream(valid_keys={"good"})
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def admin(channel_host: TestHost) -> dict[str, str]:
    """Headers that sign in as the root admin of ``channel_host``."""
    host = channel_host
    async with host.ctx.db.session() as session:
        root = await session.scalar(select(User).where(User.username == "root"))
    assert root is not None
    token = await host.ctx.services["auth"].issue_token(root)
    return {"Authorization": f"Bearer {token}"}
