"""Alembic owns the schema: upgrades on real servers, model agreement, locking, refusal."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from chatnio_host.db import migrate
from chatnio_host.db.models import Base
from chatnio_host.db.session import Database
from chatnio_host.testing import (
    MARIADB_ADMIN_URL,
    POSTGRES_ADMIN_URL,
    create_server_database,
    drop_server_database,
)

SERVERS = {"postgresql": POSTGRES_ADMIN_URL, "mariadb": MARIADB_ADMIN_URL}


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    admin = SERVERS[request.param]
    url = await create_server_database(admin)
    try:
        yield url
    finally:
        await drop_server_database(admin, url)


def cli_env(url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CHATNIO_", "MYSQL_", "REDIS_"))}
    env.update({"DATABASE_URL": url, "SECRET": "m" * 40})
    return env


def run_cli(tmp_path: Path, url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatnio_host", *args],
        cwd=tmp_path, env=cli_env(url), capture_output=True, text=True, timeout=timeout,
    )


def _diff(connection) -> list:  # type: ignore[no-untyped-def]
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_db_upgrade_creates_schema_matching_models(empty_url: str, tmp_path: Path) -> None:
    result = run_cli(tmp_path, empty_url, "db", "upgrade")
    assert result.returncode == 0, result.stderr

    db = Database(empty_url)
    try:
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            differences = await connection.run_sync(_diff)
        current = await migrate.current_revision(db.engine)
    finally:
        await db.dispose()

    assert set(Base.metadata.tables) <= tables
    assert differences == []
    assert current == migrate.head_revision()


async def test_db_current_reports_head(empty_url: str, tmp_path: Path) -> None:
    assert run_cli(tmp_path, empty_url, "db", "upgrade").returncode == 0

    result = run_cli(tmp_path, empty_url, "db", "current")

    assert result.returncode == 0, result.stderr
    assert f"head {migrate.head_revision()} (current)" in result.stdout


async def test_concurrent_upgrades_apply_once(tmp_path: Path) -> None:
    admin = POSTGRES_ADMIN_URL
    url = await create_server_database(admin)
    try:
        command = [sys.executable, "-m", "chatnio_host", "db", "upgrade"]
        processes = [
            subprocess.Popen(command, cwd=tmp_path, env=cli_env(url), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=180) for process in processes]

        assert [process.returncode for process in processes] == [0, 0], outputs
        logs = "".join(stderr for _stdout, stderr in outputs)
        assert logs.count("database migrated from") == 1
        assert logs.count("database already at") == 1
    finally:
        await drop_server_database(admin, url)


def _previous_revision() -> str | None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    head = script.get_revision(script.get_current_head())
    down = head.down_revision
    return down if isinstance(down, str) or down is None else down[0]


async def test_serve_refuses_schema_behind(tmp_path: Path) -> None:
    admin = POSTGRES_ADMIN_URL
    url = await create_server_database(admin)
    try:
        previous = _previous_revision()
        if previous is not None:
            assert run_cli(tmp_path, url, "db", "upgrade", previous).returncode == 0

        result = run_cli(tmp_path, url, "serve", "--port", "0", timeout=60)

        assert result.returncode != 0
        assert "chatnio db upgrade" in result.stderr
    finally:
        await drop_server_database(admin, url)
