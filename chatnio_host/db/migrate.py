"""Schema migrations: upgrade under a database lock, and read the current and head revisions.

Two replicas that start together both call ``upgrade``; the lock makes the second wait until the
first is done, and then it finds nothing left to apply.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# An arbitrary constant shared by every replica: the key of the PostgreSQL advisory lock.
PG_LOCK_KEY = 804_940_001
MYSQL_LOCK_NAME = "chatnio_migrations"
LOCK_WAIT_SECONDS = 600


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic config pointing at the host's migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """Return the newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    database = make_url(url).database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _upgrade_locked(connection: Connection, target: str) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
        connection.commit()
    elif dialect in ("mysql", "mariadb"):
        acquired = connection.execute(
            text("SELECT GET_LOCK(:name, :wait)"), {"name": MYSQL_LOCK_NAME, "wait": LOCK_WAIT_SECONDS}
        ).scalar()
        connection.commit()
        if acquired != 1:
            raise TimeoutError(f"could not take the migration lock within {LOCK_WAIT_SECONDS} s")
    try:
        before = _current(connection)
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, target)
        connection.commit()
        after = _current(connection)
        if before != after:
            logger.info("database migrated from %s to %s", before or "empty", after)
        else:
            logger.info("database already at %s", after)
    finally:
        if dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
            connection.commit()
        elif dialect in ("mysql", "mariadb"):
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MYSQL_LOCK_NAME})
            connection.commit()


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    """Apply migrations up to ``target`` while holding the migration lock."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        with _sqlite_file_lock(url):
            async with engine.connect() as connection:
                await connection.run_sync(_upgrade_locked, target)
        return
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade_locked, target)
