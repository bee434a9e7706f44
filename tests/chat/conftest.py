"""Fixtures of the chat tests: a host with the openai plugin and a fake OpenAI vendor."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from chatnio_host.db.session import Database
from chatnio_host.state import MemoryState
from chatnio_host.testing import TestHost, clear_database, create_tables, drop_prefix, redis_state_for_test

HostFactory = Callable[..., contextlib.AbstractAsyncContextManager[TestHost]]


@pytest.fixture
def open_host(stack: str, tmp_path: Path, server_databases: Any) -> HostFactory:
    """Return a factory: ``async with open_host() as host`` on the stack's database and state."""
    import chatnio_openai

    @contextlib.asynccontextmanager
    async def factory(**settings: Any) -> AsyncIterator[TestHost]:
        backend, state_kind = stack.split("-")
        if backend == "sqlite":
            database = Database(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
            await create_tables(database)
        else:
            database = Database(await server_databases.url(backend))
        shared = await redis_state_for_test() if state_kind == "redis" else MemoryState(prefix="chat:")
        test_host = TestHost(tmp_path, plugins=[("openai", chatnio_openai)], db=database, state=shared,
                             create_schema=False, **settings)
        try:
            async with test_host:
                yield test_host
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

    return factory
