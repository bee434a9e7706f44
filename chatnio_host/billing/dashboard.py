"""OpenAI-style balance endpoints that third-party chat apps read, by API key or session token.

Conversions follow Chat Nio: limits are points x 100, and USD amounts are points / rate / 10
with the ``billing.usd_cny_rate`` setting (7.3 by default).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from chatnio_host.auth.deps import KeyOrUser
from chatnio_host.billing.money import MICRO, POINTS_PER_CNY, points_json
from chatnio_host.deps import CtxDep

__all__ = ["router"]

router = APIRouter(tags=["billing"])

SYSTEM_HARD_LIMIT = 100_000_000
SYSTEM_HARD_LIMIT_USD = 1_000_000


async def _usage(caller: KeyOrUser, ctx: CtxDep) -> dict[str, Any]:
    balance = await ctx.services["billing"].balance(caller.user_id)
    return {"object": "list", "total_usage": points_json(balance.used)}


async def _subscription(caller: KeyOrUser, ctx: CtxDep) -> dict[str, Any]:
    service = ctx.services["billing"]
    balance = await service.balance(caller.user_id)
    rate = float((await service.billing_config()).usd_cny_rate)
    # Floats here are display conversions for OpenAI-shaped clients, not stored money.
    quota = (balance.available + balance.held) / MICRO
    total = quota + balance.used / MICRO
    return {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit": int(quota * 100),
        "hard_limit": int(total * 100),
        "system_hard_limit": SYSTEM_HARD_LIMIT,
        "soft_limit_usd": quota / rate / POINTS_PER_CNY,
        "hard_limit_usd": total / rate / POINTS_PER_CNY,
        "system_hard_limit_usd": SYSTEM_HARD_LIMIT_USD,
        "access_until": int(ctx.clock.now().timestamp()) + 365 * 86400,
    }


for prefix in ("", "/v1"):
    router.add_api_route(f"{prefix}/dashboard/billing/usage", _usage, methods=["GET"], name=f"dashboard_usage{prefix.replace('/', '_')}")
    router.add_api_route(
        f"{prefix}/dashboard/billing/subscription", _subscription, methods=["GET"], name=f"dashboard_subscription{prefix.replace('/', '_')}"
    )
