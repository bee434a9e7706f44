"""Anthropic Messages request bodies (from Anthropic-format clients) to canonical requests.

Each ``tool_result`` block of a user turn becomes a canonical ``tool`` message, placed before the
turn's other content, so every channel type gets the results right after the calls they respond to.
Thinking blocks keep their ``signature``; fields without a canonical meaning (``metadata``,
``service_tier``, the raw ``thinking`` object) stay in ``extra`` for a ``claude`` channel.
"""

from __future__ import annotations

import json
from typing import Any

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
)

from chatnio_claude.request import PASS_THROUGH_FIELDS

__all__ = ["decode_messages_request"]

_ROLES = ("user", "assistant")


def _invalid(param: str, expected: str, value: Any) -> InvalidRequest:
    kind = type(value).__name__ if value is not None else "null"
    return InvalidRequest(f"{param}: expected {expected}, got {kind}.", param=param)


def decode_messages_request(body: Any, *, beta: str | None = None, count_only: bool = False) -> ChatRequest:
    """Decode a ``POST /v1/messages`` body; raise ``InvalidRequest`` naming the bad field.

    ``count_only`` relaxes the fields that ``/v1/messages/count_tokens`` does not take
    (``max_tokens``).
    """
    if not isinstance(body, dict):
        raise _invalid("body", "a JSON object", body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required; set it to the model name.", param="model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list):
        raise _invalid("messages", "an array of messages", raw_messages)

    max_tokens = body.get("max_tokens")
    if max_tokens is None and not count_only:
        raise InvalidRequest("max_tokens: Field required; set the maximum number of tokens to generate.", param="max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise _invalid("max_tokens", "a positive integer", max_tokens)

    messages = _system(body.get("system"))
    for index, raw in enumerate(raw_messages):
        messages.extend(_message(raw, index))

    request = ChatRequest(
        model=model,
        messages=messages,
        stream=_bool(body, "stream"),
        max_tokens=max_tokens,
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        top_k=_integer(body, "top_k"),
        stop=_stop_sequences(body.get("stop_sequences")),
        include_usage=True,
        inbound_format="anthropic",
    )
    request.tools = _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"), request)
    _thinking(body.get("thinking"), request)

    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        request.user = metadata["user_id"]
    for name in PASS_THROUGH_FIELDS:
        if name in body:
            request.extra[name] = body[name]
    if beta:
        request.extra["anthropic_beta"] = beta
    return request


def _cache_control(block: dict[str, Any]) -> dict[str, Any] | None:
    marker = block.get("cache_control")
    return marker if isinstance(marker, dict) else None


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid(name, "a boolean", value)
    return value


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(name, "a number", value)
    return float(value)


def _integer(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, "an integer", value)
    return value


def _stop_sequences(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid("stop_sequences", "an array of strings", value)
    return list(value) or None


def _system(value: Any) -> list[Message]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [Message(role="system", content=[TextPart(value)])]
    if not isinstance(value, list):
        raise _invalid("system", "a string or an array of text blocks", value)
    parts: list[Part] = []
    for index, block in enumerate(value):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise _invalid(f"system[{index}]", "a text block", block)
        parts.append(TextPart(block["text"], cache_control=_cache_control(block)))
    return [Message(role="system", content=parts)]


def _message(raw: Any, index: int) -> list[Message]:
    param = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise _invalid(param, "an object with role and content", raw)
    role = raw.get("role")
    if role not in _ROLES:
        raise InvalidRequest(f"{param}.role: expected 'user' or 'assistant', got {role!r}.", param=f"{param}.role")
    content = raw.get("content")
    if isinstance(content, str):
        return [Message(role=role, content=[TextPart(content)])]
    if not isinstance(content, list):
        raise _invalid(f"{param}.content", "a string or an array of content blocks", content)
    if role == "assistant":
        return [_assistant(content, param)]
    return _user(content, param)


def _user(blocks: list[Any], param: str) -> list[Message]:
    results: list[Message] = []
    parts: list[Part] = []
    for index, block in enumerate(blocks):
        where = f"{param}.content[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            results.append(_tool_result(block, where))
        else:
            parts.append(_part(block, where))
    if parts:
        results.append(Message(role="user", content=parts))
    return results


def _part(block: Any, where: str) -> Part:
    if not isinstance(block, dict):
        raise _invalid(where, "a content block object", block)
    kind = block.get("type")
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise _invalid(f"{where}.text", "a string", block.get("text"))
        return TextPart(block["text"], cache_control=_cache_control(block))
    if kind == "image":
        image = _image(block.get("source"), f"{where}.source")
        image.cache_control = _cache_control(block)
        return image
    raise InvalidRequest(
        f"{where}.type: content blocks of type {kind!r} are not supported here; use text, image or tool_result.",
        param=f"{where}.type",
    )


def _image(source: Any, where: str) -> ImagePart:
    if not isinstance(source, dict):
        raise _invalid(where, "an image source object", source)
    kind = source.get("type")
    if kind == "base64":
        data = source.get("data")
        if not isinstance(data, str) or not data:
            raise _invalid(f"{where}.data", "base64 image data", data)
        media_type = source.get("media_type")
        return ImagePart(data=data, media_type=media_type if isinstance(media_type, str) else None)
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise _invalid(f"{where}.url", "a URL string", url)
        return ImagePart(url=url)
    raise InvalidRequest(f"{where}.type: expected 'base64' or 'url', got {kind!r}.", param=f"{where}.type")


def _tool_result(block: dict[str, Any], where: str) -> Message:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"{where}.tool_use_id: Field required.", param=f"{where}.tool_use_id")
    content = block.get("content")
    parts: list[Part] = []
    if isinstance(content, str):
        parts.append(TextPart(content))
    elif isinstance(content, list):
        for index, inner in enumerate(content):
            parts.append(_part(inner, f"{where}.content[{index}]"))
    elif content is not None:
        raise _invalid(f"{where}.content", "a string or an array of blocks", content)
    marker = _cache_control(block)
    if marker is not None:
        if not parts or not isinstance(parts[-1], TextPart):
            parts.append(TextPart(""))
        parts[-1].cache_control = marker
    if block.get("is_error") is True:
        # The canonical tool message has no error flag, so the flag travels as text.
        parts.insert(0, TextPart("Error: "))
    return Message(role="tool", content=parts, tool_call_id=call_id)


def _assistant(blocks: list[Any], param: str) -> Message:
    message = Message(role="assistant")
    for index, block in enumerate(blocks):
        where = f"{param}.content[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "thinking":
            text = block.get("thinking")
            if not isinstance(text, str):
                raise _invalid(f"{where}.thinking", "a string", text)
            signature = block.get("signature")
            message.content.append(ThinkingPart(text, signature=signature if isinstance(signature, str) else None))
        elif kind == "redacted_thinking":
            data = block.get("data")
            if not isinstance(data, str):
                raise _invalid(f"{where}.data", "a string", data)
            message.content.append(ThinkingPart("", signature=data, redacted=True))
        elif kind == "tool_use":
            message.tool_calls.append(_tool_use(block, where))
        else:
            message.content.append(_part(block, where))
    return message


def _tool_use(block: dict[str, Any], where: str) -> ToolCall:
    call_id, name = block.get("id"), block.get("name")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"{where}.id: Field required.", param=f"{where}.id")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"{where}.name: Field required.", param=f"{where}.name")
    arguments = block.get("input", {})
    if not isinstance(arguments, dict):
        raise _invalid(f"{where}.input", "an object", arguments)
    return ToolCall(id=call_id, name=name, arguments=json.dumps(arguments, ensure_ascii=False))


def _tools(value: Any) -> list[Tool] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _invalid("tools", "an array of tools", value)
    tools: list[Tool] = []
    for index, item in enumerate(value):
        where = f"tools.{index}"
        if not isinstance(item, dict):
            raise _invalid(where, "a tool object", item)
        kind = item.get("type")
        if kind not in (None, "custom"):
            raise InvalidRequest(
                f"{where}.type: server tools such as {kind!r} are not supported by this gateway; "
                "define the tool with name, description and input_schema.",
                param=f"{where}.type",
            )
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{where}.name: Field required.", param=f"{where}.name")
        schema = item.get("input_schema")
        if schema is None:
            raise InvalidRequest(f"{where}.input_schema: Field required.", param=f"{where}.input_schema")
        if not isinstance(schema, dict):
            raise _invalid(f"{where}.input_schema", "a JSON Schema object", schema)
        description = item.get("description")
        tools.append(Tool(name=name, description=description if isinstance(description, str) else None,
                          parameters=schema, cache_control=_cache_control(item)))
    return tools or None


def _tool_choice(value: Any, request: ChatRequest) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _invalid("tool_choice", "an object with a type", value)
    kind = value.get("type")
    if kind == "auto":
        request.tool_choice = "auto"
    elif kind == "any":
        request.tool_choice = "required"
    elif kind == "none":
        request.tool_choice = "none"
    elif kind == "tool":
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("tool_choice.name: Field required when type is 'tool'.", param="tool_choice.name")
        request.tool_choice = name
    else:
        raise InvalidRequest(
            f"tool_choice.type: expected auto, any, tool or none, got {kind!r}.", param="tool_choice.type"
        )
    if value.get("disable_parallel_tool_use") is True:
        request.parallel_tool_calls = False


def _thinking(value: Any, request: ChatRequest) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _invalid("thinking", "an object", value)
    request.extra["thinking"] = value
    if value.get("type") == "enabled":
        budget = value.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise _invalid("thinking.budget_tokens", "a positive integer", budget)
        request.thinking_budget = budget
    elif value.get("type") == "disabled":
        request.thinking_budget = 0
