"""Fixtures for the auth tests: hosts with chosen settings on the stack, a second replica, a mail sink."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import APIRouter

from chatnio_host.auth.deps import KeyOrUser, OptionalUser, RelayCaller
from chatnio_host.db.session import Database
from chatnio_host.state import MemoryState, RedisState, SharedState
from chatnio_host.testing import (
    REDIS_TEST_URL,
    TestHost,
    clear_database,
    create_tables,
    drop_prefix,
    redis_state_for_test,
)

ROOT_DEFAULT = "chatnio123456"


def probe_router() -> APIRouter:
    """Routes that only report the caller, standing in for the relay and dashboard endpoints."""
    router = APIRouter()

    @router.get("/v1/_probe")
    async def v1_probe(caller: RelayCaller) -> dict[str, Any]:
        return {"user_id": caller.user.id, "key_id": caller.api_key_id, "group": caller.group,
                "allowed_models": caller.allowed_models}

    @router.get("/v1beta/_probe")
    async def v1beta_probe(caller: RelayCaller) -> dict[str, Any]:
        return {"user_id": caller.user.id, "key_id": caller.api_key_id}

    @router.get("/api/_probe/optional")
    async def optional_probe(user: OptionalUser) -> dict[str, Any]:
        return {"user_id": user.id if user else None}

    @router.get("/dashboard/_probe")
    async def dashboard_probe(caller: KeyOrUser) -> dict[str, Any]:
        return {"user_id": caller.user.id, "key_id": caller.api_key_id}

    return router


class HostFactory:
    """Start hosts on the test's stack; ``replica_of`` shares the database and shared state."""

    def __init__(self, stack: str, tmp_path: Path, server_databases: Any) -> None:
        self.backend, self.state_kind = stack.split("-")
        self.tmp_path = tmp_path
        self.server_databases = server_databases
        self.url: str | None = None
        self.prefix: str | None = None
        self.memory_state: MemoryState | None = None
        self.started: list[TestHost] = []

    async def _database(self) -> Database:
        if self.url is None:
            if self.backend == "sqlite":
                self.url = f"sqlite+aiosqlite:///{self.tmp_path / 'auth.db'}"
                db = Database(self.url)
                await create_tables(db)
                return db
            self.url = await self.server_databases.url(self.backend)
        return Database(self.url)

    async def _state(self) -> SharedState:
        if self.state_kind == "redis":
            if self.prefix is None:
                state = await redis_state_for_test()
                self.prefix = state.prefix
                return state
            return RedisState(REDIS_TEST_URL, prefix=self.prefix)
        if self.memory_state is None:
            self.memory_state = MemoryState(prefix="test:")
        return self.memory_state

    async def start(self, **settings: Any) -> TestHost:
        """Start a host with these process settings; later calls are replicas of the first."""
        db = await self._database()
        state = await self._state()
        host = TestHost(self.tmp_path, db=db, state=state, create_schema=False, **settings)
        host.app.include_router(probe_router())
        await host.__aenter__()
        self.started.append(host)
        return host

    async def close(self) -> None:
        for host in reversed(self.started):
            await host.__aexit__(None, None, None)
        if self.url is not None and self.backend != "sqlite":
            db = Database(self.url)
            await clear_database(db)
            await db.dispose()
        if self.prefix is not None:
            cleanup = await redis_state_for_test()
            cleanup.prefix = self.prefix
            await drop_prefix(cleanup)
            await cleanup.close()


@pytest.fixture
async def hosts(stack: str, tmp_path: Path, server_databases: Any) -> AsyncIterator[HostFactory]:
    """A factory of started hosts on the stack's database and shared state."""
    factory = HostFactory(stack, tmp_path, server_databases)
    try:
        yield factory
    finally:
        await factory.close()


@pytest.fixture
async def app_host(hosts: HostFactory) -> TestHost:
    """One started host with default settings and the probe routes."""
    return await hosts.start()


@dataclass
class MailSink:
    """A real SMTP server on 127.0.0.1 that keeps every message it receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    def to(self, address: str) -> list[EmailMessage]:
        """Return the messages sent to ``address``."""
        return [message for message in self.messages if message["To"] == address]

    async def wait_for(self, address: str, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until ``count`` messages to ``address`` have arrived and return them."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.to(address)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} mails to {address}, got {len(self.to(address))}")
            await asyncio.sleep(0.02)
        return self.to(address)

    def last_code(self, address: str) -> str:
        """Return the 6-digit code of the newest mail to ``address``."""
        body = self.to(address)[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        match = re.search(r"\b(\d{6})\b", body)
        assert match, f"no code in mail body {body!r}"
        return match.group(1)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.sink.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    """An aiosmtpd server on 127.0.0.1 and a free port, stopped after the test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = MailSink(host="127.0.0.1", port=port)
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


async def configure_mail(host: TestHost, sink: MailSink, admin_token: str) -> None:
    """Point the host's SMTP settings at the sink through the admin API."""
    response = await host.client.put(
        "/api/admin/settings/mail",
        json={"host": sink.host, "port": sink.port, "security": "none", "sender": "noreply@chat.example.test"},
        headers=bearer(admin_token),
    )
    assert response.status_code == 200, response.text


async def update_auth_settings(host: TestHost, admin_token: str, **changes: Any) -> dict[str, Any]:
    """Change fields of the auth settings through the admin API and return them."""
    current = (await host.client.get("/api/admin/settings/auth", headers=bearer(admin_token))).json()
    limits = changes.pop("rate_limits", {})
    current.update(changes)
    current["rate_limits"].update(limits)
    response = await host.client.put("/api/admin/settings/auth", json=current, headers=bearer(admin_token))
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    """Return an Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, username: str, password: str, **kwargs: Any) -> str:
    """Sign in and return the token; fails the test on any other response."""
    response = await client.post("/api/auth/login", json={"username": username, "password": password}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["token"]


async def root_token(host: TestHost) -> str:
    """Sign in as the root admin with the default password."""
    return await login(host.client, "root", ROOT_DEFAULT)


async def register(
    client: httpx.AsyncClient, username: str, password: str = "secret123", **fields: Any
) -> dict[str, Any]:
    """Register and return the response body; fails the test unless it is 201."""
    response = await client.post("/api/auth/register", json={"username": username, "password": password, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def create_key(client: httpx.AsyncClient, token: str, **fields: Any) -> dict[str, Any]:
    """Create an API key and return the response, which contains the full key."""
    response = await client.post("/api/keys", json={"name": "test", **fields}, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()
