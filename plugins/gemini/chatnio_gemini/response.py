"""Gemini ``GenerateContentResponse`` chunks (streamed or whole) to canonical events.

* Each ``functionCall`` part is one complete tool call with its own tool index, so parallel
  calls stay apart; Gemini may omit call ids, so missing ids are generated.
* ``thought: true`` parts are reasoning; a ``thoughtSignature`` is passed on as a reasoning
  signature so it can come back on the next turn.
* A safety block (a candidate finishing with ``SAFETY`` and the like, or a prompt blocked in
  ``promptFeedback``) finishes with ``content_filter``, never ``stop`` or an HTTP error.
* ``usageMetadata`` is taken from the last chunk that carries it; thoughts count as output
  and as reasoning, and cached content is part of the input.
"""

from __future__ import annotations

import json
import logging
import secrets
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

__all__ = ["FINISH_REASONS", "ResponseDecoder", "failure_kind", "finish_reason", "normalise_usage"]

logger = logging.getLogger(__name__)

FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "FINISH_REASON_UNSPECIFIED": "stop",
    "OTHER": "stop",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
}
"""Gemini finish reasons that are not safety blocks; every other reason maps to ``content_filter``."""

_STATUS_KINDS: dict[str, FailureKind] = {
    "INVALID_ARGUMENT": "request",
    "FAILED_PRECONDITION": "request",
    "OUT_OF_RANGE": "request",
    "UNAUTHENTICATED": "auth",
    "PERMISSION_DENIED": "auth",
    "NOT_FOUND": "not_found",
    "RESOURCE_EXHAUSTED": "rate_limit",
    "UNAVAILABLE": "server",
    "INTERNAL": "server",
    "DEADLINE_EXCEEDED": "server",
}


def failure_kind(status: str | None) -> FailureKind:
    """Return the failure kind for a Google RPC ``status`` name (unknown names are server errors)."""
    return _STATUS_KINDS.get(status or "", "server")


def finish_reason(reason: str, *, has_tool_calls: bool) -> FinishReason:
    """Return the canonical finish reason for a Gemini ``finishReason``."""
    mapped = FINISH_REASONS.get(reason, "content_filter")
    if mapped == "stop" and has_tool_calls:
        return "tool_calls"
    return mapped


def normalise_usage(raw: dict[str, Any]) -> Usage:
    """Return canonical usage for a Gemini ``usageMetadata`` object."""
    prompt = int(raw.get("promptTokenCount") or 0) + int(raw.get("toolUsePromptTokenCount") or 0)
    thoughts = int(raw.get("thoughtsTokenCount") or 0)
    candidates = int(raw.get("candidatesTokenCount") or 0)
    return Usage(
        input_tokens=prompt,
        output_tokens=candidates + thoughts,
        cached_input_tokens=int(raw.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


@dataclass
class _Candidate:
    tool_count: int = 0
    finished: bool = False


@dataclass
class ResponseDecoder:
    """Turns Gemini response chunks into canonical events; ``finish`` closes the stream."""

    candidates: dict[int, _Candidate] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    content_started: bool = False
    any_finish: bool = False
    errored: bool = False
    response_id: str | None = None

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """Return the canonical events of one response chunk."""
        if isinstance(chunk.get("error"), dict):
            return self._error(chunk["error"])
        self.response_id = chunk.get("responseId") or self.response_id
        if isinstance(chunk.get("usageMetadata"), dict):
            self.usage = chunk["usageMetadata"]

        events: list[Event] = []
        for raw in chunk.get("candidates") or []:
            events.extend(self._candidate(raw))

        feedback = chunk.get("promptFeedback") or {}
        if feedback.get("blockReason") and not chunk.get("candidates"):
            logger.info("Gemini blocked the prompt of response %s: %s", self.response_id, feedback["blockReason"])
            self.candidates.setdefault(0, _Candidate()).finished = True
            self.any_finish = True
            events.append(Finish("content_filter"))
        return events

    @property
    def complete(self) -> bool:
        """Whether every candidate finished and usage arrived, so nothing more is expected."""
        return self.any_finish and self.usage is not None and all(c.finished for c in self.candidates.values())

    def finish(self) -> list[Event]:
        """Return the events that end the stream: usage, or an error for a truncated stream."""
        if self.errored:
            return []
        if not self.any_finish:
            if not self.content_started:
                raise UpstreamFailure("server", "The upstream closed the stream before sending any content.")
            logger.warning("Gemini stream of response %s ended without a finish reason", self.response_id)
            return [StreamError("The upstream stream ended before the response was complete.", type="upstream_error")]
        if self.usage is None:
            return []
        return [UsageEvent(normalise_usage(self.usage))]

    def _candidate(self, raw: dict[str, Any]) -> list[Event]:
        index = int(raw.get("index") or 0)
        state = self.candidates.setdefault(index, _Candidate())
        events: list[Event] = []
        content = raw.get("content") or {}
        for part in content.get("parts") or []:
            events.extend(self._part(part, index, state))
        reason = raw.get("finishReason")
        if reason and not state.finished:
            state.finished = True
            self.any_finish = True
            mapped = finish_reason(reason, has_tool_calls=state.tool_count > 0)
            if mapped == "content_filter":
                ratings = [r.get("category") for r in raw.get("safetyRatings") or [] if r.get("blocked") or
                           r.get("probability") in ("HIGH", "MEDIUM")]
                logger.info("Gemini stopped candidate %s for %s (%s)", index, reason, ", ".join(ratings) or "no ratings")
            events.append(Finish(mapped, index=index))
        return events

    def _part(self, part: dict[str, Any], index: int, state: _Candidate) -> list[Event]:
        events: list[Event] = []
        if part.get("thoughtSignature"):
            # The signature goes first so encoders put it ahead of the call it belongs to.
            events.append(ReasoningDelta("", signature=part["thoughtSignature"], index=index))
        if part.get("thought") and isinstance(part.get("text"), str):
            if part["text"]:
                events.append(ReasoningDelta(part["text"], index=index))
        elif isinstance(part.get("text"), str):
            if part["text"]:
                events.append(TextDelta(part["text"], index=index))
        elif isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            tool_index = state.tool_count
            state.tool_count += 1
            call_id = call.get("id") or f"call_{secrets.token_hex(12)}"
            arguments = json.dumps(call.get("args") or {}, ensure_ascii=False, separators=(",", ":"))
            events.append(ToolCallDelta(tool_index, id=call_id, name=call.get("name") or "", index=index))
            events.append(ToolCallDelta(tool_index, arguments=arguments, index=index))
        if events:
            self.content_started = True
        return events

    def _error(self, error: dict[str, Any]) -> list[Event]:
        status = error.get("status")
        message = error.get("message") or "The upstream reported an error."
        if not self.content_started:
            raise UpstreamFailure(failure_kind(status), message, status=error.get("code"), type=status)
        logger.warning("Gemini stream of response %s failed after content: %s", self.response_id, status)
        self.errored = True
        return [StreamError(message, type="upstream_error", code=status)]
