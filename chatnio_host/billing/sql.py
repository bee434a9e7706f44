"""Portable statements on SQLite, PostgreSQL and MySQL: insert-or-ignore, insert-or-add and lock-or-create."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

__all__ = ["insert_ignore", "insert_or_add", "lock_or_create"]


def insert_ignore(backend: str, table: Table, values: Mapping[str, Any]) -> Insert:
    """Return an INSERT of ``values`` that does nothing when the key already exists."""
    if backend == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    if backend in ("mysql", "mariadb"):
        return mysql.insert(table).values(**values).prefix_with("IGNORE")
    return sqlite.insert(table).values(**values).on_conflict_do_nothing()


def insert_or_add(backend: str, table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Insert:
    """Return one INSERT of ``rows`` that, for each row whose ``keys`` exist, adds its other values to it."""
    counters = [name for name in rows[0] if name not in keys]
    if backend in ("mysql", "mariadb"):
        statement = mysql.insert(table).values(list(rows))
        return statement.on_duplicate_key_update(
            {name: table.c[name] + statement.inserted[name] for name in counters}
        )
    dialect = postgresql if backend == "postgresql" else sqlite
    statement = dialect.insert(table).values(list(rows))
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in counters},
    )


async def lock_or_create(
    session: AsyncSession,
    backend: str,
    table: Table,
    where: Sequence[ColumnElement[bool]],
    touch: str,
    values: Mapping[str, Any],
) -> None:
    """Lock the row matching ``where`` for the transaction, inserting ``values`` when it is missing.

    The lock is a no-op UPDATE (``SET touch = touch``), an exclusive lock from the start. An
    INSERT IGNORE before an UPDATE would take a shared lock first, and two transactions that
    both upgrade it deadlock on MySQL. The first statement is a write, so SQLite takes its write
    lock before any read.
    """
    locked = await session.execute(update(table).where(*where).values({touch: table.c[touch]}))
    if locked.rowcount:
        return
    if backend == "sqlite":
        # SQLite has one writer at a time, and this transaction already holds the write lock.
        await session.execute(insert(table).values(**values))
        return
    try:
        async with session.begin_nested():
            await session.execute(insert(table).values(**values))
    except IntegrityError:
        # Another transaction inserted the row after the UPDATE above; lock that row instead.
        await session.execute(update(table).where(*where).values({touch: table.c[touch]}))
