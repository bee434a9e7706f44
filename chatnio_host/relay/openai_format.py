"""The OpenAI chat completions format: decode a request body, encode canonical events back.

Decoding checks every field it understands and names the field in a 400 when its value is
invalid. Fields without a canonical meaning stay in ``ChatRequest.extra``, so an
OpenAI-compatible adapter can pass them on. Encoding keeps ``choices[].index`` and ``tool_calls[].index`` as the
events carry them and always shows the model name the client requested.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import (
    ChatRequest,
    Event,
    Finish,
    ImagePart,
    Message,
    Part,
    ReasoningDelta,
    StreamError,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

__all__ = [
    "OpenAIResponseBuilder",
    "OpenAIStreamEncoder",
    "decode_chat_request",
    "encode_usage",
    "parse_json_body",
    "stream_error_bytes",
]

logger = logging.getLogger(__name__)

DONE = b"data: [DONE]\n\n"

# Fields decoded into ChatRequest attributes; every other top-level field goes to ``extra``.
_KNOWN_FIELDS = frozenset(
    {
        "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
        "temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "stop", "n",
        "seed", "tools", "tool_choice", "parallel_tool_calls", "response_format",
        "reasoning_effort", "user",
    }
)
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64,(?P<data>.*)$", re.DOTALL)


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object; 400 otherwise."""
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object such as {\"model\": ..., \"messages\": [...]}.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise InvalidRequest(f"The request body must be a JSON object, not {_json_type(body)}.")
    return body


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _invalid(param: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(f"Invalid value for {param!r}: expected {expected}, got {_json_type(value)}.", param=param)


def _opt_bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _invalid(name, "a boolean (true or false)", value)
    return value


def _opt_int(body: dict[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise _invalid(name, "an integer", value)
    if minimum is not None and value < minimum:
        raise InvalidRequest(f"Invalid value for {name!r}: {value} is below the minimum of {minimum}.", param=name)
    return value


def _opt_number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _invalid(name, "a number", value)
    return value


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(name, "a string", value)
    return value


def _decode_image(value: Any, param: str) -> ImagePart:
    if isinstance(value, str):
        url, detail = value, None
    elif isinstance(value, dict):
        url, detail = value.get("url"), value.get("detail")
        if detail is not None and not isinstance(detail, str):
            raise _invalid(f"{param}.detail", "a string", detail)
    else:
        raise _invalid(param, "an object with a url", value)
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"Missing required parameter: {param + '.url'!r}.", param=f"{param}.url")
    if url.startswith("data:"):
        match = _DATA_URL.match(url)
        if match is None or not match.group("data"):
            message = (
                f"Invalid value for {param + '.url'!r}: a data URL must look like "
                "data:image/png;base64,<base64 data>."
            )
            raise InvalidRequest(message, param=f"{param}.url")
        return ImagePart(data=match.group("data"), media_type=match.group("type") or None, detail=detail)
    return ImagePart(url=url, detail=detail)


def _decode_content(value: Any, param: str) -> list[Part]:
    if value is None:
        return []
    if isinstance(value, str):
        return [TextPart(value)]
    if not isinstance(value, list):
        raise _invalid(param, "a string or an array of content parts", value)
    parts: list[Part] = []
    for index, item in enumerate(value):
        where = f"{param}[{index}]"
        if not isinstance(item, dict):
            raise _invalid(where, "an object", item)
        kind = item.get("type")
        if kind == "text":
            text = item.get("text")
            if not isinstance(text, str):
                raise _invalid(f"{where}.text", "a string", text)
            parts.append(TextPart(text))
        elif kind == "refusal":
            refusal = item.get("refusal")
            if not isinstance(refusal, str):
                raise _invalid(f"{where}.refusal", "a string", refusal)
            parts.append(TextPart(refusal))
        elif kind == "image_url":
            parts.append(_decode_image(item.get("image_url"), f"{where}.image_url"))
        else:
            message = (
                f"Invalid value for {where + '.type'!r}: {kind!r} is not supported here; "
                "use \"text\" or \"image_url\"."
            )
            raise InvalidRequest(message, param=f"{where}.type")
    return parts


def _decode_tool_calls(value: Any, param: str) -> list[ToolCall]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(param, "an array", value)
    calls = []
    for index, item in enumerate(value):
        where = f"{param}[{index}]"
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            raise InvalidRequest(f"Missing required parameter: {where + '.function'!r}.", param=f"{where}.function")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"Missing required parameter: {where + '.function.name'!r}.", param=f"{where}.function.name")
        arguments = function.get("arguments", "")
        if isinstance(arguments, (dict, list)):
            arguments = json.dumps(arguments, ensure_ascii=False)
        if not isinstance(arguments, str):
            raise _invalid(f"{where}.function.arguments", "a JSON string", arguments)
        call_id = item.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequest(f"Missing required parameter: {where + '.id'!r}.", param=f"{where}.id")
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
    return calls


def _decode_message(value: Any, index: int) -> Message:
    param = f"messages[{index}]"
    if not isinstance(value, dict):
        raise _invalid(param, "an object with a role and content", value)
    role = value.get("role")
    if role not in _ROLES:
        message = (
            f"Invalid value for {param + '.role'!r}: {role!r}; use one of system, developer, user, assistant or tool."
        )
        raise InvalidRequest(message, param=f"{param}.role")
    name = value.get("name")
    if name is not None and not isinstance(name, str):
        raise _invalid(f"{param}.name", "a string", name)
    message = Message(role=_ROLES[role], content=_decode_content(value.get("content"), f"{param}.content"), name=name)
    if role == "assistant":
        message.tool_calls = _decode_tool_calls(value.get("tool_calls"), f"{param}.tool_calls")
    if role == "tool":
        call_id = value.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequest(f"Missing required parameter: {param + '.tool_call_id'!r}.", param=f"{param}.tool_call_id")
        message.tool_call_id = call_id
    return message


def _decode_tools(value: Any) -> list[Tool] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _invalid("tools", "an array", value)
    tools = []
    for index, item in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(item, dict) or item.get("type", "function") != "function":
            raise InvalidRequest(f"Invalid value for {where!r}: only tools of type \"function\" are supported.", param=where)
        function = item.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise InvalidRequest(f"Missing required parameter: {where + '.function.name'!r}.", param=f"{where}.function.name")
        parameters = function.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise _invalid(f"{where}.function.parameters", "a JSON Schema object", parameters)
        description = function.get("description")
        strict = function.get("strict")
        tools.append(Tool(name=function["name"], description=description, parameters=parameters, strict=strict))
    return tools


def _decode_tool_choice(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise InvalidRequest(
                f"Invalid value for 'tool_choice': {value!r}; use auto, none, required or a function object.",
                param="tool_choice",
            )
        return value
    if isinstance(value, dict):
        function = value.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return function["name"]
    raise InvalidRequest(
        "Invalid value for 'tool_choice': use auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}.",
        param="tool_choice",
    )


def _decode_stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise _invalid("stop", "a string or an array of strings", value)


def decode_chat_request(body: dict[str, Any]) -> ChatRequest:
    """Decode an OpenAI chat completions body into a ``ChatRequest``; 400 names the bad field."""
    model = body.get("model")
    if model is None:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", "a non-empty string", model)

    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("Missing required parameter: 'messages'.", param="messages")
    if not isinstance(messages, list):
        raise _invalid("messages", "an array of message objects", messages)
    if not messages:
        raise InvalidRequest("Invalid value for 'messages': the array must hold at least one message.", param="messages")

    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise _invalid("stream_options", "an object", stream_options)
    include_usage = False
    if stream_options:
        flag = stream_options.get("include_usage")
        if flag is not None and not isinstance(flag, bool):
            raise _invalid("stream_options.include_usage", "a boolean", flag)
        include_usage = bool(flag)

    response_format = body.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        raise _invalid("response_format", "an object such as {\"type\": \"json_object\"}", response_format)

    request = ChatRequest(
        model=model.strip(),
        messages=[_decode_message(message, index) for index, message in enumerate(messages)],
        stream=bool(_opt_bool(body, "stream")),
        max_tokens=_opt_int(body, "max_tokens", minimum=1),
        max_completion_tokens=_opt_int(body, "max_completion_tokens", minimum=1),
        temperature=_opt_number(body, "temperature"),
        top_p=_opt_number(body, "top_p"),
        top_k=_opt_int(body, "top_k", minimum=0),
        presence_penalty=_opt_number(body, "presence_penalty"),
        frequency_penalty=_opt_number(body, "frequency_penalty"),
        stop=_decode_stop(body.get("stop")),
        n=_opt_int(body, "n", minimum=1),
        seed=_opt_int(body, "seed"),
        tools=_decode_tools(body.get("tools")),
        tool_choice=_decode_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=_opt_bool(body, "parallel_tool_calls"),
        response_format=response_format,
        reasoning_effort=_opt_str(body, "reasoning_effort"),
        user=_opt_str(body, "user"),
        include_usage=include_usage,
        extra={key: value for key, value in body.items() if key not in _KNOWN_FIELDS},
        inbound_format="openai",
    )
    return request


# --- encoding ------------------------------------------------------------------------------


def encode_usage(usage: Usage) -> dict[str, Any]:
    """Return OpenAI's ``usage`` object; ``total_tokens`` is always prompt plus completion."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def stream_error_bytes(error: StreamError) -> bytes:
    """Return the in-stream error event; it carries no ``finish_reason`` and no ``[DONE]`` follows it."""
    code = error.code if error.code is None else str(error.code)
    return _sse({"error": {"message": error.message, "type": error.type, "param": None, "code": code}})


class OpenAIStreamEncoder:
    """Encode canonical events as ``chat.completion.chunk`` events of one response.

    The first delta of each choice carries ``role``; ``usage`` is kept and written as one
    ``choices: []`` chunk right before ``[DONE]`` when the client asked for it.
    """

    def __init__(self, *, model: str, response_id: str, created: int, include_usage: bool) -> None:
        self.model = model
        self.response_id = response_id
        self.created = created
        self.include_usage = include_usage
        self.usage: Usage | None = None
        self._started: set[int] = set()
        self._failed = False

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        payload: dict[str, Any] = {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        payload.update(extra)
        return _sse(payload)

    def _delta(self, index: int, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        if index not in self._started:
            self._started.add(index)
            delta = {"role": "assistant", **delta}
        return self._chunk([{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def encode(self, event: Event) -> bytes:
        """Return the bytes for one event (empty when the event is only remembered)."""
        if isinstance(event, TextDelta):
            return self._delta(event.index, {"content": event.text})
        if isinstance(event, ReasoningDelta):
            if not event.text:
                return b""
            return self._delta(event.index, {"reasoning_content": event.text})
        if isinstance(event, ToolCallDelta):
            call: dict[str, Any] = {"index": event.tool_index}
            if event.id is not None or event.name is not None:
                call["id"] = event.id
                call["type"] = "function"
                call["function"] = {"name": event.name, "arguments": event.arguments}
            else:
                call["function"] = {"arguments": event.arguments}
            return self._delta(event.index, {"tool_calls": [call]})
        if isinstance(event, Finish):
            return self._delta(event.index, {}, event.reason)
        if isinstance(event, UsageEvent):
            self.usage = event.usage
            return b""
        if isinstance(event, StreamError):
            self._failed = True
            return stream_error_bytes(event)
        return b""

    def close(self) -> bytes:
        """Return the bytes that end a successful stream: the usage chunk when asked, then ``[DONE]``."""
        if self._failed:
            return b""
        tail = b""
        if self.include_usage and self.usage is not None:
            tail = self._chunk([], usage=encode_usage(self.usage))
        return tail + DONE


@dataclass
class _ChoiceState:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None


class OpenAIResponseBuilder:
    """Collect canonical events into one ``chat.completion`` body."""

    def __init__(self, *, model: str, response_id: str, created: int) -> None:
        self.model = model
        self.response_id = response_id
        self.created = created
        self.usage = Usage(reported=False)
        self.error: StreamError | None = None
        self._choices: dict[int, _ChoiceState] = {}

    def _choice(self, index: int) -> _ChoiceState:
        return self._choices.setdefault(index, _ChoiceState())

    def add(self, event: Event) -> None:
        """Add one event to the response."""
        if isinstance(event, TextDelta):
            self._choice(event.index).text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            if event.text:
                self._choice(event.index).reasoning.append(event.text)
        elif isinstance(event, ToolCallDelta):
            calls = self._choice(event.index).tool_calls
            call = calls.setdefault(
                event.tool_index, {"id": None, "type": "function", "function": {"name": None, "arguments": ""}}
            )
            if event.id is not None:
                call["id"] = event.id
            if event.name is not None:
                call["function"]["name"] = event.name
            call["function"]["arguments"] += event.arguments
        elif isinstance(event, Finish):
            self._choice(event.index).finish_reason = event.reason
        elif isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, StreamError):
            self.error = event

    def body(self) -> dict[str, Any]:
        """Return the response body."""
        if not self._choices:
            self._choice(0)
        choices = []
        for index in sorted(self._choices):
            state = self._choices[index]
            message: dict[str, Any] = {
                "role": "assistant",
                "content": "".join(state.text) if state.text or not state.tool_calls else None,
                "refusal": None,
            }
            if state.reasoning:
                message["reasoning_content"] = "".join(state.reasoning)
            if state.tool_calls:
                message["tool_calls"] = [state.tool_calls[key] for key in sorted(state.tool_calls)]
            finish = state.finish_reason or ("tool_calls" if state.tool_calls else "stop")
            choices.append({"index": index, "message": message, "logprobs": None, "finish_reason": finish})
        return {
            "id": self.response_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": encode_usage(self.usage),
        }
