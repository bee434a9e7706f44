"""The async engine and session factory for one database URL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

__all__ = ["Database", "engine_options"]

logger = logging.getLogger(__name__)


POOL_SIZE = 20
"""Connections a server database pool keeps open. A request checks one out twice (hold and
settlement), and a connection beyond the pool is closed when it is returned, so a pool smaller
than the concurrent transactions opens a new connection for many requests."""
MAX_OVERFLOW = 10
"""Connections opened beyond ``POOL_SIZE`` in a burst (30 in all per process, as before)."""


def engine_options(url: str) -> dict[str, Any]:
    """Return engine keyword arguments suited to the URL's backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": 30}}
    options: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
    if parsed.get_driver_name() == "asyncpg":
        # SQLAlchemy's asyncpg ping costs three round trips (BEGIN, a query, ROLLBACK) per checkout.
        # _check_asyncpg_on_checkout reads the connection's own state instead, which turns closed
        # when the server closes the socket (a restart or a terminated backend).
        options["pool_pre_ping"] = False
    else:
        options["pool_pre_ping"] = True
    if parsed.get_backend_name() == "mysql":
        options["pool_recycle"] = 3600
    return options


def _check_asyncpg_on_checkout(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver_connection = getattr(dbapi_connection, "driver_connection", None)
        is_closed = getattr(driver_connection, "is_closed", None)
        if is_closed is not None and is_closed():
            logger.info("a pooled database connection was closed by the server; opening a new one")
            # The pool discards this connection and checks out another (up to three times).
            raise DisconnectionError("the server closed the pooled connection")


def _prepare_sqlite(engine: AsyncEngine, url: str) -> None:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL keeps the database consistent after a crash and skips an fsync per
        # commit; a power cut may lose the last commits, never corrupt the file.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


class Database:
    """One database: its engine and a factory of sessions that keep objects after commit."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        merged = {**engine_options(url), **options}
        self.engine: AsyncEngine = create_async_engine(url, **merged)
        self.backend = self.engine.dialect.name
        if self.backend == "sqlite":
            _prepare_sqlite(self.engine, url)
        elif self.engine.dialect.driver == "asyncpg" and not merged.get("pool_pre_ping"):
            _check_asyncpg_on_checkout(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session; roll back on error. Commit is the caller's decision."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Yield a session inside a transaction that commits when the block ends without error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[AsyncConnection]:
        """Yield a Core connection inside a transaction that commits when the block ends without error.

        On SQLite these transactions run one at a time per process. SQLite has one writer, and
        a connection that finds the write lock taken sleeps in SQLite's busy handler for up to
        100 ms per retry, so concurrent writers queue on an asyncio lock instead. Do not open
        another ``write_transaction`` inside the block: the lock is not reentrant.
        """
        lock = self._write_lock()
        if lock is None:
            async with self.engine.begin() as connection:
                yield connection
            return
        async with lock, self.engine.begin() as connection:
            yield connection

    def _write_lock(self) -> asyncio.Lock | None:
        if self.backend != "sqlite":
            return None
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            # One lock per event loop: tests may use one Database from several loops in turn.
            self._write_locks = {loop: asyncio.Lock()}
            lock = self._write_locks[loop]
        return lock

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises when the database is unreachable."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
