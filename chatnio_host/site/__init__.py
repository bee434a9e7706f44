"""Site settings that admins change at run time, the model market and announcements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatnio_host.site.store import SiteSettingsStore

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["SiteSettingsStore", "setup"]


def setup(app: Any, ctx: AppContext) -> None:
    """Add the site settings, market and announcement routes."""
    from chatnio_host.site import market, router

    app.include_router(router.public_router)
    app.include_router(router.admin_router)
    app.include_router(market.public_router)
    app.include_router(market.v1_router)
    app.include_router(market.admin_router)
