"""Include every router of the auth concept."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["include_routers"]


def include_routers(app: FastAPI) -> None:
    """Add the auth, API key, settings and admin users routes."""
    return None
