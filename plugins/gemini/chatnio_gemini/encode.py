"""Canonical events to Gemini ``GenerateContentResponse`` chunks or one whole response.

Gemini sends each function call whole in one part, so tool-call fragments are collected and a
call is sent once its arguments are complete: when the next non-tool event, the finish or the
end arrives. Streams use Gemini's framing ``data: <JSON>\\r\\n\\r\\n``. The last chunk carries
``finishReason`` and ``usageMetadata``. A failure after content is sent as a chunk holding a
Google RPC ``error`` object.
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

__all__ = ["GenerateStreamEncoder", "ResponseBuilder", "error_body", "rpc_status", "sse_chunk", "usage_metadata"]

FINISH_TO_GEMINI: dict[str, str] = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "error": "OTHER",
}

_STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}


def rpc_status(status: int) -> str:
    """Return the Google RPC status name for an HTTP status."""
    return _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")


def error_body(status: int, message: str) -> dict[str, Any]:
    """Return Google's error body ``{"error": {"code", "message", "status"}}``."""
    return {"error": {"code": status, "message": message, "status": rpc_status(status)}}


def sse_chunk(payload: dict[str, Any]) -> bytes:
    """Return one Gemini stream event: ``data: <JSON>\\r\\n\\r\\n``."""
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\r\n\r\n"


def usage_metadata(usage: Usage) -> dict[str, Any]:
    """Return Gemini's ``usageMetadata``: candidates exclude thoughts, the prompt includes cached content."""
    thoughts = usage.reasoning_tokens
    metadata: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": max(0, usage.output_tokens - thoughts),
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if usage.cached_input_tokens:
        metadata["cachedContentTokenCount"] = usage.cached_input_tokens
    if thoughts:
        metadata["thoughtsTokenCount"] = thoughts
    return metadata


def _call_part(call: dict[str, Any]) -> dict[str, Any]:
    text = "".join(call["arguments"]).strip()
    try:
        args = json.loads(text) if text else {}
    except ValueError:
        args = {}
    part: dict[str, Any] = {"functionCall": {"id": call["id"], "name": call["name"],
                                             "args": args if isinstance(args, dict) else {}}}
    if call.get("signature"):
        part["thoughtSignature"] = call["signature"]
    return part


@dataclass
class GenerateStreamEncoder:
    """Turns canonical events into Gemini stream chunks, one ``encode`` call at a time."""

    model: str
    response_id: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    calls: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    finishes: dict[int, str] = field(default_factory=dict)
    usage: Usage | None = None
    pending_signature: dict[int, str] = field(default_factory=dict)
    ended: bool = False

    def encode(self, event: Event) -> bytes:
        """Return the bytes for one canonical event (often empty)."""
        if self.ended:
            return b""
        if isinstance(event, ToolCallDelta):
            key = (event.index, event.tool_index)
            call = self.calls.get(key)
            if call is None:
                call = {"id": event.id or f"call_{secrets.token_hex(8)}", "name": event.name or "", "arguments": [],
                        "signature": self.pending_signature.pop(event.index, None)}
                self.calls[key] = call
            call["arguments"].append(event.arguments)
            return b""
        if isinstance(event, ReasoningDelta):
            if event.signature and not event.text:
                # A signature travels on the part it belongs to: the next function call, or
                # else a part of its own.
                self.pending_signature[event.index] = event.signature
                return b""
            out = self._flush_calls(event.index)
            part: dict[str, Any] = {"text": event.text, "thought": True}
            if event.signature:
                part["thoughtSignature"] = event.signature
            return out + self._chunk(event.index, [part])
        if isinstance(event, TextDelta):
            if not event.text:
                return b""
            out = self._flush_calls(event.index)
            return out + self._chunk(event.index, [{"text": event.text}])
        if isinstance(event, Finish):
            self.finishes[event.index] = FINISH_TO_GEMINI.get(event.reason, "STOP")
            return b""
        if isinstance(event, UsageEvent):
            self.usage = event.usage
            return b""
        if isinstance(event, StreamError):
            self.ended = True
            out = b"".join(self._flush_calls(index) for index in sorted({i for i, _ in self.calls}))
            status = event.status if event.status and event.status >= 400 else 500
            return out + sse_chunk(error_body(status, event.message))
        return b""

    def end(self) -> bytes:
        """Return the final chunk, or an error chunk when the stream never finished."""
        if self.ended:
            return b""
        self.ended = True
        out = b""
        if not self.finishes:
            out += b"".join(self._flush_calls(index) for index in sorted({i for i, _ in self.calls}))
            return out + sse_chunk(error_body(502, "The upstream stream ended before it finished."))
        candidates = []
        for index in sorted(self.finishes):
            parts = [_call_part(call) for (i, _), call in sorted(self.calls.items()) if i == index]
            signature = self.pending_signature.pop(index, None)
            if signature:
                parts.insert(0, {"text": "", "thoughtSignature": signature})
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"},
                                         "finishReason": self.finishes[index], "index": index}
            if not parts:
                candidate["content"] = {"parts": [{"text": ""}], "role": "model"}
            candidates.append(candidate)
        self.calls.clear()
        payload: dict[str, Any] = {"candidates": candidates}
        if self.usage is not None:
            payload["usageMetadata"] = usage_metadata(self.usage)
        payload["modelVersion"] = self.model
        payload["responseId"] = self.response_id
        return out + sse_chunk(payload)

    def _flush_calls(self, index: int) -> bytes:
        keys = [key for key in sorted(self.calls) if key[0] == index]
        if not keys:
            return b""
        parts = [_call_part(self.calls.pop(key)) for key in keys]
        return self._chunk(index, parts)

    def _chunk(self, index: int, parts: list[dict[str, Any]]) -> bytes:
        payload = {"candidates": [{"content": {"parts": parts, "role": "model"}, "index": index}],
                   "modelVersion": self.model, "responseId": self.response_id}
        return sse_chunk(payload)


@dataclass
class ResponseBuilder:
    """Collects canonical events into one non-stream ``GenerateContentResponse``."""

    model: str
    response_id: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    parts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    calls: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    finishes: dict[int, str] = field(default_factory=dict)
    usage: Usage | None = None
    pending_signature: dict[int, str] = field(default_factory=dict)
    error: StreamError | None = None

    def add(self, event: Event) -> None:
        """Add one canonical event."""
        if isinstance(event, TextDelta) and event.text:
            parts = self.parts.setdefault(event.index, [])
            if parts and "text" in parts[-1] and not parts[-1].get("thought"):
                parts[-1]["text"] += event.text
            else:
                parts.append({"text": event.text})
        elif isinstance(event, ReasoningDelta):
            if event.signature and not event.text:
                self.pending_signature[event.index] = event.signature
                return
            parts = self.parts.setdefault(event.index, [])
            if parts and parts[-1].get("thought"):
                parts[-1]["text"] += event.text
            else:
                parts.append({"text": event.text, "thought": True})
        elif isinstance(event, ToolCallDelta):
            key = (event.index, event.tool_index)
            call = self.calls.get(key)
            if call is None:
                call = {"id": event.id or f"call_{secrets.token_hex(8)}", "name": event.name or "", "arguments": [],
                        "signature": self.pending_signature.pop(event.index, None)}
                self.calls[key] = call
                self.parts.setdefault(event.index, []).append({"call": key})
            call["arguments"].append(event.arguments)
        elif isinstance(event, Finish):
            self.finishes[event.index] = FINISH_TO_GEMINI.get(event.reason, "STOP")
        elif isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, StreamError):
            self.error = event

    def build(self) -> dict[str, Any]:
        """Return the response object."""
        candidates = []
        for index in sorted(set(self.parts) | set(self.finishes)):
            parts = [_call_part(self.calls[p["call"]]) if "call" in p else p for p in self.parts.get(index, [])]
            candidate: dict[str, Any] = {"content": {"parts": parts or [{"text": ""}], "role": "model"},
                                         "finishReason": self.finishes.get(index, "STOP"), "index": index}
            candidates.append(candidate)
        payload: dict[str, Any] = {"candidates": candidates}
        if self.usage is not None:
            payload["usageMetadata"] = usage_metadata(self.usage)
        payload["modelVersion"] = self.model
        payload["responseId"] = self.response_id
        return payload
