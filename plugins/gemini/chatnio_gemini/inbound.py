"""Gemini ``generateContent`` request bodies (from Gemini-format clients) to canonical requests.

Gemini function calls may carry no id, so the decoder gives each call an id made from its turn
and position, and matches each ``functionResponse`` to a call of the previous model turn by id,
or else by function name in order. Schema types written in Gemini's upper case (``OBJECT``)
become JSON Schema's lower case.
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

__all__ = ["decode_generate_request", "json_schema_from_gemini"]

_PASS_THROUGH = ("safetySettings", "cachedContent", "labels")

# Fields whose object keys are user data (function arguments, schema property names), so
# ``camelize`` leaves their keys as they are.
_FREE_FORM = frozenset({"args", "response", "labels", "parametersJsonSchema", "responseJsonSchema"})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def camelize(value: Any) -> Any:
    """Return ``value`` with snake_case field names in lowerCamelCase, as Google's JSON parser accepts both."""
    if isinstance(value, list):
        return [camelize(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = _camel(key) if "_" in key else key
        if name in _FREE_FORM:
            result[name] = item
        elif name == "properties" and isinstance(item, dict):
            result[name] = {prop: camelize(schema) for prop, schema in item.items()}
        else:
            result[name] = camelize(item)
    return result


def _invalid(param: str, expected: str, value: Any) -> InvalidRequest:
    kind = type(value).__name__ if value is not None else "null"
    return InvalidRequest(f"Invalid value at '{param}': expected {expected}, got {kind}.", param=param)


def decode_generate_request(body: Any, model: str, *, stream: bool) -> ChatRequest:
    """Decode a ``generateContent`` body for ``model``; raise ``InvalidRequest`` naming the bad field."""
    if not isinstance(body, dict):
        raise _invalid("body", "a JSON object", body)
    body = camelize(body)
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified", param="contents")

    messages = _system(body.get("systemInstruction", body.get("system_instruction")))
    pending: list[ToolCall] = []
    for turn_index, turn in enumerate(contents):
        decoded, pending = _turn(turn, turn_index, pending)
        messages.extend(decoded)

    request = ChatRequest(model=model.removeprefix("models/"), messages=messages, stream=stream,
                          include_usage=True, inbound_format="gemini")
    _generation_config(body.get("generationConfig", body.get("generation_config")), request)
    request.tools = _tools(body.get("tools"))
    _tool_config(body.get("toolConfig", body.get("tool_config")), request)
    for name in _PASS_THROUGH:
        if name in body:
            request.extra[name] = body[name]
    return request


def _system(value: Any) -> list[Message]:
    if value is None:
        return []
    if isinstance(value, str):
        return [Message(role="system", content=[TextPart(value)])]
    if not isinstance(value, dict) or not isinstance(value.get("parts"), list):
        raise _invalid("systemInstruction", "a Content object with parts", value)
    parts: list[Part] = [TextPart(p["text"]) for p in value["parts"] if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return [Message(role="system", content=parts)] if parts else []


def _turn(turn: Any, turn_index: int, pending: list[ToolCall]) -> tuple[list[Message], list[ToolCall]]:
    param = f"contents[{turn_index}]"
    if not isinstance(turn, dict):
        raise _invalid(param, "a Content object", turn)
    role = turn.get("role") or "user"
    if role not in ("user", "model", "function"):
        raise InvalidRequest(f"Invalid value at '{param}.role': use 'user' or 'model', not {role!r}.",
                             param=f"{param}.role")
    parts = turn.get("parts")
    if not isinstance(parts, list):
        raise _invalid(f"{param}.parts", "an array of parts", parts)
    if role == "model":
        return [_model_turn(parts, turn_index)], _calls_of(parts, turn_index)

    messages: list[Message] = []
    content: list[Part] = []
    unanswered = list(pending)
    for index, part in enumerate(parts):
        where = f"{param}.parts[{index}]"
        if not isinstance(part, dict):
            raise _invalid(where, "a Part object", part)
        if isinstance(part.get("functionResponse"), dict):
            messages.append(_function_response(part["functionResponse"], where, unanswered))
        elif isinstance(part.get("text"), str):
            content.append(TextPart(part["text"]))
        elif isinstance(part.get("inlineData"), dict) or isinstance(part.get("inline_data"), dict):
            content.append(_inline_image(part.get("inlineData") or part.get("inline_data"), where))
        elif isinstance(part.get("fileData"), dict) or isinstance(part.get("file_data"), dict):
            data = part.get("fileData") or part.get("file_data")
            uri = data.get("fileUri") or data.get("file_uri")
            if not isinstance(uri, str):
                raise _invalid(f"{where}.fileData.fileUri", "a URI", uri)
            content.append(ImagePart(url=uri, media_type=data.get("mimeType") or data.get("mime_type")))
        else:
            raise InvalidRequest(f"Invalid value at '{where}': this part type is not supported; use text, "
                                 "inlineData, fileData or functionResponse.", param=where)
    if content:
        messages.append(Message(role="user", content=content))
    return messages, []


def _inline_image(data: dict[str, Any], where: str) -> ImagePart:
    mime = data.get("mimeType") or data.get("mime_type")
    payload = data.get("data")
    if not isinstance(payload, str) or not payload:
        raise _invalid(f"{where}.inlineData.data", "base64 data", payload)
    if isinstance(mime, str) and not mime.startswith("image/"):
        raise InvalidRequest(f"Invalid value at '{where}.inlineData.mimeType': only images are supported, not {mime}.",
                             param=f"{where}.inlineData.mimeType")
    return ImagePart(data=payload, media_type=mime if isinstance(mime, str) else None)


def _call_id(call: dict[str, Any], turn_index: int, position: int) -> str:
    return call.get("id") or f"call_{turn_index}_{position}"


def _calls_of(parts: list[Any], turn_index: int) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for position, part in enumerate(parts):
        if isinstance(part, dict) and isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            calls.append(ToolCall(id=_call_id(call, turn_index, position), name=call.get("name") or "",
                                  arguments=json.dumps(call.get("args") or {}, ensure_ascii=False)))
    return calls


def _model_turn(parts: list[Any], turn_index: int) -> Message:
    message = Message(role="assistant")
    for position, part in enumerate(parts):
        where = f"contents[{turn_index}].parts[{position}]"
        if not isinstance(part, dict):
            raise _invalid(where, "a Part object", part)
        signature = part.get("thoughtSignature") or part.get("thought_signature")
        if signature:
            message.content.append(ThinkingPart("", signature=signature))
        if part.get("thought") and isinstance(part.get("text"), str):
            continue
        if isinstance(part.get("text"), str):
            message.content.append(TextPart(part["text"]))
        elif isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            if not isinstance(call.get("name"), str) or not call["name"]:
                raise InvalidRequest(f"Missing required field '{where}.functionCall.name'.",
                                     param=f"{where}.functionCall.name")
            message.tool_calls.append(ToolCall(id=_call_id(call, turn_index, position), name=call["name"],
                                               arguments=json.dumps(call.get("args") or {}, ensure_ascii=False)))
    return message


def _function_response(response: dict[str, Any], where: str, unanswered: list[ToolCall]) -> Message:
    name = response.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"Missing required field '{where}.functionResponse.name'.",
                             param=f"{where}.functionResponse.name")
    match = None
    if response.get("id"):
        match = next((call for call in unanswered if call.id == response["id"]), None)
    if match is None:
        match = next((call for call in unanswered if call.name == name), None)
    if match is None:
        raise InvalidRequest(
            f"Invalid value at '{where}.functionResponse': no functionCall named {name!r} in the previous model "
            "turn is waiting for a response.",
            param=f"{where}.functionResponse",
        )
    unanswered.remove(match)
    payload = response.get("response")
    text = json.dumps(payload if payload is not None else {}, ensure_ascii=False)
    return Message(role="tool", content=[TextPart(text)], tool_call_id=match.id, name=name)


def json_schema_from_gemini(schema: Any) -> Any:
    """Return a Gemini ``Schema`` as JSON Schema (lower-case types, ``nullable`` as a type list)."""
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            result["type"] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            result["properties"] = {name: json_schema_from_gemini(inner) for name, inner in value.items()}
        elif key in ("items",):
            result[key] = json_schema_from_gemini(value)
        elif key == "anyOf" and isinstance(value, list):
            result["anyOf"] = [json_schema_from_gemini(inner) for inner in value]
        elif key in ("nullable", "propertyOrdering"):
            continue
        elif key == "format" and value == "enum":
            continue
        else:
            result[key] = value
    if schema.get("nullable") is True and isinstance(result.get("type"), str):
        result["type"] = [result["type"], "null"]
    return result


def _tools(value: Any) -> list[Tool] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _invalid("tools", "an array of Tool objects", value)
    tools: list[Tool] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise _invalid(f"tools[{index}]", "a Tool object", entry)
        declarations = entry.get("functionDeclarations", entry.get("function_declarations"))
        if declarations is None:
            kinds = ", ".join(sorted(entry)) or "an empty tool"
            raise InvalidRequest(f"Invalid value at 'tools[{index}]': only functionDeclarations are supported, "
                                 f"not {kinds}.", param=f"tools[{index}]")
        for position, declaration in enumerate(declarations):
            where = f"tools[{index}].functionDeclarations[{position}]"
            if not isinstance(declaration, dict) or not isinstance(declaration.get("name"), str):
                raise InvalidRequest(f"Missing required field '{where}.name'.", param=f"{where}.name")
            schema = declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema"))
            if schema is None:
                schema = json_schema_from_gemini(declaration.get("parameters"))
            description = declaration.get("description")
            tools.append(Tool(name=declaration["name"], description=description if isinstance(description, str) else None,
                              parameters=schema if schema is not None else {"type": "object", "properties": {}}))
    return tools or None


def _tool_config(value: Any, request: ChatRequest) -> None:
    if not isinstance(value, dict):
        return
    config = value.get("functionCallingConfig", value.get("function_calling_config")) or {}
    mode = str(config.get("mode") or "AUTO").upper()
    allowed = config.get("allowedFunctionNames", config.get("allowed_function_names")) or []
    if mode == "NONE":
        request.tool_choice = "none"
    elif mode in ("ANY", "VALIDATED"):
        request.tool_choice = allowed[0] if len(allowed) == 1 else "required"
    else:
        request.tool_choice = "auto"


def _generation_config(value: Any, request: ChatRequest) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _invalid("generationConfig", "a GenerationConfig object", value)

    def number(name: str) -> float | None:
        item = value.get(name)
        if item is None:
            return None
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise _invalid(f"generationConfig.{name}", "a number", item)
        return float(item)

    def integer(name: str) -> int | None:
        item = value.get(name)
        if item is None:
            return None
        if isinstance(item, bool) or not isinstance(item, int):
            raise _invalid(f"generationConfig.{name}", "an integer", item)
        return item

    request.max_tokens = integer("maxOutputTokens")
    request.temperature = number("temperature")
    request.top_p = number("topP")
    request.top_k = integer("topK")
    request.presence_penalty = number("presencePenalty")
    request.frequency_penalty = number("frequencyPenalty")
    request.seed = integer("seed")
    request.n = integer("candidateCount")
    stops = value.get("stopSequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(item, str) for item in stops):
            raise _invalid("generationConfig.stopSequences", "an array of strings", stops)
        request.stop = stops or None
    mime = value.get("responseMimeType")
    schema = value.get("responseJsonSchema") or value.get("responseSchema")
    if mime == "application/json":
        if isinstance(schema, dict):
            converted = schema if "responseJsonSchema" in value else json_schema_from_gemini(schema)
            request.response_format = {"type": "json_schema", "json_schema": {"name": "response", "schema": converted}}
        else:
            request.response_format = {"type": "json_object"}
    thinking = value.get("thinkingConfig")
    if isinstance(thinking, dict):
        request.extra["thinkingConfig"] = thinking
        budget = thinking.get("thinkingBudget")
        if isinstance(budget, int) and not isinstance(budget, bool) and budget >= 0:
            request.thinking_budget = budget
