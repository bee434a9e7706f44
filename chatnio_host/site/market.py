"""The model market: admin-ordered entries joined with prices and subscription coverage."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, select

from chatnio_host.auth.deps import AdminUser, JSONOnly, OptionalUser
from chatnio_host.billing.money import points_json, to_micro
from chatnio_host.db.models.chat import MarketEntry
from chatnio_host.deps import CtxDep
from chatnio_host.errors import InvalidRequest, UpstreamError

__all__ = ["admin_router", "public_router", "v1_router"]

logger = logging.getLogger(__name__)

public_router = APIRouter(prefix="/api", tags=["market"])
v1_router = APIRouter(prefix="/v1", tags=["market"])
admin_router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[JSONOnly])

GROUPS = ("anonymous", "normal", "basic", "standard", "pro")


class MarketEntryIn(BaseModel):
    """One market entry as the admin saves it; list order is display order."""

    model: str = Field(..., min_length=1, max_length=128)
    name: str = Field("", max_length=128)
    description: str = Field("", max_length=4000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    avatar: str = Field("", max_length=512)
    default: bool = False
    high_context: bool = False
    enabled: bool = True

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        return [tag.strip()[:32] for tag in value if tag.strip()]


class MarketPrice(BaseModel):
    """A model's price: ``none`` (free), ``times`` (points per request) or ``token`` (per 1K tokens)."""

    type: str
    input: float | int = 0
    output: float | int = 0
    anonymous: bool = False


class MarketEntryPublic(MarketEntryIn):
    """A market entry with its price and whether the caller's subscription covers it."""

    id: int
    position: int
    price: MarketPrice | None = None
    plus: bool = False


class MarketSync(BaseModel):
    """Copy entries from another Chat Nio site's ``/v1/market``."""

    url: str = Field(..., min_length=8, max_length=1024)
    only_served: bool = Field(False, description="Only models that one of this site's channels serves.")


def _entry_in(row: MarketEntry) -> dict[str, Any]:
    return {
        "model": row.model, "name": row.name, "description": row.description, "tags": row.tags,
        "avatar": row.avatar, "default": row.is_default, "high_context": row.high_context, "enabled": row.enabled,
    }


async def _price(ctx: CtxDep, model: str) -> MarketPrice | None:
    billing = ctx.services.get("billing")
    if billing is None:
        return None
    price = await billing.price_for(model)
    if price is None:
        return None
    return MarketPrice(
        type=str(price.kind), input=points_json(to_micro(price.input)), output=points_json(to_micro(price.output)),
        anonymous=bool(price.anonymous),
    )


async def _covered_models(ctx: CtxDep, user: Any) -> set[str]:
    billing = ctx.services.get("billing")
    if billing is None or user is None:
        return set()
    level = await billing.active_level(user.id)
    config = await billing.subscription_config()
    plan = config.plan(level) if config.enabled and level else None
    return {model for item in (plan.items if plan else []) for model in item.models}


async def market_entries(ctx: CtxDep, user: Any, *, include_disabled: bool = False) -> list[MarketEntryPublic]:
    """Return the market in display order, joined with prices and coverage."""
    async with ctx.db.session() as session:
        statement = select(MarketEntry).order_by(MarketEntry.position, MarketEntry.id)
        if not include_disabled:
            statement = statement.where(MarketEntry.enabled.is_(True))
        rows = list(await session.scalars(statement))
    covered = await _covered_models(ctx, user)
    return [
        MarketEntryPublic(**_entry_in(row), id=row.id, position=row.position,
                          price=await _price(ctx, row.model), plus=row.model in covered)
        for row in rows
    ]


@v1_router.get("/market", response_model=list[MarketEntryPublic])
async def read_v1_market(ctx: CtxDep) -> list[MarketEntryPublic]:
    """Return the public model market (no subscription coverage without a signed-in user)."""
    return await market_entries(ctx, None)


@public_router.get("/market", response_model=list[MarketEntryPublic])
async def read_market(ctx: CtxDep, user: OptionalUser) -> list[MarketEntryPublic]:
    """Return the model market with ``plus`` set where the caller's subscription covers a model."""
    return await market_entries(ctx, user)


@admin_router.get("/market", response_model=list[MarketEntryPublic])
async def read_admin_market(ctx: CtxDep, admin: AdminUser) -> list[MarketEntryPublic]:
    """Return every market entry, disabled ones included, in display order."""
    return await market_entries(ctx, admin, include_disabled=True)


async def _replace(ctx: CtxDep, entries: list[MarketEntryIn]) -> None:
    models = [entry.model for entry in entries]
    duplicates = sorted({model for model in models if models.count(model) > 1})
    if duplicates:
        raise InvalidRequest(f"The market lists {duplicates} more than once.", param="model")
    async with ctx.db.transaction() as session:
        await session.execute(delete(MarketEntry))
        for position, entry in enumerate(entries):
            values = entry.model_dump()
            session.add(MarketEntry(
                model=values["model"], name=values["name"], description=values["description"], tags=values["tags"],
                avatar=values["avatar"], is_default=values["default"], high_context=values["high_context"],
                enabled=values["enabled"], position=position,
            ))


@admin_router.put("/market", response_model=list[MarketEntryPublic])
async def update_market(ctx: CtxDep, admin: AdminUser, body: list[MarketEntryIn]) -> list[MarketEntryPublic]:
    """Replace the market; the list order becomes the display order."""
    await _replace(ctx, body)
    logger.info("admin %s saved %d market entries", admin.id, len(body))
    return await market_entries(ctx, admin, include_disabled=True)


async def _served_models(ctx: CtxDep) -> set[str]:
    channels = ctx.services.get("channels")
    if channels is None:
        return set()
    served: set[str] = set()
    for group in GROUPS:
        served.update(await channels.models_for(group))
    return served


@admin_router.post("/market/sync", response_model=list[MarketEntryPublic])
async def sync_market(ctx: CtxDep, admin: AdminUser, body: MarketSync) -> list[MarketEntryPublic]:
    """Append the entries of another site's market that this market lacks."""
    url = body.url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest("The site URL must start with http:// or https://.", param="url")
    try:
        async with httpx.AsyncClient(timeout=15, follow_redirects=False) as client:
            response = await client.get(f"{url}/v1/market")
        response.raise_for_status()
        remote = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("market sync from %s failed: %s", url, type(exc).__name__)
        raise UpstreamError(f"Could not read the market of {httpx.URL(url).host}: {type(exc).__name__}.") from exc
    if not isinstance(remote, list):
        raise UpstreamError("The other site's /v1/market did not return a list.")

    current = [MarketEntryIn(**_entry_in(row)) for row in await _rows(ctx)]
    known = {entry.model for entry in current}
    served = await _served_models(ctx) if body.only_served else None
    added = 0
    for item in remote:
        try:
            entry = MarketEntryIn.model_validate({key: item.get(key) for key in MarketEntryIn.model_fields if key in item})
        except ValueError:
            continue
        if entry.model in known or (served is not None and entry.model not in served):
            continue
        current.append(entry)
        known.add(entry.model)
        added += 1
    await _replace(ctx, current)
    logger.info("admin %s synced %d market entries from %s", admin.id, added, httpx.URL(url).host)
    return await market_entries(ctx, admin, include_disabled=True)


async def _rows(ctx: CtxDep) -> list[MarketEntry]:
    async with ctx.db.session() as session:
        return list(await session.scalars(select(MarketEntry).order_by(MarketEntry.position, MarketEntry.id)))
