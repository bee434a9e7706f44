"""A fake Gemini API vendor that answers ``generateContent`` in its wire format byte for byte.

Unless a test scripts a reply, ``FakeGemini`` answers:

* ``POST /v1beta/models/{model}:generateContent`` with one ``GenerateContentResponse``;
* ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` with one response chunk per
  word framed as ``data: <JSON>\\r\\n\\r\\n`` (Gemini's framing), the last one carrying
  ``finishReason`` and ``usageMetadata``; without ``alt=sse`` the chunks form one JSON array;
* ``GET /v1beta/models`` with ``models``.

It checks requests the way Gemini does: the key in ``x-goog-api-key`` (or ``?key=``, which it
records so tests can assert it never appears), only the roles ``user`` and ``model``, one
``functionResponse`` part for each ``functionCall`` part of the turn before, and function
parameter schemas limited to Gemini's ``Schema`` keywords. Bad keys get Gemini's 400
``API_KEY_INVALID`` answer.

The answer text is ``reply_text`` or the last user text; with function declarations and a last
turn of user text it calls the chosen (or first) function with ``{"text": <last user text>}``;
after function responses it answers ``tool result: <response JSON>``. With
``thinkingConfig.includeThoughts`` a thought part comes first. Token counts are words.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from typing import Any

from chatnio_host.testing_vendors.server import FakeVendor, RecordedRequest, Reply

__all__ = ["FakeGemini", "gemini_chunk", "gemini_error", "gemini_sse", "THOUGHT_SIGNATURE"]

THOUGHT_SIGNATURE = "ZmFrZS10aG91Z2h0LXNpZ25hdHVyZS0wMQ=="
"""The signature (base64, as Gemini sends it) the fake puts on its function call after thoughts."""

SCHEMA_KEYWORDS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
})

_PATH = re.compile(r"^/(?P<version>v1beta|v1)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")


def gemini_sse(payload: dict[str, Any]) -> bytes:
    """Return one stream event in Gemini's framing: ``data: <JSON>\\r\\n\\r\\n``."""
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\r\n\r\n"


def gemini_error(status: int, message: str, rpc_status: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    """Build an error response in Google's shape ``{"error": {"code", "message", "status"}}``."""
    return Reply.json({"error": {"code": status, "message": message, "status": rpc_status}}, status=status,
                      headers=headers)


def gemini_chunk(
    parts: list[dict[str, Any]] | None = None,
    *,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = "gemini-2.5-flash",
    index: int = 0,
    response_id: str = "fakeResponseId",
) -> dict[str, Any]:
    """Build one ``GenerateContentResponse`` with a single candidate."""
    candidate: dict[str, Any] = {}
    if parts is not None:
        candidate["content"] = {"parts": parts, "role": "model"}
    if finish_reason:
        candidate["finishReason"] = finish_reason
    candidate["index"] = index
    chunk: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        chunk["usageMetadata"] = usage
    chunk["modelVersion"] = model
    chunk["responseId"] = response_id
    return chunk


def _count(text: str) -> int:
    return len(text.split())


def _bad_schema_key(schema: Any, where: str) -> str | None:
    if not isinstance(schema, dict):
        return None
    for key, value in schema.items():
        if key not in SCHEMA_KEYWORDS:
            return f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
        if key == "properties" and isinstance(value, dict):
            for name, inner in value.items():
                found = _bad_schema_key(inner, f"{where}.properties[{name}].value")
                if found:
                    return found
        if key == "items":
            found = _bad_schema_key(value, f"{where}.items")
            if found:
                return found
    if str(schema.get("type", "")).lower() == "object" and "properties" in schema and not schema["properties"]:
        return f"* GenerateContentRequest.{where}.properties: should be non-empty for OBJECT type"
    return None


class FakeGemini(FakeVendor):
    """A fake Gemini API with an echo default; see the module docstring."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, reply_text: str | None = None,
                 keys: Iterable[str] | None = None, models: Iterable[str] = ("gemini-2.5-flash", "gemini-2.5-pro")) -> None:
        super().__init__(host=host, port=port)
        self.reply_text = reply_text
        self.keys = set(keys) if keys is not None else None
        self.models = list(models)

    def default_reply(self, request: RecordedRequest) -> Reply | None:
        key = request.headers.get("x-goog-api-key") or request.query_value("key")
        if not key or (self.keys is not None and key not in self.keys):
            return gemini_error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT")
        if request.method == "GET" and re.fullmatch(r"/(v1beta|v1)/models", request.path):
            return Reply.json({"models": [
                {"name": f"models/{name}", "displayName": name,
                 "supportedGenerationMethods": ["generateContent", "countTokens"]} for name in self.models]})
        match = _PATH.match(request.path)
        if request.method != "POST" or match is None:
            return gemini_error(404, f"Method not found: {request.path}", "NOT_FOUND")
        try:
            body = json.loads(request.body)
        except ValueError:
            return gemini_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        problem = self._check(body)
        if problem is not None:
            return gemini_error(400, problem, "INVALID_ARGUMENT")
        model = match.group("model")
        if match.group("method") == "countTokens":
            return Reply.json({"totalTokens": self._prompt_tokens(body)})
        parts = self._answer_parts(body)
        if match.group("method") == "generateContent":
            return Reply.json(self._whole(body, model, parts))
        if match.group("method") == "streamGenerateContent":
            chunks = self._chunks(body, model, parts)
            if request.query_value("alt") == "sse":
                return Reply.sse([gemini_sse(chunk) for chunk in chunks], headers=[("Vary", "Origin")])
            text = "[" + ",\r\n".join(json.dumps(chunk, indent=2) for chunk in chunks) + "]"
            return Reply(headers=[("Content-Type", "application/json; charset=UTF-8")], chunks=[text.encode()])
        return gemini_error(404, f"Method not found: {match.group('method')}", "NOT_FOUND")

    def _check(self, body: Any) -> str | None:
        """Return Gemini's 400 message for a body it would reject, or None."""
        if not isinstance(body, dict) or not body.get("contents"):
            return "* GenerateContentRequest.contents: contents is not specified"
        calls_waiting = 0
        for position, turn in enumerate(body["contents"]):
            role = turn.get("role", "user")
            if role not in ("user", "model"):
                return f"Please use a valid role: user, model. (contents[{position}].role {role!r})"
            parts = turn.get("parts") or []
            if not parts:
                return f"* GenerateContentRequest.contents[{position}].parts: contents.parts must not be empty."
            responses = sum(1 for part in parts if "functionResponse" in part)
            if calls_waiting and responses != calls_waiting:
                return ("Please ensure that the number of function response parts is equal to the number of "
                        "function call parts of the function call turn.")
            calls_waiting = sum(1 for part in parts if "functionCall" in part) if role == "model" else 0
        for index, tool in enumerate(body.get("tools") or []):
            for position, declaration in enumerate(tool.get("functionDeclarations") or []):
                where = f"tools[{index}].function_declarations[{position}].parameters"
                found = _bad_schema_key(declaration.get("parameters"), where)
                if found:
                    return found
        return None

    def _prompt_tokens(self, body: dict[str, Any]) -> int:
        words = 0
        for turn in body["contents"]:
            for part in turn.get("parts") or []:
                words += _count(part.get("text") or "")
        for part in (body.get("systemInstruction") or {}).get("parts") or []:
            words += _count(part.get("text") or "")
        return max(1, words)

    def _answer_parts(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
        include_thoughts = thinking.get("includeThoughts") or thinking.get("include_thoughts")
        if include_thoughts:
            parts.append({"text": "Thinking it over.", "thought": True})
        last = body["contents"][-1]
        responses = [part["functionResponse"] for part in last.get("parts") or [] if "functionResponse" in part]
        if responses:
            text = "tool result: " + " ".join(json.dumps(r.get("response"), separators=(",", ":")) for r in responses)
            parts.append({"text": self.reply_text or text})
            return parts
        user_text = " ".join(part.get("text", "") for part in last.get("parts") or [] if "text" in part)
        declaration = self._chosen_function(body)
        if declaration is not None:
            call: dict[str, Any] = {"functionCall": {"name": declaration["name"], "args": {"text": user_text}}}
            if include_thoughts:
                call["thoughtSignature"] = THOUGHT_SIGNATURE
            parts.append(call)
            return parts
        parts.append({"text": self.reply_text if self.reply_text is not None else (user_text or "ok")})
        return parts

    def _chosen_function(self, body: dict[str, Any]) -> dict[str, Any] | None:
        declarations = [d for tool in body.get("tools") or [] for d in tool.get("functionDeclarations") or []]
        config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        if not declarations or config.get("mode") == "NONE":
            return None
        allowed = config.get("allowedFunctionNames") or []
        if allowed:
            return next((d for d in declarations if d["name"] == allowed[0]), declarations[0])
        return declarations[0]

    def _usage(self, body: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
        prompt = self._prompt_tokens(body)
        thoughts = sum(_count(p["text"]) for p in parts if p.get("thought"))
        candidates = sum(_count(p.get("text") or json.dumps(p.get("functionCall", {}).get("args", {})))
                         for p in parts if not p.get("thought"))
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                 "totalTokenCount": prompt + candidates + thoughts,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return usage

    def _whole(self, body: dict[str, Any], model: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return gemini_chunk(parts, finish_reason="STOP", usage=self._usage(body, parts), model=model,
                            response_id=secrets.token_urlsafe(12))

    def _chunks(self, body: dict[str, Any], model: str, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response_id = secrets.token_urlsafe(12)
        pieces: list[dict[str, Any]] = []
        for part in parts:
            if "text" in part and not part.get("thought"):
                words = part["text"].split(" ")
                pieces.extend({"text": word if i == 0 else " " + word} for i, word in enumerate(words))
            else:
                pieces.append(part)
        chunks = [gemini_chunk([piece], model=model, response_id=response_id) for piece in pieces]
        usage = self._usage(body, parts)
        if chunks:
            last = chunks[-1]["candidates"][0]
            last["finishReason"] = "STOP"
            chunks[-1]["usageMetadata"] = usage
        return chunks
