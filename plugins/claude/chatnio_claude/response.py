"""Anthropic Messages responses (stream events or one JSON message) to canonical events.

Rules the decoder keeps:

* tool call indices count tool calls (0, 1, ...), never content blocks, so a text block before
  the first ``tool_use`` does not shift them;
* every ``input_json_delta`` fragment is passed on as it arrives, and a tool call whose input
  streamed no fragment gets ``{}``;
* usage is normalised: Anthropic's ``input_tokens`` excludes cache reads and writes, while the
  canonical ``input_tokens`` includes them;
* an ``error`` event before any content raises ``UpstreamFailure`` so the scheduler tries the
  next channel; after content it becomes a ``StreamError``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from chatnio_host.channels.base import FailureKind, UpstreamFailure
from chatnio_host.relay.canonical import (
    Event,
    Finish,
    FinishReason,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

__all__ = ["ERROR_KINDS", "STOP_REASONS", "MessageDecoder", "failure_kind", "normalise_usage"]

logger = logging.getLogger(__name__)

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

ERROR_KINDS: dict[str, FailureKind] = {
    "invalid_request_error": "request",
    "request_too_large": "request",
    "authentication_error": "auth",
    "permission_error": "auth",
    "billing_error": "auth",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limit",
    "overloaded_error": "server",
    "api_error": "server",
    "timeout_error": "server",
}


def failure_kind(error_type: str | None) -> FailureKind:
    """Return the failure kind for an Anthropic error ``type`` (unknown types count as server errors)."""
    return ERROR_KINDS.get(error_type or "", "server")


def normalise_usage(raw: dict[str, Any]) -> Usage:
    """Return canonical usage for an Anthropic ``usage`` object."""
    uncached = int(raw.get("input_tokens") or 0)
    cache_read = int(raw.get("cache_read_input_tokens") or 0)
    cache_write = int(raw.get("cache_creation_input_tokens") or 0)
    return Usage(
        input_tokens=uncached + cache_read + cache_write,
        output_tokens=int(raw.get("output_tokens") or 0),
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


@dataclass
class _Block:
    kind: str
    tool_index: int | None = None
    fragments: int = 0


@dataclass
class MessageDecoder:
    """Turns one Anthropic message, event by event, into canonical events.

    ``feed`` takes the parsed ``data`` of each stream event; ``decode_message`` takes a whole
    non-stream message. ``finish`` is called when the stream ends and returns the closing events
    or raises when nothing arrived.
    """

    model: str = ""
    blocks: dict[int, _Block] = field(default_factory=dict)
    tool_count: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    stop_reason: str | None = None
    content_started: bool = False
    finished: bool = False
    message_id: str | None = None

    def feed(self, data: dict[str, Any]) -> list[Event]:
        """Return the canonical events for one stream event."""
        kind = data.get("type")
        if kind == "message_start":
            message = data.get("message") or {}
            self.message_id = message.get("id")
            self.usage.update(message.get("usage") or {})
            return []
        if kind == "content_block_start":
            return self._block_start(int(data.get("index", 0)), data.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(int(data.get("index", 0)), data.get("delta") or {})
        if kind == "content_block_stop":
            return self._block_stop(int(data.get("index", 0)))
        if kind == "message_delta":
            delta = data.get("delta") or {}
            if delta.get("stop_reason"):
                self.stop_reason = delta["stop_reason"]
            # message_delta usage is cumulative; fields it leaves out keep their message_start value.
            self.usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            return []
        if kind == "message_stop":
            return self._close()
        if kind == "error":
            return self._error(data.get("error") or {})
        if kind != "ping":
            logger.debug("ignoring Anthropic stream event of type %s", kind)
        return []

    def decode_message(self, message: dict[str, Any]) -> list[Event]:
        """Return the canonical events for a whole non-stream message."""
        if message.get("type") == "error":
            return self._error(message.get("error") or {})
        self.message_id = message.get("id")
        self.usage.update(message.get("usage") or {})
        events: list[Event] = []
        for index, block in enumerate(message.get("content") or []):
            started = self._block_start(index, {**block, "input": {}} if block.get("type") == "tool_use" else block)
            events.extend(started)
            if block.get("type") == "tool_use":
                arguments = json.dumps(block.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
                events.extend(self._block_delta(index, {"type": "input_json_delta", "partial_json": arguments}))
            events.extend(self._block_stop(index))
        self.stop_reason = message.get("stop_reason")
        events.extend(self._close())
        return events

    def finish(self) -> list[Event]:
        """Return the events that end a stream which closed without ``message_stop``."""
        if self.finished:
            return []
        if not self.content_started:
            raise UpstreamFailure("server", "The upstream closed the stream before sending any content.")
        logger.warning("Anthropic stream of message %s ended without message_stop", self.message_id)
        self.finished = True
        return [StreamError("The upstream stream ended before the message was complete.", type="upstream_error")]

    def _block_start(self, index: int, block: dict[str, Any]) -> list[Event]:
        kind = block.get("type", "")
        if kind == "text":
            self.blocks[index] = _Block("text")
            text = block.get("text") or ""
            return self._content([TextDelta(text)]) if text else []
        if kind == "tool_use":
            tool_index = self.tool_count
            self.tool_count += 1
            self.blocks[index] = _Block("tool_use", tool_index=tool_index)
            events: list[Event] = [ToolCallDelta(tool_index, id=block.get("id"), name=block.get("name"), arguments="")]
            if block.get("input"):
                self.blocks[index].fragments += 1
                events.append(ToolCallDelta(tool_index, arguments=json.dumps(block["input"], ensure_ascii=False)))
            return self._content(events)
        if kind == "thinking":
            self.blocks[index] = _Block("thinking")
            text = block.get("thinking") or ""
            return self._content([ReasoningDelta(text)]) if text else []
        if kind == "redacted_thinking":
            self.blocks[index] = _Block("redacted_thinking")
            # NOTE: the canonical events have no redacted flag, so redacted thinking reaches
            # clients as an empty reasoning delta that carries the opaque data as its signature.
            return self._content([ReasoningDelta("", signature=block.get("data"))])
        self.blocks[index] = _Block(kind)
        logger.info("ignoring Anthropic content block of type %s", kind)
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[Event]:
        kind = delta.get("type")
        block = self.blocks.get(index)
        if kind == "text_delta":
            text = delta.get("text") or ""
            return self._content([TextDelta(text)]) if text else []
        if kind == "input_json_delta":
            fragment = delta.get("partial_json") or ""
            if block is None or block.tool_index is None or not fragment:
                return []
            block.fragments += 1
            return self._content([ToolCallDelta(block.tool_index, arguments=fragment)])
        if kind == "thinking_delta":
            text = delta.get("thinking") or ""
            return self._content([ReasoningDelta(text)]) if text else []
        if kind == "signature_delta":
            return self._content([ReasoningDelta("", signature=delta.get("signature"))])
        return []

    def _block_stop(self, index: int) -> list[Event]:
        block = self.blocks.get(index)
        if block is not None and block.tool_index is not None and block.fragments == 0:
            block.fragments = 1
            return self._content([ToolCallDelta(block.tool_index, arguments="{}")])
        return []

    def _close(self) -> list[Event]:
        if self.finished:
            return []
        self.finished = True
        reason = STOP_REASONS.get(self.stop_reason or "end_turn", "stop")
        if self.stop_reason == "refusal":
            logger.info("Anthropic message %s stopped with a refusal", self.message_id)
        return [Finish(reason), UsageEvent(normalise_usage(self.usage))]

    def _error(self, error: dict[str, Any]) -> list[Event]:
        error_type = error.get("type") or "api_error"
        message = error.get("message") or "The upstream reported an error."
        if not self.content_started:
            raise UpstreamFailure(failure_kind(error_type), message, type=error_type)
        logger.warning("Anthropic stream of message %s failed after content: %s", self.message_id, error_type)
        self.finished = True
        return [StreamError(message, type=error_type)]

    def _content(self, events: list[Event]) -> list[Event]:
        if events:
            self.content_started = True
        return events
