"""Admin routes of web search and the response cache settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chatnio_host.auth.deps import AdminUser, JSONOnly
from chatnio_host.deps import CtxDep
from chatnio_host.relay.cache import SECTION as CACHE_SECTION
from chatnio_host.relay.cache import CacheSettings
from chatnio_host.search.format import QUERY_MAX_CHARS
from chatnio_host.search.service import SearchService
from chatnio_host.search.settings import SECTION, SearchSettings

__all__ = ["cache_router", "router"]

router = APIRouter(prefix="/api/admin/settings/search", tags=["search"], dependencies=[JSONOnly])
cache_router = APIRouter(prefix="/api/admin/settings/cache", tags=["cache"], dependencies=[JSONOnly])


class SearchTest(BaseModel):
    """A query to try against the configured provider."""

    query: str = Field(min_length=1, max_length=QUERY_MAX_CHARS)


def _service(ctx: CtxDep) -> SearchService:
    return ctx.services["search"]


@router.get("")
async def get_search_settings(ctx: CtxDep, _admin: AdminUser) -> SearchSettings:
    """Return the web search settings."""
    return await _service(ctx).settings()


@router.put("")
async def put_search_settings(ctx: CtxDep, admin: AdminUser, settings: SearchSettings) -> SearchSettings:
    """Replace the web search settings after checking them against each provider's schema."""
    _service(ctx).validate(settings)
    await ctx.site.put(SECTION, settings, actor_id=admin.id)
    return settings


@router.get("/providers")
async def list_search_providers(ctx: CtxDep, _admin: AdminUser) -> list[dict[str, Any]]:
    """List the installed search providers with their settings schemas."""
    registry = ctx.plugins.registry
    return [
        {
            "name": provider.name,
            "label": provider.label or provider.name,
            "plugin": registry.owners.get(("search_providers", provider.name)),
            "settings_schema": provider.settings_schema,
        }
        for provider in registry.search_providers.values()
    ]


@router.post("/test")
async def test_search(ctx: CtxDep, _admin: AdminUser, body: SearchTest) -> dict[str, Any]:
    """Run the configured provider once and return its results, or the error for the admin."""
    service = _service(ctx)
    try:
        provider, results = await service.search(body.query)
    except Exception as exc:  # noqa: BLE001 - the admin sees why the provider failed
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "ok": True,
        "provider": provider,
        "results": [{"title": r.title, "url": r.url, "snippet": r.snippet} for r in results],
    }


@cache_router.get("")
async def get_cache_settings(ctx: CtxDep, _admin: AdminUser) -> CacheSettings:
    """Return the response cache settings."""
    return await ctx.site.get(CACHE_SECTION, CacheSettings)


@cache_router.put("")
async def put_cache_settings(ctx: CtxDep, admin: AdminUser, settings: CacheSettings) -> CacheSettings:
    """Replace the response cache settings."""
    await ctx.site.put(CACHE_SECTION, settings, actor_id=admin.id)
    return settings
