"""Fixtures of the response cache tests: hosts with the openai and web_search plugins on each stack."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import chatnio_openai
import chatnio_web_search
import pytest

from chatnio_host.db.session import Database
from chatnio_host.state import MemoryState, RedisState
from chatnio_host.testing import REDIS_TEST_URL, TestHost, clear_database, create_tables, drop_prefix

HostFactory = Callable[..., contextlib.AbstractAsyncContextManager[TestHost]]

PLUGINS: list[tuple[str, object]] = [("openai", chatnio_openai), ("web_search", chatnio_web_search)]


@pytest.fixture
def open_hosts(stack: str, tmp_path: Path, server_databases: Any) -> HostFactory:
    """Return a factory of hosts that share one database and, on Redis stacks, one Redis prefix.

    ``async with open_hosts(2) as (first, second)`` starts two app instances, as two replicas.
    """

    @contextlib.asynccontextmanager
    async def factory(count: int = 1, **settings: Any) -> AsyncIterator[list[TestHost]]:
        backend, state_kind = stack.split("-")
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}"
            first_db = Database(url)
            await create_tables(first_db)
            await first_db.dispose()
        else:
            url = await server_databases.url(backend)
        prefix = f"cache-test:{tmp_path.name}:"
        hosts: list[TestHost] = []
        async with contextlib.AsyncExitStack() as stack_:
            for index in range(count):
                state = RedisState(REDIS_TEST_URL, prefix=prefix) if state_kind == "redis" else MemoryState(prefix=prefix)
                host = TestHost(
                    tmp_path / f"host{index}", plugins=PLUGINS, db=Database(url), state=state, create_schema=False,
                    **settings,
                )
                hosts.append(await stack_.enter_async_context(host))
            try:
                yield hosts
            finally:
                if backend != "sqlite":
                    reopened = Database(url)
                    await clear_database(reopened)
                    await reopened.dispose()
                if state_kind == "redis":
                    cleanup = RedisState(REDIS_TEST_URL, prefix=prefix)
                    await drop_prefix(cleanup)
                    await cleanup.close()

    return factory
