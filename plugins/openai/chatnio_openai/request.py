"""Build an OpenAI chat completions body from a canonical ``ChatRequest``.

Every field the client sent reaches the vendor: canonical fields are written back under their
OpenAI names and ``ChatRequest.extra`` (fields without a canonical meaning, such as
``logprobs`` or ``metadata``) is copied as it came. Two fields are decided here:

* ``stream`` is always true and ``stream_options.include_usage`` is set when the type's
  ``stream_usage`` setting is on, so the host can bill from vendor usage and time the stream.
* Models matching ``max_completion_tokens_models`` (prefixes such as ``o1``, ``o3``, ``o4``)
  get ``max_completion_tokens``, because those models reject ``max_tokens`` with HTTP 400.
  Other models keep the name the client used, since many OpenAI-compatible vendors only
  know ``max_tokens``.
"""

from __future__ import annotations

from typing import Any

from chatnio_host import ChatRequest, ImagePart, Message, TextPart

__all__ = ["DEFAULT_MAX_COMPLETION_TOKENS_MODELS", "build_chat_body", "message_to_openai", "uses_max_completion_tokens"]

DEFAULT_MAX_COMPLETION_TOKENS_MODELS: tuple[str, ...] = ("o1", "o3", "o4", "gpt-5")


def uses_max_completion_tokens(model: str, prefixes: list[str] | tuple[str, ...]) -> bool:
    """Return whether ``model`` (vendor prefixes like ``openai/`` ignored) starts with a listed prefix."""
    name = model.rsplit("/", 1)[-1].lower()
    return any(name.startswith(prefix.lower()) for prefix in prefixes if prefix)


def _image_url(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        url = f"data:{part.media_type or 'image/png'};base64,{part.data}"
    else:
        url = part.url or ""
    image: dict[str, Any] = {"url": url}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _content(message: Message) -> str | list[dict[str, Any]] | None:
    parts = [part for part in message.content if isinstance(part, TextPart | ImagePart)]
    if not parts:
        return None
    if all(isinstance(part, TextPart) for part in parts):
        if len(parts) == 1:
            return parts[0].text  # type: ignore[union-attr]
        return [{"type": "text", "text": part.text} for part in parts]  # type: ignore[union-attr]
    items: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            items.append({"type": "text", "text": part.text})
        else:
            items.append(_image_url(part))
    return items


def message_to_openai(message: Message) -> dict[str, Any]:
    """Return one message in OpenAI's shape; earlier reasoning (thinking parts) is not sent back."""
    item: dict[str, Any] = {"role": message.role}
    content = _content(message)
    if message.role == "assistant" and message.tool_calls:
        item["content"] = content
        item["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments or "{}"}}
            for call in message.tool_calls
        ]
    else:
        item["content"] = content if content is not None else ""
    if message.role == "tool" and message.tool_call_id is not None:
        item["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        item["name"] = message.name
    return item


def _tool_choice(choice: str | None) -> Any:
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _put(body: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        body[name] = value


def build_chat_body(request: ChatRequest, model: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Return the vendor body for ``request`` sent as ``model`` under the type's ``settings``."""
    body: dict[str, Any] = {}
    for name, value in request.extra.items():
        if name not in ("stream", "stream_options"):
            body[name] = value
    body["model"] = model
    body["messages"] = [message_to_openai(message) for message in request.messages]
    body["stream"] = True
    stream_options = dict(request.extra.get("stream_options") or {})
    if settings.get("stream_usage", True):
        stream_options["include_usage"] = True
    else:
        stream_options.pop("include_usage", None)
    if stream_options:
        body["stream_options"] = stream_options

    prefixes = settings.get("max_completion_tokens_models", DEFAULT_MAX_COMPLETION_TOKENS_MODELS)
    if uses_max_completion_tokens(model, prefixes):
        _put(body, "max_completion_tokens", request.output_limit)
    else:
        _put(body, "max_tokens", request.max_tokens)
        _put(body, "max_completion_tokens", request.max_completion_tokens)

    for name in ("temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "stop", "n", "seed",
                 "parallel_tool_calls", "response_format", "reasoning_effort", "user"):
        _put(body, name, getattr(request, name))
    if request.tools is not None:
        tools = []
        for tool in request.tools:
            function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
            _put(function, "description", tool.description)
            _put(function, "strict", tool.strict)
            tools.append({"type": "function", "function": function})
        body["tools"] = tools
    _put(body, "tool_choice", _tool_choice(request.tool_choice))
    return body
