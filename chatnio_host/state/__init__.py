"""State that replicas share: caches, counters, rate-limit windows, pub/sub and event streams.

``RedisState`` serves several replicas; ``MemoryState`` serves one process. Both implement
``SharedState``, and tests run the same cases against each.
"""

from chatnio_host.state.base import SharedState, StreamEntry
from chatnio_host.state.memory import MemoryState
from chatnio_host.state.redis import RedisState

__all__ = ["MemoryState", "RedisState", "SharedState", "StreamEntry", "create_state"]


def create_state(redis_url: str | None, prefix: str = "chatnio:") -> SharedState:
    """Return a Redis-backed state when ``redis_url`` is set, else an in-process one."""
    if redis_url:
        return RedisState(redis_url, prefix=prefix)
    return MemoryState(prefix=prefix)
