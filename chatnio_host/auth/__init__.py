"""Auth concept: accounts, sign-in, API keys, roles, email codes, rate limits and the admin users API."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chatnio_host.auth.bootstrap import ensure_root
from chatnio_host.auth.service import AuthService

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatnio_host.context import AppContext

__all__ = ["AuthService", "setup"]

logger = logging.getLogger(__name__)


async def _drain_background(ctx: AppContext) -> None:
    await ctx.services["auth"].drain()


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Create the auth service, include its routers and create the root admin at start."""
    ctx.services["auth"] = AuthService(ctx)
    ctx.startup_tasks.append(ensure_root)
    ctx.shutdown_tasks.append(_drain_background)

    from chatnio_host.auth.routers import include_routers

    include_routers(app)
