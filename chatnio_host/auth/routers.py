"""Include every router of the auth concept."""

from __future__ import annotations

from fastapi import FastAPI

from chatnio_host.auth.admin_router import router as admin_router
from chatnio_host.auth.keys_router import router as keys_router
from chatnio_host.auth.router import router as auth_router

__all__ = ["include_routers"]


def include_routers(app: FastAPI) -> None:
    """Add the auth, API key and admin users and settings routes."""
    app.include_router(auth_router)
    app.include_router(keys_router)
    app.include_router(admin_router)
