"""Turn OpenAI chat completion chunks (and whole completions) into canonical events.

Choice indices and tool-call indices are kept as the vendor sent them, so ``n > 1`` answers
and parallel tool calls stay apart. Chunks with empty ``choices`` (Azure's prompt-filter chunk,
the usage chunk) are handled without indexing into them. ``usage: null`` is ignored, so a
later null never replaces usage already reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatnio_host import Event, Finish, ReasoningDelta, TextDelta, ToolCallDelta, Usage, UsageEvent

__all__ = ["chunk_events", "completion_events", "finish_reason", "usage_from"]

_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "sensitive": "content_filter",
    "max_tokens": "length",
}


def finish_reason(value: str) -> str:
    """Return the canonical finish reason for a vendor's value; unknown values count as ``stop``."""
    return _FINISH_REASONS.get(value, "stop")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from(raw: Any) -> Usage | None:
    """Return canonical usage from an OpenAI ``usage`` object, or None when there is none."""
    if not isinstance(raw, dict):
        return None
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    cached = _int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else 0
    if not cached:
        # DeepSeek reports cache hits at the top level.
        cached = _int(raw.get("prompt_cache_hit_tokens"))
    reasoning = _int(completion_details.get("reasoning_tokens")) if isinstance(completion_details, dict) else 0
    return Usage(
        input_tokens=_int(raw.get("prompt_tokens")),
        output_tokens=_int(raw.get("completion_tokens")),
        cached_input_tokens=cached,
        reasoning_tokens=reasoning,
        reported=True,
    )


def _reasoning_text(delta: dict[str, Any]) -> str:
    for name in ("reasoning_content", "reasoning"):
        value = delta.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _tool_call_events(calls: Any, index: int) -> Iterator[Event]:
    if not isinstance(calls, list):
        return
    for position, call in enumerate(calls):
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        tool_index = call.get("index")
        yield ToolCallDelta(
            tool_index=tool_index if isinstance(tool_index, int) else position,
            id=call.get("id") or None,
            name=function.get("name") or None,
            arguments=function.get("arguments") or "",
            index=index,
        )


def chunk_events(chunk: dict[str, Any]) -> Iterator[Event]:
    """Yield the events of one ``chat.completion.chunk``."""
    choices = chunk.get("choices")
    if isinstance(choices, list):
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index")
            index = index if isinstance(index, int) else position
            delta = choice.get("delta") or {}
            if isinstance(delta, dict):
                reasoning = _reasoning_text(delta)
                if reasoning:
                    yield ReasoningDelta(text=reasoning, index=index)
                content = delta.get("content")
                if isinstance(content, str) and content:
                    yield TextDelta(text=content, index=index)
                yield from _tool_call_events(delta.get("tool_calls"), index)
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                yield Finish(reason=finish_reason(reason), index=index)  # type: ignore[arg-type]
    usage = usage_from(chunk.get("usage"))
    if usage is not None:
        yield UsageEvent(usage)


def completion_events(completion: dict[str, Any]) -> Iterator[Event]:
    """Yield the events of a whole (non-streamed) ``chat.completion``, for vendors that ignore ``stream``."""
    choices = completion.get("choices")
    if isinstance(choices, list):
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index")
            index = index if isinstance(index, int) else position
            message = choice.get("message") or {}
            reasoning = _reasoning_text(message)
            if reasoning:
                yield ReasoningDelta(text=reasoning, index=index)
            content = message.get("content")
            if isinstance(content, str) and content:
                yield TextDelta(text=content, index=index)
            calls = message.get("tool_calls")
            if isinstance(calls, list):
                numbered = [{**call, "index": number} for number, call in enumerate(calls) if isinstance(call, dict)]
                yield from _tool_call_events(numbered, index)
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                yield Finish(reason=finish_reason(reason), index=index)  # type: ignore[arg-type]
    usage = usage_from(completion.get("usage"))
    if usage is not None:
        yield UsageEvent(usage)
