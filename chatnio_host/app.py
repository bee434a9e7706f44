"""``create_app(settings)``: build the FastAPI app and wire every concept into it."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from chatnio_host.clock import Clock
from chatnio_host.config import Settings, load_settings
from chatnio_host.context import AppContext
from chatnio_host.db import migrate
from chatnio_host.db.session import Database
from chatnio_host.errors import StartupError
from chatnio_host.logs import configure_logging
from chatnio_host.plugins import PluginHost, call_async_hook, load_plugins, parse_load_list
from chatnio_host.site.store import SiteSettingsStore
from chatnio_host.state import SharedState, create_state
from chatnio_host.version import __version__
from chatnio_host.web.cors import CORSMiddleware
from chatnio_host.web.errors import install_error_handlers
from chatnio_host.web.middleware import BodyLimitMiddleware, RequestIdMiddleware

__all__ = ["CONCEPTS", "create_app"]

logger = logging.getLogger(__name__)

# Each package may define ``setup(app, ctx)``; they run in this order, and the static web app last.
CONCEPTS: tuple[str, ...] = (
    "health",
    "auth",
    "billing",
    "channels",
    "relay",
    "files",
    "search",
    "chat",
    "site",
    "admin",
    "web.static",
)


async def check_schema(ctx: AppContext) -> None:
    """Migrate the embedded database, or refuse to run on a schema older than the code."""
    auto = ctx.settings.auto_migrate
    if auto is None:
        auto = ctx.settings.is_sqlite
    if auto:
        await migrate.upgrade(ctx.db.engine)
        return
    current = await migrate.current_revision(ctx.db.engine)
    head = migrate.head_revision()
    if current != head:
        message = (
            f"The database schema is at {current or 'nothing (empty database)'} but this code needs "
            f"{head}. Run `chatnio db upgrade` first."
        )
        raise StartupError(message)


def _setup_concepts(app: FastAPI, ctx: AppContext, concepts: Iterable[str]) -> None:
    for name in concepts:
        module = importlib.import_module(f"chatnio_host.{name}")
        setup = getattr(module, "setup", None)
        if setup is not None:
            setup(app, ctx)


def create_app(
    settings: Settings | None = None,
    *,
    plugins: PluginHost | None = None,
    extra_plugins: Iterable[tuple[str, object]] = (),
    state: SharedState | None = None,
    db: Database | None = None,
    clock: Clock | None = None,
    check_schema_on_start: bool = True,
    configure_logs: bool = True,
) -> FastAPI:
    """Build the app. Tests pass their own database, state, clock or plugins."""
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(settings.log_level, settings.log_format)
    if plugins is None:
        import os

        plugins = load_plugins(
            only=parse_load_list(os.environ.get("CHATNIO_LOAD_PLUGINS")), extra_plugins=extra_plugins
        )
    db = db or Database(settings.database_url)
    state = state or create_state(settings.redis_url)
    ctx = AppContext(
        settings=settings,
        db=db,
        state=state,
        plugins=plugins,
        site=SiteSettingsStore(db, state),
        clock=clock or Clock(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info("chatnio %s starting on %s", __version__, ctx.db.backend)
        if check_schema_on_start:
            await check_schema(ctx)
        for task in ctx.startup_tasks:
            await task(ctx)
        await call_async_hook(plugins.pm.hook.startup(app=app))
        logger.info("chatnio started")
        try:
            yield
        finally:
            logger.info("chatnio stopping")
            await call_async_hook(plugins.pm.hook.shutdown(app=app))
            for task in reversed(ctx.shutdown_tasks):
                try:
                    await task(ctx)
                except Exception:  # noqa: BLE001 - keep shutting the rest down
                    logger.exception("shutdown task %s failed", getattr(task, "__name__", task))
            await ctx.state.close()
            await ctx.db.dispose()
            logger.info("chatnio stopped")

    app = FastAPI(
        title="Chat Nio",
        version=__version__,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    _setup_concepts(app, ctx, CONCEPTS)

    from fastapi import APIRouter

    plugin_router = APIRouter()
    plugins.pm.hook.register_routes(router=plugin_router, app=app)
    app.include_router(plugin_router)
    for inbound in plugins.registry.inbound_formats.values():
        inbound.mount(app)

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=settings.allow_origins)
    return app


def _operation_id(route: Any) -> str:
    tag = route.tags[0] if getattr(route, "tags", None) else "default"
    return f"{tag}-{route.name}"
