"""A scripted channel type for pipeline tests: each call plays the next script of its channel.

Scripts are lists of steps: an ``Event`` is yielded, a number sleeps that many seconds, an
``UpstreamFailure`` is raised, ``STALL`` waits forever. Each call records the channel, key and
model it got and whether its generator was closed, so tests can check order and cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from chatnio_host import ChannelAdapter, ChannelType, PermissionDenied, SearchProvider, hookimpl
from chatnio_host.channels.base import UpstreamFailure, UpstreamTarget
from chatnio_host.relay.canonical import ChatRequest, Event, Finish, TextDelta
from chatnio_host.search.types import SearchResult

STALL = "stall"


@dataclass
class Call:
    """One adapter call as the pipeline made it."""

    channel_id: int
    key: str
    model: str
    closed: bool = False


@dataclass
class Scripts:
    """Scripts by channel name, and every call made so far."""

    by_channel: dict[str, list[list[Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    requests: list[ChatRequest] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)

    def add(self, channel: str, *steps: Any) -> None:
        self.by_channel.setdefault(channel, []).append(list(steps))

    def channel_ids(self) -> list[int]:
        return [call.channel_id for call in self.calls]


SCRIPTS = Scripts()


def ok(text: str = "Hi") -> list[Any]:
    """Return the steps of a short successful answer."""
    return [TextDelta(text), Finish("stop")]


class ScriptedAdapter(ChannelAdapter):
    """Plays ``SCRIPTS`` for the channel named in the target."""

    async def chat(self, request: ChatRequest, target: UpstreamTarget) -> AsyncIterator[Event]:
        call = Call(channel_id=target.channel_id, key=target.key, model=target.model)
        SCRIPTS.calls.append(call)
        SCRIPTS.requests.append(request)
        queue = SCRIPTS.by_channel.get(target.channel_name) or []
        steps = queue.pop(0) if queue else ok()
        try:
            for step in steps:
                if isinstance(step, (int, float)):
                    await asyncio.sleep(step)
                elif step == STALL:
                    await asyncio.sleep(3600)
                elif isinstance(step, UpstreamFailure):
                    raise step
                else:
                    yield step
        finally:
            call.closed = True


BLOCKED_MODEL = "blocked-by-policy"


async def scripted_search(query: str, settings: dict[str, Any], http: Any) -> list[SearchResult]:
    """Return one fixed search hit for ``query``."""
    return [SearchResult(title=f"About {query}", url="https://example.org/result", snippet="A scripted hit.")]


class ScriptedPlugin:
    """Registers the ``scripted`` channel type, a search provider and relay policy hooks.

    ``before_relay`` rejects the model ``blocked-by-policy``; ``after_relay`` records outcomes.
    """

    @hookimpl
    def register_search_providers(self, register: Any) -> None:
        register(SearchProvider(name="scripted-search", search=scripted_search, label="Scripted search"))

    @hookimpl
    def before_relay(self, request: Any, caller: Any) -> None:
        if request.model == BLOCKED_MODEL:
            raise PermissionDenied("This model is blocked by the site policy.", code="blocked")

    @hookimpl
    async def after_relay(self, request: Any, result: Any) -> None:
        SCRIPTS.outcomes.append(result)

    @hookimpl
    def register_channel_types(self, register: Any) -> None:
        register(ChannelType(name="scripted", adapter=ScriptedAdapter, label="Scripted test vendor",
                             template_models=("m",), default_endpoint="http://127.0.0.1:9"))
