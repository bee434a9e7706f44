"""``ResponseCache``: complete answers stored per request, so a repeated question costs nothing.

The key is a SHA-256 of everything that changes the answer (model, messages, tools, tool
choice, response format, sampling parameters, ``n``, ``seed`` and unknown pass-through fields),
never of the caller. Only complete, successful answers of cacheable models are stored: no
stream error, and every choice finished with ``stop``, ``length`` or ``tool_calls``. The events
are stored as they came, so a replay has the same chunks, tool calls and finish reasons.

Entries live in Redis when the shared state is Redis, so every replica sees them; otherwise in
this process, in a least-recently-used map bounded by bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from chatnio_host.relay.canonical import (
    CONTENT_EVENTS,
    ChatRequest,
    Event,
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    TextPart,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from chatnio_host.state import RedisState

if TYPE_CHECKING:
    import datetime as dt

    from chatnio_host.context import AppContext

__all__ = ["CacheSettings", "ResponseCache", "SECTION", "cache_key", "decode_events", "encode_events"]

logger = logging.getLogger(__name__)

SECTION = "cache"
KEY_PREFIX = "response-cache:"
SEARCH_PREFIX = "web-"
SEARCH_BLOCK_START = '<search_results id="'
COMPLETE_REASONS = frozenset({"stop", "length", "tool_calls"})

# Inbound fields kept in ``ChatRequest.extra`` that never change the answer.
IGNORED_EXTRA = frozenset({"user", "metadata", "store", "stream", "stream_options", "service_tier"})

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (TextDelta, ReasoningDelta, ToolCallDelta, Finish, UsageEvent, StreamError)
}


class CacheSettings(BaseModel):
    """Response cache settings, editable by admins at run time."""

    mode: Literal["none", "free", "all", "list"] = Field(
        "none",
        description="Which models are cached: none, free (models priced 'none'), all, or the models in 'models'.",
    )
    models: list[str] = Field(default_factory=list, description="Cacheable model names when mode is 'list'.")
    size: int = Field(1, ge=1, le=32, description="Answers kept per request; with more, a random one is served.")
    ttl: int = Field(3600, ge=1, description="Seconds a stored answer is served.")
    memory_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Bytes of answers kept in process when Redis is not configured."
    )


# --- key -----------------------------------------------------------------------------------


def _number(value: Any) -> Any:
    """Return ints and floats in one form, so ``1`` and ``1.0`` give the same key."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
        # Attachment parts carry file ids next to their text; the text alone is what the model reads.
        fields.pop("file_id", None)
        fields.pop("filename", None)
        return fields
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def cache_key(request: ChatRequest) -> str:
    """Return the hex SHA-256 of every field of ``request`` that changes the answer."""
    model = request.model
    web = model.startswith(SEARCH_PREFIX)
    if web:
        model = model[len(SEARCH_PREFIX) :]
    material = {
        "model": model,
        "web": web,
        "messages": _plain(request.messages),
        "tools": _plain(request.tools),
        "tool_choice": request.tool_choice,
        "parallel_tool_calls": request.parallel_tool_calls,
        "response_format": _plain(request.response_format),
        "max_tokens": request.output_limit,
        "temperature": _number(request.temperature),
        "top_p": _number(request.top_p),
        "top_k": request.top_k,
        "presence_penalty": _number(request.presence_penalty),
        "frequency_penalty": _number(request.frequency_penalty),
        "stop": request.stop,
        "n": request.n if request.n is not None else 1,
        "seed": request.seed,
        "reasoning_effort": request.reasoning_effort,
        "thinking_budget": request.thinking_budget,
        "extra": {key: _plain(value) for key, value in sorted(request.extra.items()) if key not in IGNORED_EXTRA},
    }
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


# --- events --------------------------------------------------------------------------------


def encode_events(events: list[Event]) -> str:
    """Return ``events`` as JSON text."""
    items = []
    for event in events:
        item = dataclasses.asdict(event)
        item["event"] = type(event).__name__
        items.append(item)
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"))


def decode_events(text: str) -> list[Event]:
    """Return the events that ``encode_events`` stored."""
    events: list[Event] = []
    for item in json.loads(text):
        cls = EVENT_TYPES[item.pop("event")]
        if cls is UsageEvent:
            events.append(UsageEvent(usage=Usage(**item["usage"])))
        else:
            events.append(cls(**item))
    return events


def is_complete(events: list[Event]) -> bool:
    """Return whether ``events`` are a whole successful answer worth replaying."""
    content_indexes: set[int] = set()
    finished: dict[int, str] = {}
    for event in events:
        if isinstance(event, StreamError):
            return False
        if isinstance(event, CONTENT_EVENTS):
            content_indexes.add(event.index)
        elif isinstance(event, Finish):
            finished[event.index] = event.reason
    if not content_indexes:
        return False
    if not content_indexes <= set(finished):
        return False
    return all(reason in COMPLETE_REASONS for reason in finished.values())


def _has_search_results(request: ChatRequest) -> bool:
    return any(
        isinstance(part, TextPart) and part.text.startswith(SEARCH_BLOCK_START)
        for message in request.messages
        for part in message.content
    )


# --- storage -------------------------------------------------------------------------------


class _MemoryEntries:
    """An in-process map of key to (value, expiry), least recently used first out past a byte bound."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[str, dt.datetime]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, now: dt.datetime) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def set(self, key: str, value: str, expires: dt.datetime, max_bytes: int) -> None:
        self._drop(key)
        size = len(value)
        if size > max_bytes:
            return
        self._entries[key] = (value, expires)
        self._bytes += size
        while self._bytes > max_bytes and self._entries:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[0])

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


class ResponseCache:
    """Complete answers per request key, with ``size`` slots of answers per key."""

    def __init__(self, ctx: AppContext, *, rng: random.Random | None = None) -> None:
        self.ctx = ctx
        self.rng = rng or random.Random()
        self._memory = _MemoryEntries()

    @property
    def shared(self) -> bool:
        """Whether entries live in Redis, shared by every replica."""
        return isinstance(self.ctx.state, RedisState)

    async def settings(self) -> CacheSettings:
        """Return the current ``cache`` settings section."""
        return await self.ctx.site.get(SECTION, CacheSettings)

    def key(self, request: ChatRequest) -> str:
        """Return the cache key of ``request``."""
        return cache_key(request)

    async def cacheable(self, model: str, settings: CacheSettings | None = None) -> bool:
        """Return whether answers of ``model`` (a requested name, ``web-`` prefix allowed) are cached."""
        settings = settings or await self.settings()
        bare = model[len(SEARCH_PREFIX) :] if model.startswith(SEARCH_PREFIX) else model
        if settings.mode == "none":
            return False
        if settings.mode == "all":
            return True
        if settings.mode == "list":
            return model in settings.models or bare in settings.models
        billing = self.ctx.services.get("billing")
        if billing is None:
            return False
        price = billing.price_for(bare)
        if hasattr(price, "__await__"):
            price = await price
        return price is not None and getattr(price, "kind", None) == "none"

    async def _get(self, key: str) -> str | None:
        if self.shared:
            return await self.ctx.state.get(key)
        return self._memory.get(key, self.ctx.clock.now())

    async def _set(self, key: str, value: str, settings: CacheSettings, *, only_new: bool) -> bool:
        if self.shared:
            return await self.ctx.state.set(key, value, ttl=settings.ttl, nx=only_new)
        import datetime as dt

        now = self.ctx.clock.now()
        if only_new and self._memory.get(key, now) is not None:
            return False
        self._memory.set(key, value, now + dt.timedelta(seconds=settings.ttl), settings.memory_max_bytes)
        return True

    def _slot_keys(self, digest: str, size: int) -> list[str]:
        return [f"{KEY_PREFIX}{digest}:{slot}" for slot in range(size)]

    async def lookup(self, request: ChatRequest) -> list[Event] | None:
        """Return a stored answer for ``request``, or None on a miss.

        With ``size`` > 1 and some slots still empty, a lookup misses with the share of empty
        slots as its chance, so the cache collects several answers before it only replays.
        """
        settings = await self.settings()
        if not await self.cacheable(request.model, settings):
            return None
        digest = self.key(request)
        stored = [value for key in self._slot_keys(digest, settings.size) if (value := await self._get(key)) is not None]
        if not stored:
            logger.debug("response cache miss for model %s (key %s)", request.model, digest[:12])
            return None
        empty = settings.size - len(stored)
        if empty > 0 and self.rng.random() < empty / settings.size:
            logger.debug("response cache skipped a hit to fill slot for model %s (key %s)", request.model, digest[:12])
            return None
        logger.info("response cache hit for model %s (key %s)", request.model, digest[:12])
        try:
            return decode_events(self.rng.choice(stored))
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("response cache entry %s is unreadable and is ignored: %s", digest[:12], exc)
            return None

    async def store(self, request: ChatRequest, events: list[Event]) -> bool:
        """Store a complete answer of a cacheable model; return whether it was stored."""
        settings = await self.settings()
        if not await self.cacheable(request.model, settings):
            return False
        if not is_complete(events):
            logger.info("response cache did not store an incomplete answer for model %s", request.model)
            return False
        if _has_search_results(request):
            # Search results carry a random nonce, so such a request never repeats exactly.
            return False
        digest = self.key(request)
        value = encode_events(events)
        keys = self._slot_keys(digest, settings.size)
        for key in keys:
            if await self._set(key, value, settings, only_new=True):
                logger.info("response cache stored an answer for model %s (key %s)", request.model, digest[:12])
                return True
        await self._set(self.rng.choice(keys), value, settings, only_new=False)
        logger.info("response cache replaced an answer for model %s (key %s)", request.model, digest[:12])
        return True

    def clear_memory(self) -> None:
        """Drop every entry kept in this process."""
        self._memory.clear()
