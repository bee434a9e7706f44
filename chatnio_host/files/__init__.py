"""Uploads: files parsed by the ``register_file_parsers`` plugins and attached to chat messages.

The service lives in ``chatnio_host.files.service``; this module stays light because
``chatnio_host`` imports ``chatnio_host.files.types`` for plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatnio_host.context import AppContext

__all__ = ["setup"]


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Create ``ctx.services["files"]`` and add the upload routes."""
    from chatnio_host.files.router import admin_router, router
    from chatnio_host.files.service import FileService

    ctx.services["files"] = FileService(ctx)
    app.include_router(router)
    app.include_router(admin_router)
