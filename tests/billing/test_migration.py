"""The 0003_billing migration creates exactly the billing tables of the models."""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from chatnio_host.db.migrate import MIGRATIONS_DIR, alembic_config
from chatnio_host.db.models import Base

BILLING_TABLES = {
    "balances",
    "ledger_entries",
    "holds",
    "usage_records",
    "daily_aggregates",
    "subscriptions",
    "subscription_usage",
    "redeem_codes",
    "gift_codes",
}


def _scripts_up_to_billing(tmp_path: Path) -> str:
    """Copy the migration scripts up to 0003_billing, so later concepts' scripts cannot break this test."""
    target = tmp_path / "migrations"
    (target / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(MIGRATIONS_DIR / name, target / name)
    for name in ("0001_foundation.py", "0002_accounts.py", "0003_billing.py"):
        shutil.copy(MIGRATIONS_DIR / "versions" / name, target / "versions" / name)
    return str(target)


def test_billing_migration_matches_models(tmp_path: Path) -> None:
    scripts = _scripts_up_to_billing(tmp_path)
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config()
        config.set_main_option("script_location", scripts)
        config.attributes["connection"] = connection
        command.upgrade(config, "0003_billing")

    assert BILLING_TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [
            diff for diff in compare_metadata(context, Base.metadata)
            if _table_of(diff) in BILLING_TABLES
        ]
    assert differences == []

    with engine.begin() as connection:
        config = alembic_config()
        config.set_main_option("script_location", scripts)
        config.attributes["connection"] = connection
        command.downgrade(config, "0002_accounts")
    assert not BILLING_TABLES & set(inspect(engine).get_table_names())
    engine.dispose()


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:] if isinstance(item, tuple) else ():
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return table.name
        if isinstance(part, str):
            return part
        if name and hasattr(part, "columns"):
            return name
    return None
