"""Shared state kept in this process, for a single replica."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

from limits.aio.storage import MemoryStorage

from chatnio_host.state.base import SharedState, StreamEntry

__all__ = ["MemoryState"]


class MemoryState(SharedState):
    """A dictionary with expiry times; safe for concurrent tasks on one event loop."""

    def __init__(self, prefix: str = "chatnio:") -> None:
        super().__init__(prefix)
        self._values: dict[str, tuple[str, float | None]] = {}
        self._streams: dict[str, list[StreamEntry]] = {}
        self._stream_expiry: dict[str, float] = {}
        self._stream_waiters: dict[str, asyncio.Event] = {}
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {}
        self._sequence = itertools.count(1)
        self._limits = MemoryStorage()

    def _alive(self, key: str) -> tuple[str, float | None] | None:
        item = self._values.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= time.monotonic():
            del self._values[key]
            return None
        return item

    @staticmethod
    def _deadline(ttl: float | None) -> float | None:
        return None if ttl is None else time.monotonic() + ttl

    async def get(self, key: str) -> str | None:
        item = self._alive(self.key(key))
        return None if item is None else item[0]

    async def set(self, key: str, value: str, *, ttl: float | None = None, nx: bool = False) -> bool:
        full = self.key(key)
        if nx and self._alive(full) is not None:
            return False
        self._values[full] = (value, self._deadline(ttl))
        return True

    async def delete(self, *keys: str) -> int:
        count = 0
        for key in keys:
            full = self.key(key)
            if self._alive(full) is not None:
                count += 1
            self._values.pop(full, None)
            if self._streams.pop(full, None) is not None:
                count += 1
        return count

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        full = self.key(key)
        item = self._alive(full)
        if item is None:
            value, deadline = amount, self._deadline(ttl)
        else:
            value, deadline = int(item[0]) + amount, item[1]
        self._values[full] = (str(value), deadline)
        return value

    async def ttl(self, key: str) -> float | None:
        item = self._alive(self.key(key))
        if item is None or item[1] is None:
            return None
        return max(0.0, item[1] - time.monotonic())

    async def compare_and_set(
        self, key: str, expected: str | None, value: str | None, *, ttl: float | None = None
    ) -> bool:
        full = self.key(key)
        item = self._alive(full)
        current = None if item is None else item[0]
        if current != expected:
            return False
        if value is None:
            self._values.pop(full, None)
        else:
            self._values[full] = (value, self._deadline(ttl))
        return True

    async def publish(self, channel: str, message: str) -> None:
        for queue in list(self._subscribers.get(self.key(channel), ())):
            queue.put_nowait(message)

    async def subscribe(self, channel: str) -> AsyncIterator[str]:
        full = self.key(channel)
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.setdefault(full, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers[full].discard(queue)

    def _stream(self, full: str) -> list[StreamEntry]:
        deadline = self._stream_expiry.get(full)
        if deadline is not None and deadline <= time.monotonic():
            self._streams.pop(full, None)
            self._stream_expiry.pop(full, None)
        return self._streams.setdefault(full, [])

    async def stream_append(self, key: str, data: str, *, ttl: float | None = None) -> str:
        full = self.key(key)
        entries = self._stream(full)
        entry = StreamEntry(id=f"{next(self._sequence)}-0", data=data)
        entries.append(entry)
        if ttl is not None:
            self._stream_expiry[full] = time.monotonic() + ttl
        waiter = self._stream_waiters.pop(full, None)
        if waiter is not None:
            waiter.set()
        return entry.id

    @staticmethod
    def _after(entries: list[StreamEntry], after: str | None, count: int) -> list[StreamEntry]:
        if after is None:
            return entries[:count]
        position = int(after.split("-", 1)[0])
        return [entry for entry in entries if int(entry.id.split("-", 1)[0]) > position][:count]

    async def stream_read(
        self, key: str, after: str | None = None, *, count: int = 100, block: float | None = None
    ) -> list[StreamEntry]:
        full = self.key(key)
        found = self._after(self._stream(full), after, count)
        if found or not block:
            return found
        waiter = self._stream_waiters.setdefault(full, asyncio.Event())
        try:
            await asyncio.wait_for(waiter.wait(), timeout=block)
        except TimeoutError:
            return []
        return self._after(self._stream(full), after, count)

    async def ping(self) -> None:
        return None

    def limits_storage(self) -> Any:
        return self._limits

    async def close(self) -> None:
        self._values.clear()
        self._streams.clear()
