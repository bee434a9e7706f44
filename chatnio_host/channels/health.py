"""Automatic tests of disabled keys, so a key that was revoked and fixed comes back by itself.

Every replica ticks once a minute. The check runs on the replica that claims ``channels:recheck``
in the shared state (set-if-missing with a TTL of the interval), so it runs once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from chatnio_host.db.models.channel import Channel, ChannelKey
from chatnio_host.errors import APIError

if TYPE_CHECKING:
    from chatnio_host.channels.service import ChannelService
    from chatnio_host.context import AppContext

__all__ = ["KeyRechecker"]

logger = logging.getLogger(__name__)

TICK_SECONDS = 60.0
LOCK_KEY = "channels:recheck"


class KeyRechecker:
    """Test disabled keys of enabled channels at the interval of the ``key_recheck_minutes`` setting."""

    def __init__(self, service: ChannelService) -> None:
        self.service = service
        self._task: asyncio.Task[None] | None = None

    async def recheck(self) -> int:
        """Test every enabled channel that has a disabled key; return how many keys were enabled again."""
        ctx = self.service.ctx
        async with ctx.db.session() as session:
            channel_ids = (
                await session.scalars(
                    select(Channel.id)
                    .join(ChannelKey, ChannelKey.channel_id == Channel.id)
                    .where(Channel.enabled.is_(True), ChannelKey.enabled.is_(False))
                    .distinct()
                    .order_by(Channel.id)
                )
            ).all()

        enabled_again = 0
        for channel_id in channel_ids:
            try:
                result = await self.service.probe.test(channel_id)
            except APIError as exc:
                logger.warning("automatic key test of channel %s failed: %s", channel_id, exc.message)
                continue
            enabled_again += sum(1 for key in result.keys if key.ok and not key.was_enabled)
        logger.info(
            "automatic key test: %d channels with disabled keys, %d keys enabled again", len(channel_ids), enabled_again
        )
        return enabled_again

    async def tick(self) -> bool:
        """Run the check when it is on and no replica ran it within the interval; return whether it ran."""
        settings = await self.service.channel_settings()
        if settings.key_recheck_minutes <= 0:
            return False
        claimed = await self.service.ctx.state.set(
            LOCK_KEY, "1", ttl=settings.key_recheck_minutes * 60.0, nx=True
        )
        if not claimed:
            return False
        await self.recheck()
        return True

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - keep the loop alive; the next tick retries
                logger.exception("automatic key test tick failed")

    async def start(self, ctx: AppContext) -> None:
        """Start the ticking task (a startup task)."""
        self._task = asyncio.create_task(self._loop(), name="channels-key-recheck")
        logger.info("automatic key test task started")

    async def stop(self, ctx: AppContext) -> None:
        """Stop the ticking task (a shutdown task)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        logger.info("automatic key test task stopped")
