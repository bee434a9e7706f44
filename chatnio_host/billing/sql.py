"""Portable statements: insert-or-ignore and insert-or-add on SQLite, PostgreSQL and MySQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert

__all__ = ["insert_ignore", "insert_or_add"]


def insert_ignore(backend: str, table: Table, values: Mapping[str, Any]) -> Insert:
    """Return an INSERT of ``values`` that does nothing when the key already exists."""
    if backend == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    if backend in ("mysql", "mariadb"):
        return mysql.insert(table).values(**values).prefix_with("IGNORE")
    return sqlite.insert(table).values(**values).on_conflict_do_nothing()


def insert_or_add(backend: str, table: Table, keys: Sequence[str], values: Mapping[str, Any]) -> Insert:
    """Return an INSERT that, when the row with ``keys`` exists, adds the other values to it."""
    counters = [name for name in values if name not in keys]
    if backend in ("mysql", "mariadb"):
        statement = mysql.insert(table).values(**values)
        return statement.on_duplicate_key_update(
            {name: table.c[name] + statement.inserted[name] for name in counters}
        )
    dialect = postgresql if backend == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in counters},
    )
