"""Fixtures: real databases (SQLite, PostgreSQL, MariaDB), real shared state (memory, Redis).

``stack`` runs a test on each pairing of database and shared state in ``STACKS``. Narrow it for
a quick local run with ``CHATNIO_TEST_STACKS=sqlite-memory``; CI runs them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatnio_host.db.session import Database
from chatnio_host.state import MemoryState, SharedState
from chatnio_host.testing import (
    MARIADB_ADMIN_URL,
    POSTGRES_ADMIN_URL,
    TestHost,
    clear_database,
    create_server_database,
    create_tables,
    drop_prefix,
    drop_server_database,
    redis_state_for_test,
)

os.environ.pop("CHATNIO_LOAD_PLUGINS", None)

ALL_STACKS = ("sqlite-memory", "postgresql-redis", "mariadb-redis")
STACKS = tuple(
    name.strip() for name in os.environ.get("CHATNIO_TEST_STACKS", ",".join(ALL_STACKS)).split(",") if name.strip()
)
ALL_STATES = ("memory", "redis")
STATES = tuple(
    name.strip() for name in os.environ.get("CHATNIO_TEST_STATES", ",".join(ALL_STATES)).split(",") if name.strip()
)


class _ServerDatabases:
    """One PostgreSQL and one MariaDB database per test session, created on first use."""

    def __init__(self) -> None:
        self.urls: dict[str, tuple[str, str]] = {}

    async def url(self, backend: str) -> str:
        if backend not in self.urls:
            admin = POSTGRES_ADMIN_URL if backend == "postgresql" else MARIADB_ADMIN_URL
            url = await create_server_database(admin)
            db = Database(url)
            await create_tables(db)
            await db.dispose()
            self.urls[backend] = (admin, url)
        return self.urls[backend][1]

    def close(self) -> None:
        for admin, url in self.urls.values():
            asyncio.run(drop_server_database(admin, url))


@pytest.fixture(scope="session")
def server_databases() -> Iterator[_ServerDatabases]:
    databases = _ServerDatabases()
    yield databases
    databases.close()


async def _open_database(backend: str, tmp_path: Path, server_databases: _ServerDatabases) -> Database:
    if backend == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await create_tables(db)
        return db
    return Database(await server_databases.url(backend))


async def _open_state(kind: str) -> SharedState:
    if kind == "redis":
        return await redis_state_for_test()
    return MemoryState(prefix="test:")


async def _close(db: Database | None, state: SharedState | None) -> None:
    if db is not None:
        if db.backend != "sqlite":
            await clear_database(db)
        await db.dispose()
    if state is not None:
        if hasattr(state, "client"):
            await drop_prefix(state)  # type: ignore[arg-type]
        await state.close()


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    """The name of a database and shared-state pairing, such as ``postgresql-redis``."""
    return request.param


@pytest.fixture
async def db(stack: str, tmp_path: Path, server_databases: _ServerDatabases) -> AsyncIterator[Database]:
    """An empty database with every table, on the stack's backend."""
    database = await _open_database(stack.split("-")[0], tmp_path, server_databases)
    try:
        yield database
    finally:
        await _close(database, None)


@pytest.fixture(params=STATES)
async def state(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    """A shared state with a key prefix of its own: in process, then Redis."""
    shared = await _open_state(request.param)
    try:
        yield shared
    finally:
        await _close(None, shared)


HostFactory = Callable[..., contextlib.AbstractAsyncContextManager[TestHost]]


@pytest.fixture
def stack_host(stack: str, tmp_path: Path, server_databases: _ServerDatabases) -> HostFactory:
    """Return a factory: ``async with stack_host(plugins=[...], **settings) as host`` on the stack.

    The host runs on the stack's database and shared state; rows and keys are removed afterwards.
    """

    @contextlib.asynccontextmanager
    async def factory(*, plugins: Iterable[tuple[str, object]] = (), **settings: Any) -> AsyncIterator[TestHost]:
        backend, state_kind = stack.split("-")
        database = await _open_database(backend, tmp_path, server_databases)
        shared = await _open_state(state_kind)
        test_host = TestHost(tmp_path, plugins=list(plugins), db=database, state=shared, create_schema=False,
                             **settings)
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


@pytest.fixture
async def host(stack_host: HostFactory) -> AsyncIterator[TestHost]:
    """A started host on the stack's database and shared state."""
    async with stack_host() as test_host:
        yield test_host
