"""Billing concept: prices, the points ledger with holds, usage, subscriptions and codes.

``setup`` registers ``ctx.services["billing"]`` (a ``BillingService``), the stale-hold
reconciliation and the billing routes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI

from chatnio_host.billing.money import from_micro, points_json, to_micro
from chatnio_host.billing.prices import Price, PriceRule, PricesConfig
from chatnio_host.billing.service import BillingService, Hold
from chatnio_host.billing.settings import BillingConfig, Plan, PlanItem, SubscriptionConfig

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = [
    "BillingConfig",
    "BillingService",
    "Hold",
    "Plan",
    "PlanItem",
    "Price",
    "PriceRule",
    "PricesConfig",
    "SubscriptionConfig",
    "from_micro",
    "points_json",
    "setup",
    "to_micro",
]

logger = logging.getLogger(__name__)


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Create the billing service, schedule its reconciliation and add its routes."""
    service = BillingService(ctx)
    ctx.services["billing"] = service

    async def start_reconciliation(_ctx: AppContext) -> None:
        await service.start()

    async def stop_reconciliation(_ctx: AppContext) -> None:
        await service.stop()

    ctx.startup_tasks.append(start_reconciliation)
    ctx.shutdown_tasks.append(stop_reconciliation)
    _include_routers(app)


def _include_routers(app: FastAPI) -> None:
    from chatnio_host.billing.admin_router import router as admin_router
    from chatnio_host.billing.dashboard import router as dashboard_router
    from chatnio_host.billing.public_router import router as public_router
    from chatnio_host.billing.router import router as user_router

    for router in (public_router, user_router, dashboard_router, admin_router):
        app.include_router(router)
