"""Relay concept: the OpenAI-compatible ``/v1`` endpoints and the pipeline behind every format.

``setup`` installs the upstream client and adapters (``ctx.services["upstream"]`` and
``["adapters"]``), stores a ``RelayService`` as ``ctx.services["relay"]`` and includes the ``/v1`` routes.
The service is imported lazily because ``chatnio_host.channels.base`` imports
``chatnio_host.relay.canonical``, and the service imports the channel contract in turn.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatnio_host.context import AppContext

__all__ = ["RelayOutcome", "RelayResult", "RelayService", "setup"]

logger = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    if name in ("RelayOutcome", "RelayResult", "RelayService"):
        from chatnio_host.relay import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Create the upstream client, the adapters and the relay service; include the ``/v1`` routes."""
    from chatnio_host.relay import adapters
    from chatnio_host.relay.router import router
    from chatnio_host.relay.service import RelayService

    adapters.install(ctx)
    ctx.services["relay"] = RelayService(ctx)
    app.include_router(router)
