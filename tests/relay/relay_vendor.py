"""Helpers for relay tests against the fake OpenAI vendor."""

from __future__ import annotations

import json
from typing import Any

from relay_world import add_channel

from chatnio_host.testing import TestHost
from chatnio_host.testing_vendors.openai import FakeOpenAI, chat_chunk
from chatnio_host.testing_vendors.server import sse_data

VENDOR_KEY = "sk-vendor-secret-0123456789"


async def openai_channel(host: TestHost, vendor: FakeOpenAI, name: str = "A", **fields: Any) -> int:
    """Add an ``openai`` channel that points at ``vendor``."""
    values: dict[str, Any] = {
        "name": name, "type": "openai", "endpoint": vendor.url, "keys": VENDOR_KEY, "models": ["gpt-4o-mini"],
    }
    values.update(fields)
    return await add_channel(host, **values)


def content_chunk(text: str, *, index: int = 0, model: str = "gpt-4o-mini", id: str = "c1") -> bytes:
    """Return one stream event with ``text`` as the delta content."""
    return sse_data(chat_chunk({"content": text}, index=index, model=model, id=id))


def finish_chunk(reason: str = "stop", *, model: str = "gpt-4o-mini", usage: Any = False) -> bytes:
    """Return one stream event that finishes choice 0."""
    return sse_data(chat_chunk({}, finish_reason=reason, model=model, usage=usage))


def parse_stream(raw: bytes) -> list[Any]:
    """Split a client-side SSE body into its payloads (``"[DONE]"`` or parsed JSON).

    Asserts the framing the relay promises: ``data: `` lines, LF only, one blank line after each.
    """
    assert b"\r" not in raw
    assert raw.endswith(b"\n\n"), raw[-200:]
    payloads: list[Any] = []
    for block in raw.split(b"\n\n")[:-1]:
        assert block.startswith(b"data: "), block[:200]
        assert b"\n" not in block
        data = block[len(b"data: "):]
        payloads.append("[DONE]" if data == b"[DONE]" else json.loads(data))
    return payloads


def stream_text(payloads: list[Any], index: int = 0) -> str:
    """Join the delta content of choice ``index``."""
    parts = []
    for payload in payloads:
        if not isinstance(payload, dict):
            continue
        for choice in payload.get("choices") or []:
            if choice["index"] == index:
                parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


def finish_reasons(payloads: list[Any]) -> list[str]:
    """Return every non-null ``finish_reason`` in order."""
    reasons = []
    for payload in payloads:
        if isinstance(payload, dict):
            for choice in payload.get("choices") or []:
                if choice.get("finish_reason"):
                    reasons.append(choice["finish_reason"])
    return reasons
