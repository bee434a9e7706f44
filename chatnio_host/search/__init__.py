"""Web search for ``web-`` models and the chat's search toggle; also sets up the response cache.

The response cache (``chatnio_host.relay.cache``) is created here so that the relay package
stays free of optional features: ``ctx.services["cache"]`` exists whenever this concept runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatnio_host.context import AppContext

__all__ = ["setup"]


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Create ``ctx.services["search"]`` and ``ctx.services["cache"]`` and add their admin routes."""
    from chatnio_host.relay.cache import ResponseCache
    from chatnio_host.search.router import cache_router, router
    from chatnio_host.search.service import SearchService

    search = SearchService(ctx)
    ctx.services["search"] = search
    ctx.services.setdefault("cache", ResponseCache(ctx))

    async def close_search(_ctx: AppContext) -> None:
        await search.close()

    ctx.shutdown_tasks.append(close_search)
    app.include_router(router)
    app.include_router(cache_router)
