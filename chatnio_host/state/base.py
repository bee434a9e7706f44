"""The shared-state interface."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

__all__ = ["SharedState", "StreamEntry"]


@dataclass(frozen=True)
class StreamEntry:
    """One entry of an event stream: its id (ordered within the stream) and payload."""

    id: str
    data: str


class SharedState(abc.ABC):
    """Keys, counters, compare-and-set, pub/sub and append-only streams, with a key prefix.

    Every key given to a method is relative: the implementation adds ``prefix``, so tests and
    sites sharing one Redis stay apart.
    """

    def __init__(self, prefix: str = "chatnio:") -> None:
        self.prefix = prefix

    def key(self, key: str) -> str:
        """Return the full key for the relative ``key``."""
        return self.prefix + key

    @abc.abstractmethod
    async def get(self, key: str) -> str | None:
        """Return the value of ``key``, or None when missing or expired."""

    @abc.abstractmethod
    async def set(self, key: str, value: str, *, ttl: float | None = None, nx: bool = False) -> bool:
        """Store ``value``; with ``nx`` only when missing. Return whether it was stored."""

    @abc.abstractmethod
    async def delete(self, *keys: str) -> int:
        """Delete keys and return how many existed."""

    @abc.abstractmethod
    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add ``amount`` atomically and return the new value; ``ttl`` applies when created."""

    @abc.abstractmethod
    async def ttl(self, key: str) -> float | None:
        """Return the seconds left before ``key`` expires, or None without expiry or key."""

    @abc.abstractmethod
    async def compare_and_set(
        self, key: str, expected: str | None, value: str | None, *, ttl: float | None = None
    ) -> bool:
        """Set ``key`` to ``value`` (None deletes) only if it currently equals ``expected``."""

    @abc.abstractmethod
    async def publish(self, channel: str, message: str) -> None:
        """Send ``message`` to every subscriber of ``channel`` on every replica."""

    @abc.abstractmethod
    def subscribe(self, channel: str) -> AsyncIterator[str]:
        """Yield messages published to ``channel`` from now on, until the iterator is closed."""

    @abc.abstractmethod
    async def stream_append(self, key: str, data: str, *, ttl: float | None = None) -> str:
        """Append ``data`` to the stream ``key`` and return the new entry's id."""

    @abc.abstractmethod
    async def stream_read(
        self, key: str, after: str | None = None, *, count: int = 100, block: float | None = None
    ) -> list[StreamEntry]:
        """Return entries after id ``after`` (all when None), waiting up to ``block`` seconds."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise when the backing store is unreachable."""

    @abc.abstractmethod
    def limits_storage(self) -> Any:
        """Return a ``limits.aio.storage`` instance on the same backend."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""
