"""Fixtures of the relay tests: a host factory with the scripted and openai channel types."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from chatnio_host.db.session import Database
from chatnio_host.state import MemoryState
from chatnio_host.testing import TestHost, clear_database, create_tables, drop_prefix, redis_state_for_test
from relay_scripted import SCRIPTS, ScriptedPlugin

HostFactory = Callable[..., contextlib.AbstractAsyncContextManager[TestHost]]


def _plugins() -> list[tuple[str, object]]:
    plugins: list[tuple[str, object]] = [("scripted", ScriptedPlugin())]
    try:
        import chatnio_openai
    except ImportError:
        return plugins
    plugins.append(("openai", chatnio_openai))
    return plugins


@pytest.fixture
def open_host(stack: str, tmp_path: Path, server_databases: Any) -> HostFactory:
    """Return a factory: ``async with open_host(first_byte_timeout=2) as host`` on the stack."""

    @contextlib.asynccontextmanager
    async def factory(**settings: Any) -> AsyncIterator[TestHost]:
        backend, state_kind = stack.split("-")
        if backend == "sqlite":
            database = Database(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
            await create_tables(database)
        else:
            database = Database(await server_databases.url(backend))
        shared = await redis_state_for_test() if state_kind == "redis" else MemoryState(prefix="relay:")
        SCRIPTS.by_channel.clear()
        SCRIPTS.calls.clear()
        SCRIPTS.requests.clear()
        SCRIPTS.outcomes.clear()
        test_host = TestHost(tmp_path, plugins=_plugins(), db=database, state=shared, create_schema=False, **settings)
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
