"""Helpers shared by the plugin's tests."""

from __future__ import annotations

from chatnio_host import ChatRequest, Message, TextPart, UpstreamTarget
from chatnio_host.testing_vendors import FakeOpenAI

CHANNEL_KEY = "sk-channel-key-0000111122223333"


def make_target(vendor: FakeOpenAI, *, model: str = "gpt-4o-mini", type_name: str = "openai", key: str = CHANNEL_KEY,
                settings: dict | None = None, endpoint: str | None = None, channel_id: int = 1) -> UpstreamTarget:
    return UpstreamTarget(channel_id=channel_id, channel_type=type_name, endpoint=vendor.url if endpoint is None else endpoint,
                          key=key, model=model, settings=settings or {})


def make_request(text: str = "hi", **fields) -> ChatRequest:
    fields.setdefault("model", "gpt-4o-mini")
    return ChatRequest(messages=[Message(role="user", content=[TextPart(text)])], **fields)


async def run_chat(adapter, request: ChatRequest, target: UpstreamTarget) -> list:
    return [event async for event in adapter.chat(request, target)]
