"""Rate limits on the shared state (``limits``, moving window) and the IP block for bad API keys."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter

from chatnio_host.errors import RateLimited
from chatnio_host.state import SharedState

__all__ = ["RateLimiter"]

logger = logging.getLogger(__name__)

_BLOCK_KEY = "auth:ip-block:"


class RateLimiter:
    """Named limits keyed by identifiers (an IP, a username, an address)."""

    def __init__(self, state: SharedState) -> None:
        self.state = state
        self._limiter: MovingWindowRateLimiter | None = None

    @property
    def limiter(self) -> MovingWindowRateLimiter:
        """The ``limits`` strategy on the shared state's storage, created on first use."""
        if self._limiter is None:
            self._limiter = MovingWindowRateLimiter(self.state.limits_storage())
        return self._limiter

    async def _retry_after(self, item: RateLimitItem, name: str, identifier: str) -> int:
        stats = await self.limiter.get_window_stats(item, name, identifier)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def hit(self, name: str, limit: str, identifier: str, *, message: str) -> None:
        """Count one request; raise ``RateLimited`` with ``Retry-After`` once ``limit`` is used up."""
        item = parse(limit)
        if await self.limiter.hit(item, name, identifier):
            return
        retry_after = await self._retry_after(item, name, identifier)
        logger.warning("rate limit %s (%s) reached for %s; retry after %ss", name, limit, identifier, retry_after)
        raise RateLimited(message, retry_after=retry_after)

    async def check(self, name: str, limit: str, identifier: str, *, message: str) -> None:
        """Raise ``RateLimited`` when ``limit`` is used up, without counting this request."""
        item = parse(limit)
        if await self.limiter.test(item, name, identifier):
            return
        raise RateLimited(message, retry_after=await self._retry_after(item, name, identifier))

    async def clear(self, name: str, limit: str, identifier: str) -> None:
        """Forget the counts of one identifier (after a successful sign-in, for instance)."""
        await self.limiter.clear(parse(limit), name, identifier)

    async def blocked_for(self, ip: str) -> float | None:
        """Return the seconds left on ``ip``'s block for bad API keys, or None when not blocked."""
        if await self.state.get(_BLOCK_KEY + ip) is None:
            return None
        return await self.state.ttl(_BLOCK_KEY + ip) or 1.0

    async def record_bad_key(self, ip: str, limit: str, block_seconds: int) -> bool:
        """Count an unknown API key from ``ip``; block the IP once ``limit`` is reached. Return whether blocked."""
        item = parse(limit)
        await self.limiter.hit(item, "bad-api-key", ip)
        if await self.limiter.test(item, "bad-api-key", ip):
            return False
        await self.state.set(_BLOCK_KEY + ip, "1", ttl=block_seconds)
        logger.warning("blocked IP %s for %ss after too many unknown API keys (%s)", ip, block_seconds, limit)
        return True
