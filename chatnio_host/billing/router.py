"""The signed-in user's billing routes: balance, ledger, usage, codes and subscription."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from chatnio_host.auth.deps import CurrentUser, JSONOnly
from chatnio_host.billing.money import points_json
from chatnio_host.billing.schemas import CodeBody, SubscriptionBuy
from chatnio_host.billing.usage import site_timezone
from chatnio_host.db.models.billing import LedgerEntry, UsageRecord
from chatnio_host.deps import CtxDep
from chatnio_host.errors import InvalidRequest

__all__ = ["router"]

router = APIRouter(tags=["billing"], dependencies=[JSONOnly])


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    """Return a ledger row for the API."""
    return {
        "id": entry.id,
        "delta": points_json(entry.delta),
        "kind": entry.kind,
        "request_id": entry.request_id,
        "reference": entry.reference,
        "note": entry.note,
        "created_at": entry.created_at.isoformat(),
    }


def record_json(record: UsageRecord, zone: dt.tzinfo) -> dict[str, Any]:
    """Return a usage record for the API, its time in the site's timezone."""
    return {
        "request_id": record.request_id,
        "model": record.model,
        "model_sent": record.model_sent,
        "api_key_id": record.api_key_id,
        "input_tokens": record.input_tokens,
        "cached_input_tokens": record.cached_input_tokens,
        "output_tokens": record.output_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "usage_source": record.usage_source,
        "points": points_json(record.points),
        "subscription": record.subscription,
        "cached": record.cached,
        "status": record.status,
        "latency_ms": record.latency_ms,
        "created_at": record.created_at.astimezone(zone).isoformat(),
    }


@router.get("/api/billing/balance")
async def get_balance(user: CurrentUser, ctx: CtxDep) -> dict[str, Any]:
    """Return the user's points: ``balance`` (available plus held by running requests) and ``used``."""
    balance = await ctx.services["billing"].balance(user.id)
    return {
        "balance": points_json(balance.available + balance.held),
        "available": points_json(balance.available),
        "held": points_json(balance.held),
        "used": points_json(balance.used),
    }


@router.get("/api/billing/ledger")
async def get_ledger(
    user: CurrentUser, ctx: CtxDep, page: int = Query(1, ge=1), size: int = Query(20, ge=1, le=100)
) -> dict[str, Any]:
    """Return one page of the user's ledger, newest first."""
    rows, total = await ctx.services["billing"].ledger_page(user.id, page=page, size=size)
    return {"items": [entry_json(row) for row in rows], "total": total, "page": page, "size": size}


@router.get("/api/billing/usage")
async def get_usage(
    user: CurrentUser,
    ctx: CtxDep,
    date: dt.date | None = Query(None, description="A day in the site's timezone; today when omitted."),
    page: int = Query(1, ge=1),
    size: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    """Return the user's usage records of one day in the site's timezone, newest first."""
    zone = await site_timezone(ctx.site)
    day = date or ctx.clock.now().astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    window = (UsageRecord.user_id == user.id, UsageRecord.created_at >= start, UsageRecord.created_at < end)
    async with ctx.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(UsageRecord).where(*window))
        rows = await session.scalars(
            select(UsageRecord).where(*window).order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc())
            .offset((page - 1) * size).limit(size)
        )
        items = [record_json(row, zone) for row in rows]
    return {
        "date": day.isoformat(),
        "timezone": zone.key,
        "utc_offset": dt.datetime.combine(day, dt.time(12), tzinfo=zone).strftime("%z"),
        "items": items,
        "total": int(total or 0),
        "page": page,
        "size": size,
    }


@router.post("/api/billing/redeem")
async def redeem_code(body: CodeBody, user: CurrentUser, ctx: CtxDep) -> dict[str, Any]:
    """Claim a redeem code; the points go to the user's balance."""
    credited = await ctx.services["billing"].redeem(user.id, body.code)
    return {"points": points_json(credited)}


@router.post("/api/billing/gift")
async def use_gift_code(body: CodeBody, user: CurrentUser, ctx: CtxDep) -> dict[str, Any]:
    """Claim a gift code; each user may use one code of each type."""
    credited = await ctx.services["billing"].gift(user.id, body.code)
    return {"points": points_json(credited)}


@router.get("/api/subscription")
async def get_subscription(user: CurrentUser, ctx: CtxDep) -> dict[str, Any]:
    """Return the user's subscription: level, expiry, days left and usage per item this period."""
    return await ctx.services["billing"].subscription_view(user.id)


@router.post("/api/subscription/buy")
async def buy_subscription(body: SubscriptionBuy, user: CurrentUser, ctx: CtxDep) -> dict[str, Any]:
    """Buy, renew, upgrade or downgrade a subscription, paid in points (10 points per CNY)."""
    if body.months < 1:
        raise InvalidRequest("months must be at least 1.", param="months")
    result = await ctx.services["billing"].buy_subscription(user.id, level=body.level, months=body.months)
    view = await ctx.services["billing"].subscription_view(user.id)
    return {"action": result["action"], "paid": points_json(result["cost"]), "subscription": view}
