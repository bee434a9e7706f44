"""Canonical ``ChatRequest`` to the body of Gemini's ``generateContent``.

Gemini's rules that other gateways broke:

* only the roles ``user`` and ``model`` exist; every system message, wherever it sits, is
  merged into ``systemInstruction``;
* a ``model`` turn with N ``functionCall`` parts is followed by one ``user`` turn holding N
  ``functionResponse`` parts, matched to the calls by id and named after the called function;
* function parameter schemas accept only a subset of JSON Schema, so other keywords
  (``$schema``, ``additionalProperties``, ...) are removed and ``const`` or type lists are
  rewritten;
* images travel as ``inlineData`` with the media type sniffed from the bytes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, ImagePart, Message, TextPart, ThinkingPart
from chatnio_host.relay.media import image_media_type
from chatnio_host.relay.tool_schema import tool_parameters

__all__ = ["EFFORT_BUDGETS", "SCHEMA_KEYWORDS", "build_generate_body", "clean_schema"]

logger = logging.getLogger(__name__)

EFFORT_BUDGETS: dict[str, int] = {"minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
"""Gemini ``thinkingBudget`` values (tokens) for OpenAI's ``reasoning_effort`` values."""

SCHEMA_KEYWORDS: frozenset[str] = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
})
"""The keywords of Gemini's ``Schema`` object; any other keyword makes Gemini return 400."""

_STRING_FORMATS = frozenset({"enum", "date-time"})
_NUMBER_FORMATS = frozenset({"float", "double", "int32", "int64"})


def build_generate_body(request: ChatRequest) -> dict[str, Any]:
    """Return the ``generateContent`` body for ``request`` (the model goes in the URL)."""
    body: dict[str, Any] = {"contents": _contents(request.messages)}

    system = [message.text() for message in request.messages if message.role == "system"]
    system_text = "\n\n".join(text for text in system if text)
    if system_text:
        body["systemInstruction"] = {"parts": [{"text": system_text}]}

    if request.tools:
        declarations = [_declaration(tool, index) for index, tool in enumerate(request.tools)]
        body["tools"] = [{"functionDeclarations": declarations}]
        config = _tool_config(request)
        if config is not None:
            body["toolConfig"] = config

    generation = _generation_config(request)
    if generation:
        body["generationConfig"] = generation
    if request.inbound_format == "gemini":
        for name in ("safetySettings", "cachedContent", "labels"):
            if name in request.extra:
                body[name] = request.extra[name]
    return body


def _contents(messages: list[Message]) -> list[dict[str, Any]]:
    call_names: dict[str, str] = {}
    contents: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        if message.role == "system":
            continue
        if message.role == "tool":
            role, parts = "user", [_function_response(message, position, call_names)]
        elif message.role == "assistant":
            role, parts = "model", _model_parts(message, position, call_names)
        else:
            role, parts = "user", _user_parts(message, position)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def _user_parts(message: Message, position: int) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(message.content):
        param = f"messages[{position}].content[{index}]"
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(_image_part(part, param))
    return parts


def _image_part(part: ImagePart, param: str) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": image_media_type(part, param=param), "data": part.data}}
    if part.url and part.url.startswith(("gs://", "https://generativelanguage.googleapis.com/")):
        return {"fileData": {"mimeType": part.media_type or "image/png", "fileUri": part.url}}
    # The adapter inlines remote URLs before conversion; a URL left here could not be fetched.
    raise InvalidRequest(
        f"The image in {param} is a remote URL, which Gemini cannot fetch; send it as a data: URL with base64 data.",
        param=param,
    )


def _model_parts(message: Message, position: int, call_names: dict[str, str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    signature: str | None = None
    for part in message.content:
        if isinstance(part, ThinkingPart):
            if part.signature and not part.redacted and signature is None:
                signature = part.signature
        elif isinstance(part, TextPart) and part.text:
            parts.append({"text": part.text})
    for index, call in enumerate(message.tool_calls):
        param = f"messages[{position}].tool_calls[{index}].function.arguments"
        call_names[call.id] = call.name
        function_call: dict[str, Any] = {"name": call.name, "args": _arguments(call.arguments, param)}
        parts.append({"functionCall": function_call})
    if signature is not None:
        # Gemini returns its thought signature on the first function call (or the first part)
        # and wants it back on the same part.
        target = next((p for p in parts if "functionCall" in p), parts[0] if parts else None)
        if target is not None:
            target["thoughtSignature"] = signature
    return parts


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


def _function_response(message: Message, position: int, call_names: dict[str, str]) -> dict[str, Any]:
    call_id = message.tool_call_id
    name = call_names.get(call_id or "") or message.name
    if not name:
        raise InvalidRequest(
            f"The tool message messages[{position}] responds to the call {call_id!r}, which no earlier assistant "
            "message made; set tool_call_id to the id of a tool call.",
            param=f"messages[{position}].tool_call_id",
        )
    text = message.text()
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"result": text}
    return {"functionResponse": {"name": name, "response": response}}


def _declaration(tool: Any, index: int) -> dict[str, Any]:
    schema = tool_parameters(tool, index)
    declaration: dict[str, Any] = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    # Gemini rejects an object schema without properties, so a tool without parameters sends none.
    if schema.get("properties"):
        declaration["parameters"] = clean_schema(schema, schema.get("$defs") or schema.get("definitions") or {})
    return declaration


def clean_schema(schema: Any, definitions: dict[str, Any], depth: int = 0) -> Any:
    """Return ``schema`` reduced to the keywords of Gemini's ``Schema`` object.

    Local ``$ref`` values are inlined (to a depth of 16), ``const`` becomes a one-value
    ``enum``, a ``type`` list with ``"null"`` becomes ``nullable``, and unsupported string
    formats are dropped.
    """
    if not isinstance(schema, dict):
        return schema
    if depth > 16:
        return {"type": "object"}
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        target = definitions.get(name)
        if target is None:
            raise InvalidRequest(f"The tool schema reference {schema['$ref']!r} does not point to a local definition.",
                                 param="tools")
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return clean_schema(merged, definitions, depth + 1)

    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "const":
            cleaned["enum"] = [value]
        elif key == "type" and isinstance(value, list):
            types = [item for item in value if item != "null"]
            cleaned["type"] = types[0] if types else "string"
            if "null" in value:
                cleaned["nullable"] = True
        elif key == "properties" and isinstance(value, dict):
            cleaned["properties"] = {name: clean_schema(inner, definitions, depth + 1) for name, inner in value.items()}
        elif key == "items":
            cleaned["items"] = clean_schema(value, definitions, depth + 1)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            cleaned["anyOf"] = [clean_schema(inner, definitions, depth + 1) for inner in value]
        elif key in SCHEMA_KEYWORDS:
            cleaned[key] = value
    if "enum" in cleaned:
        cleaned["enum"] = [str(item) for item in cleaned["enum"] if item is not None]
        cleaned.setdefault("type", "string")
    kind = cleaned.get("type")
    format_ = cleaned.get("format")
    if format_ is not None:
        allowed = _STRING_FORMATS if kind == "string" else _NUMBER_FORMATS if kind in ("number", "integer") else set()
        if format_ not in allowed:
            del cleaned["format"]
    if "required" in cleaned and isinstance(cleaned.get("properties"), dict):
        cleaned["required"] = [name for name in cleaned["required"] if name in cleaned["properties"]]
    return cleaned


def _tool_config(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if choice not in {tool.name for tool in request.tools or []}:
        raise InvalidRequest(
            f"tool_choice names the function {choice!r}, which is not among the request's tools.", param="tool_choice"
        )
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice]}}


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.output_limit is not None:
        config["maxOutputTokens"] = request.output_limit
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.top_k is not None:
        config["topK"] = request.top_k
    if request.stop:
        config["stopSequences"] = list(request.stop)[:5]
    if request.presence_penalty is not None:
        config["presencePenalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        config["frequencyPenalty"] = request.frequency_penalty
    if request.seed is not None:
        config["seed"] = request.seed
    if request.n is not None and request.n > 1:
        config["candidateCount"] = request.n
    _response_format(request.response_format, config)

    budget = request.thinking_budget
    if budget is None and request.reasoning_effort:
        budget = EFFORT_BUDGETS.get(request.reasoning_effort)
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget != 0}
    elif request.inbound_format == "gemini" and isinstance(request.extra.get("thinkingConfig"), dict):
        config["thinkingConfig"] = request.extra["thinkingConfig"]
    return config


def _response_format(response_format: dict[str, Any] | None, config: dict[str, Any]) -> None:
    if not response_format:
        return
    kind = response_format.get("type")
    if kind == "json_object":
        config["responseMimeType"] = "application/json"
    elif kind == "json_schema":
        config["responseMimeType"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            config["responseSchema"] = clean_schema(schema, schema.get("$defs") or {})
