"""Subscription periods, quota units, purchases and admin changes.

Usage periods start on the subscription's anchor instant and repeat every calendar month
(a day past the month's end falls on its last day). Units are taken and returned with
conditional UPDATEs, so concurrent requests never use more than the item's quota.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chatnio_host.billing.money import cny_to_micro
from chatnio_host.billing.settings import Plan, PlanItem, SubscriptionConfig
from chatnio_host.billing.sql import insert_ignore, lock_or_create
from chatnio_host.db.models.billing import Subscription, SubscriptionUsage
from chatnio_host.errors import InvalidRequest

__all__ = [
    "PurchaseQuote",
    "add_months",
    "is_active",
    "lock_subscription",
    "period_start",
    "quote_purchase",
    "return_unit",
    "take_unit",
    "to_seconds",
]

logger = logging.getLogger(__name__)

usage_table = SubscriptionUsage.__table__
subscriptions = Subscription.__table__

MAX_MONTHS = 999


def to_seconds(moment: dt.datetime) -> dt.datetime:
    """Drop microseconds, because MySQL DATETIME columns keep whole seconds."""
    return moment.replace(microsecond=0)


def add_months(anchor: dt.datetime, months: int) -> dt.datetime:
    """Return ``anchor`` moved by whole calendar months, keeping the time of day."""
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_start(anchor: dt.datetime, now: dt.datetime) -> dt.datetime:
    """Return the start of the monthly period that contains ``now`` (``anchor`` before it starts)."""
    anchor = to_seconds(anchor)
    if now <= anchor:
        return anchor
    months = (now.year - anchor.year) * 12 + (now.month - anchor.month)
    start = add_months(anchor, months)
    while start > now:
        months -= 1
        start = add_months(anchor, months)
    return start


def is_active(row: Subscription | None, now: dt.datetime) -> bool:
    """Whether ``row`` is a subscription that covers requests at ``now``."""
    return row is not None and row.level > 0 and row.expires_at > now


async def take_unit(
    session: AsyncSession | AsyncConnection, backend: str, *, user_id: int, item: PlanItem, anchor: dt.datetime, now: dt.datetime
) -> dt.datetime | None:
    """Take one unit of ``item`` for the period containing ``now``; return the period start, or None when used up."""
    current = period_start(anchor, now)
    if item.monthly_quota == -1:
        return current
    if item.monthly_quota == 0:
        return None
    # Locking the user's subscription row first serializes this user's takes, so the counter's
    # creation and monthly rollover below never race each other.
    await session.execute(
        update(subscriptions).where(subscriptions.c.user_id == user_id).values(level=subscriptions.c.level)
    )
    await session.execute(
        insert_ignore(backend, usage_table, {"user_id": user_id, "item_id": item.id, "period_start": current, "used": 0})
    )
    key = (usage_table.c.user_id == user_id, usage_table.c.item_id == item.id)
    rolled = await session.execute(
        update(usage_table).where(*key, usage_table.c.period_start != current).values(period_start=current, used=1)
    )
    if rolled.rowcount == 1:
        return current
    taken = await session.execute(
        update(usage_table)
        .where(*key, usage_table.c.period_start == current, usage_table.c.used < item.monthly_quota)
        .values(used=usage_table.c.used + 1)
    )
    return current if taken.rowcount == 1 else None


async def return_unit(session: AsyncSession | AsyncConnection, *, user_id: int, item_id: str, period: dt.datetime) -> bool:
    """Give back a unit taken in ``period``; a unit of an earlier period is not returned."""
    # Same lock order as take_unit: the subscription row, then the counter.
    await session.execute(
        update(subscriptions).where(subscriptions.c.user_id == user_id).values(level=subscriptions.c.level)
    )
    result = await session.execute(
        update(usage_table)
        .where(
            usage_table.c.user_id == user_id,
            usage_table.c.item_id == item_id,
            usage_table.c.period_start == to_seconds(period),
            usage_table.c.used > 0,
        )
        .values(used=usage_table.c.used - 1)
    )
    return result.rowcount == 1


async def read_usage(session: AsyncSession, *, user_id: int, plan: Plan, anchor: dt.datetime, now: dt.datetime) -> dict[str, dict[str, int]]:
    """Return ``{item id: {used, total}}`` for the current period (a past period reads as 0)."""
    current = period_start(anchor, now)
    rows = await session.scalars(select(SubscriptionUsage).where(SubscriptionUsage.user_id == user_id))
    used = {row.item_id: row.used for row in rows if row.period_start == current}
    return {
        item.id: {"used": 0 if item.monthly_quota == -1 else used.get(item.id, 0), "total": item.monthly_quota}
        for item in plan.items
    }


async def lock_subscription(session: AsyncSession, backend: str, user_id: int, now: dt.datetime) -> Subscription:
    """Create (level 0) and lock the user's subscription row for the transaction, then return it."""
    moment = to_seconds(now)
    await lock_or_create(
        session, backend, subscriptions, (subscriptions.c.user_id == user_id,), "level",
        {"user_id": user_id, "level": 0, "started_at": moment, "expires_at": moment, "total_months": 0, "enterprise": False},
    )
    row = await session.get(Subscription, user_id, populate_existing=True)
    assert row is not None
    return row


def discounted_price(price: Decimal, months: int) -> Decimal:
    """Return the CNY price of ``months`` months: 10% off from 6, 20% from 12, 30% from 36."""
    base = price * months
    if months >= 36:
        return base * Decimal("0.7")
    if months >= 12:
        return base * Decimal("0.8")
    if months >= 6:
        return base * Decimal("0.9")
    return base


@dataclass
class PurchaseQuote:
    """The price and outcome of buying ``months`` of ``level``."""

    action: str
    """new, renew, upgrade or downgrade."""
    cost: int
    """Micro-points to pay."""
    level: int
    expires_at: dt.datetime
    started_at: dt.datetime
    add_months: int


def quote_purchase(config: SubscriptionConfig, row: Subscription, *, level: int, months: int, now: dt.datetime) -> PurchaseQuote:
    """Return the price and outcome of buying ``months`` months of ``level`` for ``row``'s user."""
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidRequest(f"months must be between 1 and {MAX_MONTHS}, not {months}.", param="months")
    plan = config.plan(level)
    if plan is None:
        levels = sorted(plan.level for plan in config.plans)
        raise InvalidRequest(f"There is no plan of level {level}; choose one of {levels}.", param="level")
    now = to_seconds(now)
    current = row.level if is_active(row, now) else 0

    if current in (0, level):
        expires = add_months(max(now, row.expires_at), months)
        started = now if current == 0 else row.started_at
        return PurchaseQuote("new" if current == 0 else "renew", cny_to_micro(discounted_price(plan.price, months)), level, expires, started, months)

    current_plan = config.plan(current)
    current_price = current_plan.price if current_plan else Decimal(0)
    remaining = Decimal((row.expires_at - now).total_seconds())
    if level < current:
        if plan.price <= 0:
            raise InvalidRequest(f"Plan level {level} has no price, so a downgrade cannot convert the remaining time.", param="level")
        seconds = remaining * current_price / plan.price - 86400
        expires = to_seconds(now + dt.timedelta(seconds=float(max(seconds, Decimal(0)))))
        return PurchaseQuote("downgrade", 0, level, expires, row.started_at, 0)

    remaining_days = remaining / 86400
    fee = (plan.price - current_price) * remaining_days / 30
    return PurchaseQuote("upgrade", cny_to_micro(max(fee, Decimal(0))), level, row.expires_at, row.started_at, 0)
