"""Helpers for tests of the host and of plugins: throwaway databases, apps and clients.

A plugin's own test suite can build a full host around itself::

    from chatnio_host.testing import TestHost

    async def test_my_adapter(tmp_path):
        async with TestHost(tmp_path, plugins=[("my_plugin", my_plugin_module)]) as host:
            response = await host.client.get("/v1/models")

Throwaway databases are made with ``create_all``; only these may skip migrations.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete

from chatnio_host.app import create_app
from chatnio_host.clock import Clock
from chatnio_host.config import Settings, load_settings
from chatnio_host.db.models import Base
from chatnio_host.db.session import Database
from chatnio_host.plugins import PluginHost, load_plugins
from chatnio_host.state import MemoryState, RedisState, SharedState

__all__ = [
    "POSTGRES_ADMIN_URL",
    "MARIADB_ADMIN_URL",
    "REDIS_TEST_URL",
    "TestHost",
    "clear_database",
    "create_tables",
    "lifespan",
    "make_settings",
    "serve_app",
    "create_server_database",
    "drop_server_database",
    "temporary_server_database",
]

POSTGRES_ADMIN_URL = os.environ.get("CHATNIO_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
MARIADB_ADMIN_URL = os.environ.get("CHATNIO_TEST_MARIADB", "mysql+aiomysql://root@127.0.0.1:3306/test")
REDIS_TEST_URL = os.environ.get("CHATNIO_TEST_REDIS", "redis://127.0.0.1:6379/0")


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Return settings for a test: a fixed secret, a temporary data folder, no static files."""
    values: dict[str, Any] = {
        "secret": "test-secret-" + "x" * 32,
        "data_dir": str(tmp_path / "data"),
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chatnio.db'}",
        "serve_static": False,
        "log_level": "INFO",
    }
    values.update(overrides)
    return load_settings({}, tmp_path / "missing-config.yaml", **values)


async def create_tables(db: Database) -> None:
    """Create every table with ``create_all`` (throwaway test databases only)."""
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)


async def clear_database(db: Database) -> None:
    """Delete every row of every table, children first."""
    async with db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))


async def create_server_database(admin_url: str) -> str:
    """Create an empty PostgreSQL or MariaDB database and return its URL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"chatnio_t_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_server_database(admin_url: str, url: str) -> None:
    """Drop the database that ``create_server_database`` made."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = make_url(url).database
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            if admin.dialect.name == "postgresql":
                await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    finally:
        await admin.dispose()


@asynccontextmanager
async def temporary_server_database(admin_url: str) -> AsyncIterator[str]:
    """Create an empty PostgreSQL or MariaDB database, yield its URL, and drop it afterwards."""
    url = await create_server_database(admin_url)
    try:
        yield url
    finally:
        await drop_server_database(admin_url, url)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's startup and shutdown around the block."""
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def serve_app(target: FastAPI | TestHost, **config: Any) -> AsyncIterator[str]:
    """Serve an app (or a TestHost's app) with uvicorn on a free 127.0.0.1 port; yield its base URL.

    The app's lifespan is not run again: a TestHost has already started it. ``config`` goes to
    ``uvicorn.Config`` (for example ``log_level="info", access_log=True``).
    """
    import asyncio

    import uvicorn

    app = target.app if isinstance(target, TestHost) else target
    options: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "lifespan": "off", "log_level": "warning"}
    options.update(config)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def client_for(app: FastAPI, **kwargs: Any) -> httpx.AsyncClient:
    """Return an httpx client that calls ``app`` in process."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", **kwargs)


class TestHost:
    """A running host for one test: app, client, database, shared state and clock.

    With no ``db`` a fresh SQLite file under ``tmp_path`` is used, with no ``state`` an in-process
    one. ``plugins`` are ``(name, object)`` pairs registered for this host only; installed entry
    points are loaded only when ``load_entry_points`` is set. The schema comes from ``create_all``,
    or from the migrations with ``migrate``.
    """

    __test__ = False

    def __init__(
        self,
        tmp_path: Path,
        *,
        plugins: Iterable[tuple[str, object]] = (),
        load_entry_points: bool = False,
        db: Database | None = None,
        state: SharedState | None = None,
        clock: Clock | None = None,
        create_schema: bool = True,
        migrate: bool = False,
        **settings: Any,
    ) -> None:
        self.settings = make_settings(tmp_path, **settings)
        self.plugin_host: PluginHost = load_plugins(
            load_entry_points=load_entry_points, only=None, extra_plugins=list(plugins)
        )
        self.db = db or Database(self.settings.database_url)
        self.state = state or MemoryState(prefix=f"t{secrets.token_hex(4)}:")
        self.clock = clock or Clock()
        self.create_schema = create_schema
        self.migrate = migrate
        self.app = create_app(
            self.settings,
            plugins=self.plugin_host,
            db=self.db,
            state=self.state,
            clock=self.clock,
            check_schema_on_start=False,
            configure_logs=False,
        )
        self.client = client_for(self.app)
        self._lifespan: Any = None

    @property
    def ctx(self) -> Any:
        """Return the app's context."""
        return self.app.state.ctx

    async def __aenter__(self) -> TestHost:
        if self.migrate:
            from chatnio_host.db import migrate

            await migrate.upgrade(self.db.engine)
        elif self.create_schema:
            await create_tables(self.db)
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.client.aclose()
        await self._lifespan.__aexit__(*exc_info)


async def redis_state_for_test() -> RedisState:
    """Return a Redis state with a key prefix of its own."""
    state = RedisState(REDIS_TEST_URL, prefix=f"test:{secrets.token_hex(6)}:")
    await state.ping()
    return state


async def drop_prefix(state: RedisState) -> None:
    """Delete every key under the state's prefix."""
    keys = [key async for key in state.client.scan_iter(match=state.prefix + "*", count=500)]
    if keys:
        await state.client.delete(*keys)


def run(coroutine: Any) -> Any:
    """Run a coroutine on a new event loop (for synchronous fixtures)."""
    return asyncio.run(coroutine)
