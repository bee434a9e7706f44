"""Canonical events to Anthropic Messages responses: stream events or one JSON message.

The stream follows Anthropic's order: ``message_start``, one ``content_block_start`` /
``content_block_delta`` / ``content_block_stop`` group per block, ``message_delta`` with the stop
reason and usage, ``message_stop``. A tool call's block starts with ``input: {}`` and its argument
fragments follow as ``input_json_delta`` as soon as they arrive. Parallel tool calls whose
fragments interleave keep their blocks open until a text or thinking block or the end, so every
fragment lands in its own block. A failure after content ends the stream with an ``error``
event and no ``message_stop``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from chatnio_host.relay.canonical import (
    Event,
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

__all__ = ["MessageBuilder", "MessageStreamEncoder", "anthropic_usage", "error_body", "sse_event"]

FINISH_TO_STOP_REASON: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}

# Canonical (OpenAI-style) error types to Anthropic error types.
_ERROR_TYPES: dict[str, str] = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "insufficient_quota": "permission_error",
    "not_found_error": "not_found_error",
    "rate_limit_error": "rate_limit_error",
    "timeout_error": "timeout_error",
    "overloaded_error": "overloaded_error",
}


def anthropic_error_type(error_type: str | None, status: int | None = None) -> str:
    """Return the Anthropic error type for a canonical error type or HTTP status."""
    if error_type in _ERROR_TYPES:
        return _ERROR_TYPES[error_type]
    if status == 413:
        return "request_too_large"
    if status == 529 or status == 503:
        return "overloaded_error"
    if status is not None and 400 <= status < 500:
        return {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error"}.get(status, "invalid_request_error")
    return "api_error"


def error_body(message: str, error_type: str) -> dict[str, Any]:
    """Return Anthropic's error body ``{"type": "error", "error": {"type", "message"}}``."""
    return {"type": "error", "error": {"type": error_type, "message": message}}


def sse_event(name: str, payload: dict[str, Any]) -> bytes:
    """Return one Anthropic stream event: ``event: <name>\\ndata: <JSON>\\n\\n``."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {data}\n\n".encode()


def anthropic_usage(usage: Usage) -> dict[str, int]:
    """Return Anthropic's usage object, whose ``input_tokens`` excludes cache reads and writes."""
    uncached = max(0, usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens)
    return {
        "input_tokens": uncached,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
    }


def new_message_id() -> str:
    """Return a fresh Anthropic-style message id."""
    return "msg_" + secrets.token_hex(12)


@dataclass
class _OpenBlock:
    index: int
    kind: str
    tool_index: int | None = None
    signed: bool = False


@dataclass
class MessageStreamEncoder:
    """Turns canonical events into Anthropic stream event bytes, one ``encode`` call at a time."""

    model: str
    message_id: str = field(default_factory=new_message_id)
    input_tokens: int = 0
    next_index: int = 0
    current: _OpenBlock | None = None
    tool_blocks: dict[int, _OpenBlock] = field(default_factory=dict)
    stop_reason: str | None = None
    usage: Usage | None = None
    started: bool = False
    ended: bool = False

    def start(self) -> bytes:
        """Return ``message_start`` and a ``ping``."""
        self.started = True
        message = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 1},
        }
        return sse_event("message_start", {"type": "message_start", "message": message}) + sse_event(
            "ping", {"type": "ping"}
        )

    def encode(self, event: Event) -> bytes:
        """Return the bytes for one canonical event (often empty)."""
        if self.ended:
            return b""
        out = b"" if self.started else self.start()
        if isinstance(event, TextDelta):
            if event.index != 0 or not event.text:
                return out
            out += self._open("text", {"type": "text", "text": ""})
            return out + self._delta(self.current, {"type": "text_delta", "text": event.text})
        if isinstance(event, ReasoningDelta):
            if event.index != 0:
                return out
            if self.current is None or self.current.kind != "thinking" or self.current.signed:
                out += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            if event.text:
                out += self._delta(self.current, {"type": "thinking_delta", "thinking": event.text})
            if event.signature:
                # A signature closes its thinking block, so later reasoning opens a new one.
                self.current.signed = True
                out += self._delta(self.current, {"type": "signature_delta", "signature": event.signature})
            return out
        if isinstance(event, ToolCallDelta):
            return out + self._tool(event) if event.index == 0 else out
        if isinstance(event, Finish):
            if event.index == 0:
                self.stop_reason = FINISH_TO_STOP_REASON.get(event.reason, "end_turn")
            return out
        if isinstance(event, UsageEvent):
            self.usage = event.usage
            return out
        if isinstance(event, StreamError):
            self.ended = True
            error_type = anthropic_error_type(event.type, event.status)
            return out + self._close_all() + sse_event("error", error_body(event.message, error_type))
        return out

    def end(self) -> bytes:
        """Return the closing events, or an error event when the stream never finished normally."""
        if self.ended:
            return b""
        out = b"" if self.started else self.start()
        self.ended = True
        out += self._close_all()
        if self.stop_reason is None:
            return out + sse_event("error", error_body("The upstream stream ended before it finished.", "api_error"))
        usage = anthropic_usage(self.usage or Usage(input_tokens=self.input_tokens))
        delta = {"type": "message_delta", "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                 "usage": usage}
        return out + sse_event("message_delta", delta) + sse_event("message_stop", {"type": "message_stop"})

    def _open(self, kind: str, block: dict[str, Any]) -> bytes:
        if self.current is not None and self.current.kind == kind and not self.current.signed:
            return b""
        out = self._close_all()
        self.current = _OpenBlock(self.next_index, kind)
        self.next_index += 1
        return out + sse_event(
            "content_block_start", {"type": "content_block_start", "index": self.current.index, "content_block": block}
        )

    def _tool(self, event: ToolCallDelta) -> bytes:
        out = b""
        block = self.tool_blocks.get(event.tool_index)
        if block is None:
            if self.current is not None and self.current.kind != "tool_use":
                out += self._close_all()
            block = _OpenBlock(self.next_index, "tool_use", event.tool_index)
            self.next_index += 1
            self.tool_blocks[event.tool_index] = block
            self.current = block
            content = {"type": "tool_use", "id": event.id or f"toolu_{secrets.token_hex(12)}",
                       "name": event.name or "", "input": {}}
            out += sse_event(
                "content_block_start", {"type": "content_block_start", "index": block.index, "content_block": content}
            )
        if event.arguments:
            out += self._delta(block, {"type": "input_json_delta", "partial_json": event.arguments})
        return out

    def _delta(self, block: _OpenBlock | None, delta: dict[str, Any]) -> bytes:
        assert block is not None
        return sse_event("content_block_delta", {"type": "content_block_delta", "index": block.index, "delta": delta})

    def _close_all(self) -> bytes:
        indices = sorted({block.index for block in self.tool_blocks.values()} | (
            {self.current.index} if self.current is not None else set()))
        self.current = None
        self.tool_blocks.clear()
        return b"".join(
            sse_event("content_block_stop", {"type": "content_block_stop", "index": index}) for index in indices
        )


@dataclass
class MessageBuilder:
    """Collects canonical events into one non-stream Anthropic message."""

    model: str
    message_id: str = field(default_factory=new_message_id)
    content: list[dict[str, Any]] = field(default_factory=list)
    tools: dict[int, dict[str, Any]] = field(default_factory=dict)
    arguments: dict[int, list[str]] = field(default_factory=dict)
    stop_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    error: StreamError | None = None

    def add(self, event: Event) -> None:
        """Add one canonical event."""
        if isinstance(event, TextDelta) and event.index == 0 and event.text:
            last = self.content[-1] if self.content else None
            if last is not None and last["type"] == "text":
                last["text"] += event.text
            else:
                self.content.append({"type": "text", "text": event.text})
        elif isinstance(event, ReasoningDelta) and event.index == 0:
            last = self.content[-1] if self.content else None
            if last is None or last["type"] != "thinking" or (event.text and last["signature"]):
                last = {"type": "thinking", "thinking": "", "signature": ""}
                self.content.append(last)
            last["thinking"] += event.text
            if event.signature:
                last["signature"] += event.signature
        elif isinstance(event, ToolCallDelta) and event.index == 0:
            block = self.tools.get(event.tool_index)
            if block is None:
                block = {"type": "tool_use", "id": event.id or f"toolu_{secrets.token_hex(12)}",
                         "name": event.name or "", "input": {}}
                self.tools[event.tool_index] = block
                self.arguments[event.tool_index] = []
                self.content.append(block)
            self.arguments[event.tool_index].append(event.arguments)
        elif isinstance(event, Finish) and event.index == 0:
            self.stop_reason = FINISH_TO_STOP_REASON.get(event.reason, "end_turn")
        elif isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, StreamError):
            self.error = event

    def build(self) -> dict[str, Any]:
        """Return the message object."""
        for tool_index, block in self.tools.items():
            text = "".join(self.arguments[tool_index]).strip()
            try:
                value = json.loads(text) if text else {}
            except ValueError:
                value = {}
            block["input"] = value if isinstance(value, dict) else {}
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.content,
            "stop_reason": self.stop_reason or "end_turn",
            "stop_sequence": None,
            "usage": anthropic_usage(self.usage),
        }
