"""Shared state in Redis, for any number of replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from limits.aio.storage import RedisStorage

from chatnio_host.state.base import SharedState, StreamEntry

__all__ = ["RedisState"]

# Set only when the current value equals ARGV[1] ("" stands for a missing key).
_CAS_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) return 1 end
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
"""

_INCR_SCRIPT = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if value == tonumber(ARGV[1]) and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""


class RedisState(SharedState):
    """Redis through redis-py's asyncio client; values are UTF-8 strings."""

    def __init__(self, url: str, prefix: str = "chatnio:", max_connections: int = 200) -> None:
        super().__init__(prefix)
        self.url = url
        # A blocking pool waits for a free connection instead of failing under bursts.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, decode_responses=True, health_check_interval=30, max_connections=max_connections, timeout=10
        )
        self.client = aioredis.Redis(connection_pool=pool)
        self._cas = self.client.register_script(_CAS_SCRIPT)
        self._incr = self.client.register_script(_INCR_SCRIPT)
        self._limits: RedisStorage | None = None

    @staticmethod
    def _ms(ttl: float | None) -> int:
        return 0 if ttl is None else max(1, int(ttl * 1000))

    async def get(self, key: str) -> str | None:
        return await self.client.get(self.key(key))

    async def set(self, key: str, value: str, *, ttl: float | None = None, nx: bool = False) -> bool:
        px = self._ms(ttl) or None
        return bool(await self.client.set(self.key(key), value, px=px, nx=nx))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self.client.delete(*(self.key(key) for key in keys)))

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        return int(await self._incr(keys=[self.key(key)], args=[amount, self._ms(ttl)]))

    async def ttl(self, key: str) -> float | None:
        value = await self.client.pttl(self.key(key))
        return None if value < 0 else value / 1000

    async def compare_and_set(
        self, key: str, expected: str | None, value: str | None, *, ttl: float | None = None
    ) -> bool:
        args = [expected or "", value or "", "1" if value is None else "0", self._ms(ttl)]
        return bool(await self._cas(keys=[self.key(key)], args=args))

    async def publish(self, channel: str, message: str) -> None:
        await self.client.publish(self.key(channel), message)

    async def subscribe(self, channel: str) -> AsyncIterator[str]:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.key(channel))
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield message["data"]
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def stream_append(self, key: str, data: str, *, ttl: float | None = None) -> str:
        full = self.key(key)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(full, {"d": data})
            if ttl is not None:
                pipe.pexpire(full, self._ms(ttl))
            results = await pipe.execute()
        return str(results[0])

    async def stream_read(
        self, key: str, after: str | None = None, *, count: int = 100, block: float | None = None
    ) -> list[StreamEntry]:
        block_ms = None if not block else max(1, int(block * 1000))
        response = await self.client.xread({self.key(key): after or "0-0"}, count=count, block=block_ms)
        entries: list[StreamEntry] = []
        for _stream, items in response or []:
            for entry_id, fields in items:
                entries.append(StreamEntry(id=str(entry_id), data=fields["d"]))
        return entries

    async def ping(self) -> None:
        await self.client.ping()

    def limits_storage(self) -> Any:
        if self._limits is None:
            self._limits = RedisStorage(
                self.url.replace("redis://", "async+redis://", 1),
                implementation="redispy",
                key_prefix=self.prefix + "limits",
            )
        return self._limits

    async def close(self) -> None:
        await self.client.aclose()
