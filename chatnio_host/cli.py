"""The ``chatnio`` command: serve, db upgrade/current, plugins, config show."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from chatnio_host.config import Settings, load_settings, mask_value, settings_sources
from chatnio_host.errors import ChatnioError, StartupError
from chatnio_host.logs import configure_logging

__all__ = ["main"]


def _settings() -> Settings:
    return load_settings()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from chatnio_host.app import check_schema, create_app

    settings = _settings()
    if args.port:
        settings.port = args.port
    # The preflight below checks (or, on SQLite, applies) the schema before uvicorn starts, so a
    # schema behind the code stops the command with a non-zero exit instead of a failed lifespan.
    app = create_app(settings, check_schema_on_start=False)
    ctx = app.state.ctx

    async def preflight() -> None:
        try:
            await check_schema(ctx)
        finally:
            await ctx.db.dispose()

    asyncio.run(preflight())
    uvicorn.run(app, host=args.host or settings.host, port=settings.port, log_config=None, proxy_headers=False)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from chatnio_host.db import migrate
    from chatnio_host.db.session import Database

    settings = _settings()

    async def run() -> str | None:
        db = Database(settings.database_url)
        try:
            await migrate.upgrade(db.engine, args.revision)
            return await migrate.current_revision(db.engine)
        finally:
            await db.dispose()

    revision = asyncio.run(run())
    print(f"database at {revision}")
    return 0


def cmd_db_current(_args: argparse.Namespace) -> int:
    from chatnio_host.db import migrate
    from chatnio_host.db.session import Database

    settings = _settings()

    async def run() -> str | None:
        db = Database(settings.database_url)
        try:
            return await migrate.current_revision(db.engine)
        finally:
            await db.dispose()

    current = asyncio.run(run())
    head = migrate.head_revision()
    state = "current" if current == head else "behind: run `chatnio db upgrade`"
    print(f"current {current or '(empty database)'}, head {head} ({state})")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from chatnio_host.plugins import load_plugins, parse_load_list

    host = load_plugins(only=parse_load_list(os.environ.get("CHATNIO_LOAD_PLUGINS")))
    reports = [report.as_dict() for report in host.reports]
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    if not reports:
        print("No plugins installed.")
    for report in reports:
        line = f"{report['name']} ({report['distribution'] or '-'} {report['version'] or ''}): {report['status']}"
        if report["reason"]:
            line += f" - {report['reason']}"
        print(line.strip())
        if report["hooks"]:
            print(f"  hooks: {', '.join(report['hooks'])}")
        for kind, names in report["registered"].items():
            print(f"  {kind}: {', '.join(names)}")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    settings = load_settings(generate_secret=False)
    sources = settings_sources(settings)
    rows = []
    for field in Settings.model_fields:
        value = mask_value(field, getattr(settings, field))
        rows.append({"name": field, "value": value, "source": sources.get(field, "default")})
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['value']!s:<40}  ({row['source']})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatnio", description="Chat Nio for Python.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the server")
    serve.add_argument("--host", help="address to listen on (default HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default PORT or 8094)")
    serve.set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    upgrade.set_defaults(func=cmd_db_upgrade)
    current = db_commands.add_parser("current", help="print the schema revision")
    current.set_defaults(func=cmd_db_current)

    plugins = commands.add_parser("plugins", help="list installed plugins")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(func=cmd_plugins)

    config = commands.add_parser("config", help="settings")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser("show", help="print each setting and where it came from")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_config_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    args = build_parser().parse_args(argv)
    configure_logging(
        (os.environ.get("LOG_LEVEL") or "INFO").upper(), "json" if os.environ.get("LOG_FORMAT") == "json" else "text"
    )
    try:
        return args.func(args)
    except (StartupError, ChatnioError) as exc:
        print(f"chatnio: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
