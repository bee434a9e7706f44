"""Canonical ``ChatRequest`` to the body of Anthropic's ``POST /v1/messages``.

Anthropic differs from OpenAI in ways that other gateways got wrong:

* system text is a top-level ``system`` field, never a message;
* turns alternate: consecutive turns of one role are merged, and tool results are
  ``tool_result`` blocks inside a ``user`` turn;
* ``max_tokens`` is required, so a default is sent when the client set no limit;
* a thinking block of an earlier assistant turn must come back first in that turn with its
  ``signature`` unchanged; without one the vendor returns 400, so thinking is switched off for
  a request whose tool-using turns lack signed thinking.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, ImagePart, Message, TextPart, ThinkingPart
from chatnio_host.relay.media import image_media_type
from chatnio_host.relay.tool_schema import tool_parameters

__all__ = ["DEFAULT_MAX_TOKENS", "EFFORT_BUDGETS", "PASS_THROUGH_FIELDS", "build_messages_body"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 4096
"""Sent as ``max_tokens`` when neither the client nor the channel settings set a limit."""

EFFORT_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
"""Thinking budgets (tokens) for OpenAI's ``reasoning_effort`` values."""

PASS_THROUGH_FIELDS: tuple[str, ...] = ("metadata", "service_tier", "container", "mcp_servers", "context_management")
"""Anthropic request fields kept from an Anthropic-format client and sent on unchanged."""


def build_messages_body(
    request: ChatRequest, model: str, *, stream: bool, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> dict[str, Any]:
    """Return the Messages API body for ``request`` sent to ``model``."""
    body: dict[str, Any] = {"model": model}

    system = _system(request.messages)
    if system:
        body["system"] = system
    body["messages"] = _messages(request.messages)

    body["max_tokens"] = request.output_limit if request.output_limit is not None else default_max_tokens
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.temperature is not None:
        body["temperature"] = min(max(request.temperature, 0.0), 1.0)
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k

    if request.tools:
        body["tools"] = [_tool(tool, index) for index, tool in enumerate(request.tools)]
        choice = _tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice

    thinking = _thinking(request)
    if thinking is not None:
        _apply_thinking(body, thinking, request)

    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.inbound_format == "anthropic":
        for name in PASS_THROUGH_FIELDS:
            if name in request.extra:
                body[name] = request.extra[name]
    if stream:
        body["stream"] = True
    return body


def _system(messages: list[Message]) -> str | list[dict[str, Any]]:
    """Return the system text, or text blocks when a client marked some for prompt caching."""
    parts = [part for message in messages if message.role == "system" for part in message.content
             if isinstance(part, TextPart) and part.text]
    if any(part.cache_control for part in parts):
        return [_text_block(part) for part in parts]
    texts = [message.text() for message in messages if message.role == "system"]
    return "\n\n".join(text for text in texts if text)


def _text_block(part: TextPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if part.cache_control:
        block["cache_control"] = part.cache_control
    return block


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        if message.role == "system":
            continue
        role, blocks = _turn(message, position)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            previous = turns[-1]["content"]
            # Tool results must open their user turn, before any text the client added after them.
            if role == "user" and any(block["type"] == "tool_result" for block in blocks):
                results = [block for block in blocks if block["type"] == "tool_result"]
                others = [block for block in blocks if block["type"] != "tool_result"]
                leading = [block for block in previous if block["type"] == "tool_result"]
                trailing = [block for block in previous if block["type"] != "tool_result"]
                turns[-1]["content"] = leading + results + trailing + others
            else:
                previous.extend(blocks)
            continue
        turns.append({"role": role, "content": blocks})
    return turns


def _turn(message: Message, position: int) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        return "user", [_tool_result(message, position)]
    if message.role == "assistant":
        return "assistant", _assistant_blocks(message, position)
    return "user", _content_blocks(message, position)


def _content_blocks(message: Message, position: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(message.content):
        param = f"messages[{position}].content[{index}]"
        if isinstance(part, TextPart):
            if part.text:
                blocks.append(_text_block(part))
        elif isinstance(part, ImagePart):
            block = _image_block(part, param)
            if part.cache_control:
                block["cache_control"] = part.cache_control
            blocks.append(block)
    return blocks


def _image_block(part: ImagePart, param: str) -> dict[str, Any]:
    if part.data is not None:
        media_type = image_media_type(part, param=param)
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": part.data}}
    if part.url:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    raise InvalidRequest(f"The image in {param} has neither a URL nor inline data.", param=param)


def _assistant_blocks(message: Message, position: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ThinkingPart):
            if part.redacted:
                blocks.append({"type": "redacted_thinking", "data": part.signature or part.text})
            elif part.signature:
                blocks.append({"type": "thinking", "thinking": part.text, "signature": part.signature})
    for block in _content_blocks(message, position):
        blocks.append(block)
    for index, call in enumerate(message.tool_calls):
        param = f"messages[{position}].tool_calls[{index}].function.arguments"
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _arguments(call.arguments, param)})
    return blocks


def _arguments(arguments: str, param: str) -> dict[str, Any]:
    if not arguments or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError as exc:
        raise InvalidRequest(f"The tool call arguments in {param} are not valid JSON: {exc}.", param=param) from exc
    if not isinstance(value, dict):
        raise InvalidRequest(f"The tool call arguments in {param} must be a JSON object.", param=param)
    return value


def _tool_result(message: Message, position: int) -> dict[str, Any]:
    if not message.tool_call_id:
        raise InvalidRequest(
            f"The tool message messages[{position}] has no tool_call_id; set it to the id of the tool call it responds to.",
            param=f"messages[{position}].tool_call_id",
        )
    # A cache marker on the result's last part belongs to the tool_result block itself.
    marker = message.content[-1].cache_control if message.content and not isinstance(
        message.content[-1], ThinkingPart) else None
    content = message
    if marker is not None:
        last = dataclasses.replace(message.content[-1], cache_control=None)
        content = dataclasses.replace(message, content=[*message.content[:-1], last])
    blocks = _content_blocks(content, position)
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    if marker is not None:
        block["cache_control"] = marker
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        block["content"] = blocks[0]["text"]
    elif blocks:
        block["content"] = blocks
    else:
        block["content"] = ""
    return block


def _tool(tool: Any, index: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": tool.name, "input_schema": tool_parameters(tool, index)}
    if tool.description:
        entry["description"] = tool.description
    if tool.cache_control:
        entry["cache_control"] = tool.cache_control
    return entry


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    disable_parallel = request.parallel_tool_calls is False
    if choice in (None, "auto"):
        mapped: dict[str, Any] = {"type": "auto"}
        if not disable_parallel:
            return None if choice is None else mapped
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        mapped = {"type": "any"}
    else:
        names = {tool.name for tool in request.tools or []}
        if choice not in names:
            raise InvalidRequest(
                f"tool_choice names the function {choice!r}, which is not among the request's tools.",
                param="tool_choice",
            )
        mapped = {"type": "tool", "name": choice}
    if disable_parallel:
        mapped["disable_parallel_tool_use"] = True
    return mapped


def _thinking(request: ChatRequest) -> dict[str, Any] | None:
    explicit = request.extra.get("thinking") if request.inbound_format == "anthropic" else None
    if isinstance(explicit, dict):
        return explicit
    if request.thinking_budget is not None:
        if request.thinking_budget <= 0:
            return None
        return {"type": "enabled", "budget_tokens": max(1024, request.thinking_budget)}
    if request.reasoning_effort:
        budget = EFFORT_BUDGETS.get(request.reasoning_effort)
        if budget is None:
            return None
        return {"type": "enabled", "budget_tokens": budget}
    return None


def _apply_thinking(body: dict[str, Any], thinking: dict[str, Any], request: ChatRequest) -> None:
    if thinking.get("type") == "enabled" and not _tool_turns_keep_thinking(body["messages"]):
        logger.info("thinking disabled for model %s: an assistant tool turn has no signed thinking block", body["model"])
        _strip_thinking(body["messages"])
        return
    body["thinking"] = thinking
    budget = thinking.get("budget_tokens")
    if isinstance(budget, int) and body["max_tokens"] <= budget:
        body["max_tokens"] = budget + (request.output_limit or DEFAULT_MAX_TOKENS)
    # Anthropic accepts only the default temperature and top_k with thinking on.
    body.pop("temperature", None)
    body.pop("top_k", None)
    if "top_p" in body and body["top_p"] < 0.95:
        body["top_p"] = 0.95
    choice = body.get("tool_choice")
    if choice and choice.get("type") in ("any", "tool"):
        body["tool_choice"] = {"type": "auto", **{k: v for k, v in choice.items() if k == "disable_parallel_tool_use"}}


def _tool_turns_keep_thinking(messages: list[dict[str, Any]]) -> bool:
    """Return whether every assistant turn that uses tools starts with a (redacted) thinking block."""
    for turn in messages:
        if turn["role"] != "assistant":
            continue
        blocks = turn["content"]
        if any(block["type"] == "tool_use" for block in blocks):
            if not blocks or blocks[0]["type"] not in ("thinking", "redacted_thinking"):
                return False
    return True


def _strip_thinking(messages: list[dict[str, Any]]) -> None:
    for turn in messages:
        if turn["role"] == "assistant":
            turn["content"] = [b for b in turn["content"] if b["type"] not in ("thinking", "redacted_thinking")]
