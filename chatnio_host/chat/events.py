"""Per-message event buffers in the shared state, and their SSE encoding.

A generation appends typed events to the stream ``chat:events:<message id>``; any replica reads
them, so a browser that reconnects with ``Last-Event-ID`` gets exactly the events after that id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from chatnio_host.state import SharedState

__all__ = ["END_EVENTS", "EVENT_TTL", "EventBuffer", "encode_sse"]

logger = logging.getLogger(__name__)

EVENT_TTL = 3600.0
"""Seconds a message's events stay readable after the last one was written."""

END_EVENTS = frozenset({"done"})
"""Event types after which a reader stops; ``error`` is followed by ``done``."""

KEEPALIVE_SECONDS = 15.0


def encode_sse(event_id: str, event_type: str, data: dict[str, Any]) -> bytes:
    """Encode one event as SSE bytes with its id."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event_id}\nevent: {event_type}\ndata: {payload}\n\n".encode()


class EventBuffer:
    """Append and read the typed events of one message's generation."""

    def __init__(self, state: SharedState, message_key: str) -> None:
        self.state = state
        self.key = f"chat:events:{message_key}"

    async def append(self, event_type: str, data: dict[str, Any]) -> str:
        """Append one event and return its id."""
        body = json.dumps({"type": event_type, "data": data}, ensure_ascii=False, separators=(",", ":"))
        return await self.state.stream_append(self.key, body, ttl=EVENT_TTL)

    async def exists(self) -> bool:
        """Whether any event of this message is still buffered."""
        return bool(await self.state.stream_read(self.key, count=1))

    async def read(self, after: str | None) -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
        """Yield ``(id, type, data)`` after id ``after`` until the ``done`` event.

        Between events it yields ``("", "ping", {})`` every 15 seconds, so proxies keep the
        connection open.
        """
        cursor = after
        while True:
            entries = await self.state.stream_read(self.key, cursor, count=200, block=KEEPALIVE_SECONDS)
            if not entries:
                yield "", "ping", {}
                continue
            for entry in entries:
                cursor = entry.id
                body = json.loads(entry.data)
                yield entry.id, body["type"], body["data"]
                if body["type"] in END_EVENTS:
                    return
