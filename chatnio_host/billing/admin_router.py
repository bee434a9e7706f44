"""Admin billing routes: prices, billing settings, subscription plans, users' points and
subscriptions, redeem and gift codes, and the dashboard statistics."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import ValidationError

from chatnio_host.auth.caller import GROUPS
from chatnio_host.auth.deps import AdminUser, JSONOnly
from chatnio_host.billing import analytics
from chatnio_host.billing.money import points_json, to_micro
from chatnio_host.billing.router import entry_json
from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig, merge_rules
from chatnio_host.billing.schemas import (
    GenerateGiftCodes,
    GenerateRedeemCodes,
    ImportItems,
    PointsAdjustment,
    PriceSync,
    SetSubscription,
    SubscriptionSync,
    decimal_json,
    plan_json,
    prices_json,
)
from chatnio_host.billing.settings import BILLING_SECTION, SUBSCRIPTION_SECTION, BillingConfig, Plan, SubscriptionConfig
from chatnio_host.db.models.billing import GiftCode, RedeemCode
from chatnio_host.deps import CtxDep
from chatnio_host.errors import InvalidRequest, NotFound, UpstreamError

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/admin", tags=["billing-admin"], dependencies=[JSONOnly])

SYNC_TIMEOUT_SECONDS = 15.0


def _subscription_json(config: SubscriptionConfig) -> dict[str, Any]:
    return {
        "enabled": config.enabled,
        "relay_plan": config.relay_plan,
        "plans": [plan_json(plan) for plan in sorted(config.plans, key=lambda plan: plan.level)],
    }


def _billing_json(config: BillingConfig) -> dict[str, Any]:
    return {"initial_points": decimal_json(config.initial_points), "usd_cny_rate": decimal_json(config.usd_cny_rate)}


async def _fetch_json(url: str, path: str) -> Any:
    """GET ``path`` of another Chat Nio site (``url`` may be the site or the full address)."""
    address = url.strip().rstrip("/")
    if not address.startswith(("http://", "https://")):
        raise InvalidRequest(f"url must start with http:// or https://, not {url!r}.", param="url")
    if not address.endswith(path):
        address += path
    try:
        async with httpx.AsyncClient(timeout=SYNC_TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.get(address, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        logger.warning("sync from %s failed: %s", address, exc)
        raise UpstreamError(f"Could not read {address}: {type(exc).__name__}. Check the site address.") from exc
    if response.status_code != 200:
        raise UpstreamError(f"{address} returned HTTP {response.status_code}; expected 200 with a JSON list.")
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamError(f"{address} returned a response that is not JSON.") from exc


# Prices ----------------------------------------------------------------------------------


@router.get("/prices")
async def get_prices(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return the price rules in order; a model belongs to the first rule that lists it."""
    return prices_json(await ctx.services["billing"].prices())


@router.put("/prices")
async def put_prices(body: PricesConfig, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Replace the price rules (rules with id -1 get a new id)."""
    config = PricesConfig.model_validate(body.model_dump())
    await ctx.site.put(PRICES_SECTION, config, actor_id=admin.id)
    return prices_json(config)


@router.post("/prices/sync")
async def sync_prices(body: PriceSync, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Merge the rules of another Chat Nio site's ``/v1/charge``: only new models, or overwriting."""
    data = await _fetch_json(body.url, "/v1/charge")
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise UpstreamError("The site's /v1/charge response is not a list of price rules.")
    try:
        incoming = [PriceRule.model_validate(item) for item in data]
    except ValidationError as exc:
        raise UpstreamError(f"The site's /v1/charge contains an invalid rule: {exc.errors()[0]['msg']}.") from exc
    config = await ctx.services["billing"].prices()
    rules, changed = merge_rules(config.rules, incoming, overwrite=body.overwrite)
    config = PricesConfig.model_validate({**config.model_dump(), "rules": [rule.model_dump() for rule in rules]})
    await ctx.site.put(PRICES_SECTION, config, actor_id=admin.id)
    logger.info("admin %s synced prices from %s (overwrite %s): %d models changed", admin.id, body.url, body.overwrite, changed)
    return {"changed_models": changed, **prices_json(config)}


@router.get("/prices/unpriced")
async def list_unpriced(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return models some channel serves that no price rule lists (refused for non-admins)."""
    channels = ctx.services.get("channels")
    served: set[str] = set()
    if channels is not None:
        for group in GROUPS:
            served.update(await channels.models_for(group))
    config = await ctx.services["billing"].prices()
    priced = {model for rule in config.rules for model in rule.models}
    return {"models": sorted(served - priced)}


@router.get("/billing/settings")
async def get_billing_settings(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return the initial points of new users and the USD rate of the dashboard endpoints."""
    return _billing_json(await ctx.services["billing"].billing_config())


@router.put("/billing/settings")
async def put_billing_settings(body: BillingConfig, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Set the initial points of new users and the USD rate."""
    try:
        to_micro(body.initial_points)
    except ValueError as exc:
        raise InvalidRequest(f"initial_points: {exc}.", param="initial_points") from exc
    await ctx.site.put(BILLING_SECTION, body, actor_id=admin.id)
    return _billing_json(body)


# Subscription plans ------------------------------------------------------------------------


@router.get("/subscription")
async def get_subscription_config(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return the subscription switch, the relay flag and the plans."""
    return _subscription_json(await ctx.services["billing"].subscription_config())


@router.put("/subscription")
async def put_subscription_config(body: SubscriptionConfig, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Replace the subscription settings and plans."""
    await ctx.site.put(SUBSCRIPTION_SECTION, body, actor_id=admin.id)
    return _subscription_json(body)


@router.post("/subscription/sync")
async def sync_plans(body: SubscriptionSync, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Replace the plans with another Chat Nio site's ``/v1/plans`` (level 0 dropped); enabled when any remain."""
    data = await _fetch_json(body.url, "/v1/plans")
    if not isinstance(data, list):
        raise UpstreamError("The site's /v1/plans response is not a list of plans.")
    try:
        plans = [Plan.model_validate(item) for item in data if isinstance(item, dict) and item.get("level")]
    except ValidationError as exc:
        raise UpstreamError(f"The site's /v1/plans contains an invalid plan: {exc.errors()[0]['msg']}.") from exc
    current = await ctx.services["billing"].subscription_config()
    config = SubscriptionConfig(enabled=bool(plans), relay_plan=current.relay_plan, plans=plans)
    await ctx.site.put(SUBSCRIPTION_SECTION, config, actor_id=admin.id)
    logger.info("admin %s synced %d plans from %s", admin.id, len(plans), body.url)
    return _subscription_json(config)


@router.post("/subscription/import-items")
async def import_items(body: ImportItems, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Copy the items of one level's plan into another level's plan, skipping ids it already has."""
    config = await ctx.services["billing"].subscription_config()
    source = config.plan(body.from_level)
    if source is None:
        raise NotFound(f"There is no plan of level {body.from_level} to import items from.", param="from_level")
    target = config.plan(body.to_level)
    if target is None:
        target = Plan(level=body.to_level)
        config.plans.append(target)
    known = {item.id for item in target.items}
    target.items.extend(item.model_copy(deep=True) for item in source.items if item.id not in known)
    await ctx.site.put(SUBSCRIPTION_SECTION, config, actor_id=admin.id)
    return _subscription_json(config)


# Users' points and subscriptions -------------------------------------------------------------


@router.post("/users/{user_id}/points")
async def adjust_points(user_id: int, body: PointsAdjustment, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Add ``delta`` points to a user's balance or ``set`` it, through the ledger."""
    try:
        balance = await ctx.services["billing"].adjust_points(
            user_id, actor_id=admin.id, delta=body.delta, set_to=body.set, reason=body.reason
        )
    except ValueError as exc:
        raise InvalidRequest(f"{exc}.", param="delta" if body.delta is not None else "set") from exc
    return {"balance": points_json(balance.available + balance.held), "used": points_json(balance.used)}


@router.get("/users/{user_id}/billing")
async def get_user_billing(user_id: int, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return a user's points and subscription."""
    service = ctx.services["billing"]
    balance = await service.balance(user_id)
    return {
        "balance": points_json(balance.available + balance.held),
        "held": points_json(balance.held),
        "used": points_json(balance.used),
        "subscription": await service.subscription_view(user_id),
    }


@router.get("/users/{user_id}/ledger")
async def get_user_ledger(
    user_id: int, admin: AdminUser, ctx: CtxDep, page: int = Query(1, ge=1), size: int = Query(20, ge=1, le=100)
) -> dict[str, Any]:
    """Return one page of a user's ledger, newest first."""
    rows, total = await ctx.services["billing"].ledger_page(user_id, page=page, size=size)
    return {"items": [entry_json(row) for row in rows], "total": total, "page": page, "size": size}


@router.put("/users/{user_id}/subscription")
async def set_user_subscription(user_id: int, body: SetSubscription, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Set a user's subscription level (0-3) and/or expiry."""
    if body.level is None and body.expires_at is None:
        raise InvalidRequest("Give 'level' (0-3), 'expires_at' or both.", param="level")
    service = ctx.services["billing"]
    row = await service.set_subscription(user_id, level=body.level, expires_at=body.expires_at, actor_id=admin.id)
    return {"level": row.level, "expires_at": row.expires_at.isoformat(), "started_at": row.started_at.isoformat()}


@router.post("/users/{user_id}/subscription/release")
async def release_user_usage(user_id: int, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Reset a user's subscription usage of the current period to 0."""
    released = await ctx.services["billing"].release_subscription_usage(user_id, actor_id=admin.id)
    return {"released_items": released}


# Codes -----------------------------------------------------------------------------------


def _code_json(row: RedeemCode | GiftCode) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "code": row.code,
        "points": points_json(row.points),
        "used": row.used_by is not None,
        "used_by": row.used_by,
        "used_at": row.used_at.isoformat() if row.used_at else None,
        "created_at": row.created_at.isoformat(),
    }
    if isinstance(row, RedeemCode):
        data["name"] = row.name
    else:
        data["type"] = row.type
    return data


def _points_of(value: Any) -> int:
    try:
        return to_micro(value)
    except ValueError as exc:
        raise InvalidRequest(f"points: {exc}.", param="points") from exc


@router.post("/redeem-codes", status_code=201)
async def generate_redeem_codes(body: GenerateRedeemCodes, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Generate a named batch of single-use redeem codes."""
    codes = await ctx.services["billing"].generate_redeem_codes(name=body.name, points=_points_of(body.points), count=body.count, actor_id=admin.id)
    return {"name": body.name, "points": decimal_json(body.points), "codes": codes}


@router.get("/redeem-codes")
async def list_redeem_codes(
    admin: AdminUser,
    ctx: CtxDep,
    name: str | None = None,
    used: bool | None = None,
    page: int = Query(1, ge=1),
    size: int = Query(20, ge=1, le=200),
) -> dict[str, Any]:
    """List redeem codes, newest first, optionally of one batch or only used or unused ones."""
    rows, total = await ctx.services["billing"].list_codes(RedeemCode, page=page, size=size, filters={"name": name, "used": used})
    return {"items": [_code_json(row) for row in rows], "total": total, "page": page, "size": size}


@router.delete("/redeem-codes")
async def delete_redeem_codes(admin: AdminUser, ctx: CtxDep, code: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Delete one code (``code``), or the unused codes of batch ``name``."""
    if (code is None) == (name is None):
        raise InvalidRequest("Give exactly one of 'code' or 'name' (a batch, whose unused codes are deleted).", param="code")
    deleted = await ctx.services["billing"].delete_codes(RedeemCode, code=code, group=("name", name) if name else None)
    if code is not None and not deleted:
        raise NotFound(f"Redeem code {code!r} does not exist.", param="code")
    return {"deleted": deleted}


@router.get("/redeem-codes/export")
async def export_redeem_codes(
    admin: AdminUser, ctx: CtxDep, name: str | None = None, used: bool | None = False, format: Literal["txt", "csv"] = "txt"
) -> Response:
    """Download redeem codes as text (one per line) or CSV; unused ones by default."""
    rows, _ = await ctx.services["billing"].list_codes(RedeemCode, page=1, size=1_000_000, filters={"name": name, "used": used})
    return _export(rows, format, f"redeem-codes{'-' + name if name else ''}", ("code", "name", "points", "used", "used_by", "created_at"))


@router.post("/gift-codes", status_code=201)
async def generate_gift_codes(body: GenerateGiftCodes, admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Generate gift codes of a type; each user may use one code of a type."""
    codes = await ctx.services["billing"].generate_gift_codes(code_type=body.type, points=_points_of(body.points), count=body.count, actor_id=admin.id)
    return {"type": body.type, "points": decimal_json(body.points), "codes": codes}


@router.get("/gift-codes")
async def list_gift_codes(
    admin: AdminUser,
    ctx: CtxDep,
    type: str | None = None,
    used: bool | None = None,
    page: int = Query(1, ge=1),
    size: int = Query(20, ge=1, le=200),
) -> dict[str, Any]:
    """List gift codes, newest first, optionally of one type or only used or unused ones."""
    rows, total = await ctx.services["billing"].list_codes(GiftCode, page=page, size=size, filters={"type": type, "used": used})
    return {"items": [_code_json(row) for row in rows], "total": total, "page": page, "size": size}


@router.delete("/gift-codes")
async def delete_gift_codes(admin: AdminUser, ctx: CtxDep, code: str | None = None, type: str | None = None) -> dict[str, Any]:
    """Delete one code (``code``), or the unused codes of ``type``."""
    if (code is None) == (type is None):
        raise InvalidRequest("Give exactly one of 'code' or 'type' (whose unused codes are deleted).", param="code")
    deleted = await ctx.services["billing"].delete_codes(GiftCode, code=code, group=("type", type) if type else None)
    if code is not None and not deleted:
        raise NotFound(f"Gift code {code!r} does not exist.", param="code")
    return {"deleted": deleted}


@router.get("/gift-codes/export")
async def export_gift_codes(
    admin: AdminUser, ctx: CtxDep, type: str | None = None, used: bool | None = False, format: Literal["txt", "csv"] = "txt"
) -> Response:
    """Download gift codes as text (one per line) or CSV; unused ones by default."""
    rows, _ = await ctx.services["billing"].list_codes(GiftCode, page=1, size=1_000_000, filters={"type": type, "used": used})
    return _export(rows, format, f"gift-codes{'-' + type if type else ''}", ("code", "type", "points", "used", "used_by", "created_at"))


def _export(rows: list[Any], format: str, stem: str, columns: tuple[str, ...]) -> Response:
    if format == "txt":
        body = "".join(row.code + "\n" for row in rows)
        media = "text/plain; charset=utf-8"
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            data = _code_json(row)
            writer.writerow([data[column] for column in columns])
        body = buffer.getvalue()
        media = "text/csv; charset=utf-8"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{stem}.{format}"'})


# Statistics ------------------------------------------------------------------------------


@router.get("/analytics/info")
async def analytics_info(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return today's and this month's income (CNY) and the active subscriptions."""
    return await analytics.info(ctx)


@router.get("/analytics/model")
async def analytics_model(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return tokens per model for the last 7 days of the site's timezone."""
    return await analytics.model_chart(ctx)


@router.get("/analytics/request")
async def analytics_request(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return successful requests per day for the last 7 days."""
    return await analytics.site_chart(ctx, "requests")


@router.get("/analytics/error")
async def analytics_error(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return failed requests per day for the last 7 days."""
    return await analytics.site_chart(ctx, "errors")


@router.get("/analytics/billing")
async def analytics_billing(admin: AdminUser, ctx: CtxDep) -> dict[str, Any]:
    """Return income in CNY per day for the last 30 days."""
    return await analytics.billing_chart(ctx)


@router.get("/analytics/user")
async def analytics_user(admin: AdminUser, ctx: CtxDep) -> dict[str, int]:
    """Return users by kind: normal, api_paid and active plans per level."""
    return await analytics.user_types(ctx)


@router.get("/analytics/breakdown")
async def analytics_breakdown(
    admin: AdminUser,
    ctx: CtxDep,
    scope: Literal["model", "user", "channel"] = "model",
    days: int = Query(7, ge=1, le=90),
) -> dict[str, Any]:
    """Return requests, errors, tokens and points per model, user or channel over the last ``days`` days."""
    return await analytics.breakdown(ctx, scope, days)
