"""Public reads: ``GET /v1/charge`` (price rules) and ``GET /v1/plans`` (subscription plans)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from chatnio_host.billing.prices import charge_rule_json
from chatnio_host.billing.schemas import plan_json
from chatnio_host.deps import CtxDep

__all__ = ["router"]

router = APIRouter(tags=["billing"])


@router.get("/v1/charge")
async def list_charge_rules(ctx: CtxDep) -> list[dict[str, Any]]:
    """Return the price rules in Chat Nio's shape (types ``non-billing``, ``times-billing``, ``token-billing``)."""
    config = await ctx.services["billing"].prices()
    return [charge_rule_json(rule) for rule in config.rules]


@router.get("/v1/plans")
async def list_plans(ctx: CtxDep) -> list[dict[str, Any]]:
    """Return the subscription plans, or ``[]`` while subscriptions are disabled."""
    config = await ctx.services["billing"].subscription_config()
    if not config.enabled:
        return []
    return [plan_json(plan) for plan in sorted(config.plans, key=lambda plan: plan.level)]
