"""Admin dashboard statistics read from the daily aggregates, by day in the site's timezone."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import DBAPIError

from chatnio_host.billing.money import micro_to_cny, points_json, to_micro
from chatnio_host.billing.settings import BillingConfig
from chatnio_host.billing.usage import site_timezone
from chatnio_host.context import AppContext
from chatnio_host.db.models.billing import Balance, DailyAggregate, Subscription
from chatnio_host.db.models.user import User

__all__ = ["billing_chart", "breakdown", "info", "model_chart", "site_chart", "user_types"]

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


async def _days(ctx: AppContext, count: int) -> tuple[list[dt.date], dict[str, Any]]:
    zone = await site_timezone(ctx.site)
    now = ctx.clock.now().astimezone(zone)
    today = now.date()
    days = [today - dt.timedelta(days=offset) for offset in range(count - 1, -1, -1)]
    return days, {"timezone": zone.key, "utc_offset": now.strftime("%z"), "today": today.isoformat()}


def _label(day: dt.date) -> str:
    return f"{day.month}/{day.day}"


def _cny(micro: int) -> float:
    return float(micro_to_cny(micro).quantize(CENT))


async def _rows(ctx: AppContext, scope: str, first: dt.date, last: dt.date) -> list[DailyAggregate]:
    # This process's counts not yet written go first; other replicas' wait for their next flush.
    try:
        await ctx.services["billing"].flush()
    except DBAPIError:
        logger.warning("dashboard statistics read without the counts of the last seconds")
    async with ctx.db.session() as session:
        rows = await session.scalars(
            select(DailyAggregate).where(DailyAggregate.scope == scope, DailyAggregate.day >= first, DailyAggregate.day <= last)
        )
        return list(rows)


async def site_chart(ctx: AppContext, column: str, count: int = 7) -> dict[str, Any]:
    """Return ``{date, value}`` of one site-wide counter (requests or errors) for the last ``count`` days."""
    days, zone = await _days(ctx, count)
    by_day = {row.day: getattr(row, column) for row in await _rows(ctx, "site", days[0], days[-1])}
    return {"date": [_label(day) for day in days], "value": [int(by_day.get(day, 0)) for day in days], **zone}


async def model_chart(ctx: AppContext, count: int = 7) -> dict[str, Any]:
    """Return tokens per model and day for the last ``count`` days, models with the most tokens first."""
    days, zone = await _days(ctx, count)
    series: dict[str, dict[dt.date, int]] = {}
    for row in await _rows(ctx, "model", days[0], days[-1]):
        series.setdefault(row.key, {})[row.day] = int(row.input_tokens + row.output_tokens)
    values = [{"model": model, "data": [data.get(day, 0) for day in days]} for model, data in series.items()]
    values = [value for value in values if sum(value["data"])]
    values.sort(key=lambda value: (-sum(value["data"]), value["model"]))
    return {"date": [_label(day) for day in days], "value": values, **zone}


async def billing_chart(ctx: AppContext, count: int = 30) -> dict[str, Any]:
    """Return income in CNY per day for the last ``count`` days."""
    days, zone = await _days(ctx, count)
    by_day = {row.day: row.income for row in await _rows(ctx, "site", days[0], days[-1])}
    return {"date": [_label(day) for day in days], "value": [_cny(int(by_day.get(day, 0))) for day in days], **zone}


async def info(ctx: AppContext) -> dict[str, Any]:
    """Return today's and this month's income in CNY and the number of active subscriptions."""
    days, zone = await _days(ctx, 1)
    today = days[0]
    month_rows = await _rows(ctx, "site", today.replace(day=1), today)
    async with ctx.db.session() as session:
        active = await session.scalar(
            select(func.count()).select_from(Subscription).where(Subscription.level > 0, Subscription.expires_at > ctx.clock.now())
        )
    return {
        "billing_today": _cny(sum(row.income for row in month_rows if row.day == today)),
        "billing_month": _cny(sum(row.income for row in month_rows)),
        "subscription_count": int(active or 0),
        **zone,
    }


async def user_types(ctx: AppContext) -> dict[str, int]:
    """Count users by kind: active plan per level, normal users (never paid or subscribed), and the rest (api_paid)."""
    initial = to_micro((await ctx.site.get("billing", BillingConfig)).initial_points)
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        total = int(await session.scalar(select(func.count()).select_from(User)) or 0)
        levels = dict(
            (await session.execute(
                select(Subscription.level, func.count()).where(Subscription.level > 0, Subscription.expires_at > now).group_by(Subscription.level)
            )).all()
        )
        normal = await session.scalar(
            select(func.count())
            .select_from(User)
            .outerjoin(Balance, Balance.user_id == User.id)
            .outerjoin(Subscription, Subscription.user_id == User.id)
            .where(
                func.coalesce(Subscription.total_months, 0) == 0,
                or_(Subscription.user_id.is_(None), Subscription.level == 0, Subscription.expires_at <= now),
                func.coalesce(Balance.available, 0) + func.coalesce(Balance.held, 0) + func.coalesce(Balance.used, 0) <= initial,
            )
        )
    plans = {"basic_plan": int(levels.get(1, 0)), "standard_plan": int(levels.get(2, 0)), "pro_plan": int(levels.get(3, 0))}
    normal_count = int(normal or 0)
    return {"normal": normal_count, "api_paid": max(0, total - normal_count - sum(plans.values())), **plans, "total": total}


async def breakdown(ctx: AppContext, scope: str, count: int) -> dict[str, Any]:
    """Return totals per model, user or channel over the last ``count`` days, largest spend first."""
    days, zone = await _days(ctx, count)
    totals: dict[str, dict[str, int]] = {}
    for row in await _rows(ctx, scope, days[0], days[-1]):
        entry = totals.setdefault(row.key, {"requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0, "points": 0})
        entry["requests"] += row.requests
        entry["errors"] += row.errors
        entry["input_tokens"] += row.input_tokens
        entry["output_tokens"] += row.output_tokens
        entry["points"] += row.points
    items = [{"key": key, **values, "points": points_json(values["points"])} for key, values in totals.items()]
    items.sort(key=lambda item: (-totals[item["key"]]["points"], -item["requests"], item["key"]))
    return {"scope": scope, "from": days[0].isoformat(), "to": days[-1].isoformat(), "items": items, **zone}
