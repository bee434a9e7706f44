"""Channels concept: upstream accounts, their keys, and the order a request tries them in.

``setup`` stores a ``ChannelService`` as ``ctx.services["channels"]`` (candidates, attempts,
record_failure, record_success, models_for) with ``manager`` and ``probe`` for the admin API, and
``rechecker``, which tests disabled keys at the interval of the ``key_recheck_minutes`` setting.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chatnio_host.channels.health import KeyRechecker
from chatnio_host.channels.manage import ChannelManager
from chatnio_host.channels.probe import ChannelProbe
from chatnio_host.channels.scheduler import Attempt, CandidateKey, ChannelCandidate, Exclusions
from chatnio_host.channels.service import ChannelService
from chatnio_host.channels.settings import ChannelSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatnio_host.context import AppContext

__all__ = [
    "Attempt",
    "CandidateKey",
    "ChannelCandidate",
    "ChannelManager",
    "ChannelProbe",
    "ChannelService",
    "ChannelSettings",
    "Exclusions",
    "KeyRechecker",
    "setup",
]

logger = logging.getLogger(__name__)


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Create the channel service and include the channel admin routes."""
    service = ChannelService(ctx)
    service.manager = ChannelManager(ctx, service)
    service.probe = ChannelProbe(service.manager)
    service.rechecker = KeyRechecker(service)
    ctx.services["channels"] = service
    ctx.startup_tasks.append(service.rechecker.start)
    ctx.shutdown_tasks.append(service.rechecker.stop)

    from chatnio_host.channels.router import router

    app.include_router(router)
