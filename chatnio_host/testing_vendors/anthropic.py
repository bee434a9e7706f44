"""A fake Anthropic vendor that answers the Messages API in its wire format byte for byte.

Unless a test scripts a reply, ``FakeAnthropic`` answers ``POST /v1/messages``:

* it checks the headers (``x-api-key`` against ``keys`` when set, ``anthropic-version``
  present) and the body the way Anthropic does: ``max_tokens`` is required, roles alternate
  starting with ``user``, ``system`` is a top-level field, every ``tool_use`` is answered by a
  ``tool_result`` in the next turn, and with thinking enabled every assistant turn that uses
  tools starts with a signed thinking block;
* the answer text is ``reply_text`` or the last user text; with ``tools`` and a last turn from
  the user it calls the chosen (or first) tool with ``{"text": <last user text>}``; after a
  tool result it answers ``tool result: <content>``; with thinking enabled a signed thinking
  block comes first;
* streams send ``message_start``, ``ping``, one block group per block (text one word per delta,
  tool input in two ``input_json_delta`` fragments), ``message_delta`` and ``message_stop``,
  each framed as ``event: <type>\\ndata: <JSON>\\n\\n``.

Token counts are words, as in ``FakeOpenAI``. Errors use Anthropic's body
``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from typing import Any

from chatnio_host.testing_vendors.server import FakeVendor, RecordedRequest, Reply

__all__ = [
    "FakeAnthropic",
    "anthropic_error",
    "anthropic_event",
    "message_events",
    "THINKING_SIGNATURE",
]

THINKING_SIGNATURE = "EqQBCkYIARgCIkD0c2lnbmVkLXRoaW5raW5nLWZha2U="
"""The signature the fake puts on its thinking blocks and expects back."""


def anthropic_event(name: str, payload: dict[str, Any]) -> bytes:
    """Return one stream event ``event: <name>\\ndata: <compact JSON>\\n\\n``."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {data}\n\n".encode()


def anthropic_error(status: int, error_type: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    """Build an error response in Anthropic's shape."""
    payload = {"type": "error", "error": {"type": error_type, "message": message}}
    return Reply.json(payload, status=status, headers=[("request-id", "req_fake"), *headers], indent=None)


def _count(text: str) -> int:
    return len(text.split())


def message_events(
    blocks: list[dict[str, Any]],
    *,
    model: str = "claude-sonnet-4-5",
    message_id: str = "msg_fake",
    stop_reason: str = "end_turn",
    usage: dict[str, Any] | None = None,
    output_tokens: int | None = None,
) -> list[bytes]:
    """Return the stream events of one message made of ``blocks`` (complete content blocks).

    Text blocks stream one word per ``text_delta``, thinking blocks one ``thinking_delta`` and a
    ``signature_delta``, tool blocks their input JSON in two ``input_json_delta`` fragments.
    """
    start_usage = {"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                   "output_tokens": 1, **(usage or {})}
    message = {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    events = [anthropic_event("message_start", {"type": "message_start", "message": message}),
              anthropic_event("ping", {"type": "ping"})]
    produced = 0
    for index, block in enumerate(blocks):
        kind = block["type"]
        if kind == "text":
            start = {"type": "text", "text": ""}
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        events.append(anthropic_event("content_block_start",
                                      {"type": "content_block_start", "index": index, "content_block": start}))
        for delta in _block_deltas(block):
            events.append(anthropic_event("content_block_delta",
                                          {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(anthropic_event("content_block_stop", {"type": "content_block_stop", "index": index}))
        produced += _count(block.get("text") or block.get("thinking") or json.dumps(block.get("input") or {}))
    final = output_tokens if output_tokens is not None else max(1, produced)
    delta_usage = {k: v for k, v in start_usage.items() if k != "output_tokens"} | {"output_tokens": final}
    events.append(anthropic_event("message_delta", {"type": "message_delta",
                                                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                                    "usage": delta_usage}))
    events.append(anthropic_event("message_stop", {"type": "message_stop"}))
    return events


def _block_deltas(block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        words = block["text"].split(" ")
        pieces = [word if i == 0 else " " + word for i, word in enumerate(words)]
        return [{"type": "text_delta", "text": piece} for piece in pieces if piece]
    if kind == "thinking":
        return [{"type": "thinking_delta", "thinking": block["thinking"]},
                {"type": "signature_delta", "signature": block["signature"]}]
    text = json.dumps(block.get("input") or {}, ensure_ascii=False)
    if text == "{}":
        return []
    middle = len(text) // 2
    return [{"type": "input_json_delta", "partial_json": text[:middle]},
            {"type": "input_json_delta", "partial_json": text[middle:]}]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(block.get("text", "") for block in content if isinstance(block, dict) and block.get("type") == "text")
    return ""


class FakeAnthropic(FakeVendor):
    """A fake Anthropic Messages API with an echo default; see the module docstring."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, reply_text: str | None = None,
                 keys: Iterable[str] | None = None, model: str | None = None) -> None:
        super().__init__(host=host, port=port)
        self.reply_text = reply_text
        self.keys = set(keys) if keys is not None else None
        self.model = model

    def default_reply(self, request: RecordedRequest) -> Reply | None:
        if request.method == "POST" and request.path.endswith("/v1/messages"):
            return self._messages(request)
        if request.method == "POST" and request.path.endswith("/v1/messages/count_tokens"):
            body = json.loads(request.body or b"{}")
            return Reply.json({"input_tokens": sum(_count(_text_of(m.get("content"))) for m in body.get("messages", []))},
                              indent=None)
        return anthropic_error(404, "not_found_error", f"Not found: {request.path}")

    def _messages(self, request: RecordedRequest) -> Reply:
        key = request.headers.get("x-api-key")
        if not key or (self.keys is not None and key not in self.keys):
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
        try:
            body = json.loads(request.body)
        except ValueError:
            return anthropic_error(400, "invalid_request_error", "The request body is not valid JSON.")
        problem = self._check(body)
        if problem is not None:
            return anthropic_error(400, "invalid_request_error", problem)

        blocks = self._answer_blocks(body)
        model = self.model or body["model"]
        message_id = "msg_" + secrets.token_hex(8)
        prompt = _count(_text_of(body.get("system"))) + sum(_count(_text_of(m["content"])) for m in body["messages"])
        usage = {"input_tokens": max(1, prompt), "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        stop_reason = "tool_use" if any(block["type"] == "tool_use" for block in blocks) else "end_turn"
        if body.get("stream"):
            events = message_events(blocks, model=model, message_id=message_id, stop_reason=stop_reason, usage=usage)
            return Reply.sse(events, headers=[("request-id", "req_fake")])
        output = sum(_count(b.get("text") or b.get("thinking") or json.dumps(b.get("input") or {})) for b in blocks)
        message = {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": blocks,
                   "stop_reason": stop_reason, "stop_sequence": None,
                   "usage": {**usage, "output_tokens": max(1, output)}}
        return Reply.json(message, headers=[("request-id", "req_fake")], indent=None)

    def _check(self, body: Any) -> str | None:
        """Return Anthropic's 400 message for a body it would reject, or None."""
        if not isinstance(body, dict):
            return "The request body must be a JSON object."
        for name in ("model", "messages", "max_tokens"):
            if name not in body:
                return f"{name}: Field required"
        if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
            return "max_tokens: Input should be a valid positive integer"
        messages = body["messages"]
        if not messages:
            return "messages: at least one message is required"
        expected = "user"
        pending_tools: set[str] = set()
        for position, message in enumerate(messages):
            role = message.get("role")
            if role not in ("user", "assistant"):
                return f"messages.{position}.role: Input should be 'user' or 'assistant'"
            if position == 0 and role != "user":
                return "messages: first message must use the \"user\" role"
            if role != expected:
                return "messages: roles must alternate between \"user\" and \"assistant\""
            expected = "assistant" if role == "user" else "user"
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            for block in blocks:
                if block.get("type") == "text" and not block.get("text"):
                    return f"messages.{position}: text content blocks must be non-empty"
                if block.get("type") == "image":
                    source = block.get("source") or {}
                    if source.get("type") == "base64" and source.get("media_type") not in (
                            "image/png", "image/jpeg", "image/gif", "image/webp"):
                        return f"messages.{position}: image media_type {source.get('media_type')!r} is not supported"
            if role == "user":
                answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
                if pending_tools - answered:
                    missing = ", ".join(sorted(pending_tools - answered))
                    return f"messages.{position}: tool_use ids were found without tool_result blocks: {missing}"
                pending_tools = set()
            else:
                pending_tools = {b["id"] for b in blocks if b.get("type") == "tool_use"}
                thinking = body.get("thinking") or {}
                if thinking.get("type") == "enabled" and pending_tools:
                    first = blocks[0] if blocks else {}
                    if first.get("type") not in ("thinking", "redacted_thinking") or (
                            first.get("type") == "thinking" and first.get("signature") != THINKING_SIGNATURE):
                        return (f"messages.{position}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                                "but found `tool_use`. When `thinking` is enabled, a final `assistant` message must "
                                "start with a thinking block.")
        for index, tool in enumerate(body.get("tools") or []):
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return f"tools.{index}.custom.input_schema: Input should be an object schema"
        return None

    def _answer_blocks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        thinking = body.get("thinking") or {}
        if thinking.get("type") == "enabled":
            blocks.append({"type": "thinking", "thinking": "Let me think.", "signature": THINKING_SIGNATURE})
        last = body["messages"][-1]
        content = last["content"]
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] \
            if isinstance(content, list) else []
        if results:
            text = "tool result: " + " ".join(_text_of(r.get("content")) if not isinstance(r.get("content"), str)
                                              else r["content"] for r in results)
            blocks.append({"type": "text", "text": self.reply_text or text})
            return blocks
        user_text = _text_of(content)
        tool = self._chosen_tool(body)
        if tool is not None:
            blocks.append({"type": "text", "text": "Calling a tool."})
            blocks.append({"type": "tool_use", "id": "toolu_" + secrets.token_hex(8), "name": tool["name"],
                           "input": {"text": user_text}})
            return blocks
        blocks.append({"type": "text", "text": self.reply_text if self.reply_text is not None else (user_text or "ok")})
        return blocks

    def _chosen_tool(self, body: dict[str, Any]) -> dict[str, Any] | None:
        tools = body.get("tools") or []
        choice = body.get("tool_choice") or {"type": "auto"}
        if not tools or choice.get("type") == "none":
            return None
        if choice.get("type") == "tool":
            return next((tool for tool in tools if tool["name"] == choice.get("name")), tools[0])
        return tools[0]
