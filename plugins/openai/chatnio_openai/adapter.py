"""The adapter for OpenAI and every OpenAI-compatible vendor (``openai`` and the presets).

The channel's settings are read over the channel type's ``defaults`` and the adapter's own
defaults, so a data-only preset changes the base path or the key header without code.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from chatnio_host import (
    CONTENT_EVENTS,
    ChannelAdapter,
    ChannelType,
    ChatRequest,
    Event,
    Finish,
    StreamError,
    UpstreamFailure,
    UpstreamHTTP,
    UpstreamTarget,
    parse_error_body,
)

from chatnio_openai.events import chunk_events, completion_events
from chatnio_openai.request import DEFAULT_MAX_COMPLETION_TOKENS_MODELS, build_chat_body

__all__ = ["DEFAULT_ENDPOINT", "DEFAULT_SETTINGS", "SETTINGS_SCHEMA", "OpenAIAdapter"]

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.openai.com"
MAX_JSON_ANSWER_BYTES = 64 * 1024 * 1024

DEFAULT_SETTINGS: dict[str, Any] = {
    "api_path": "/v1",
    "auth_header": "Authorization",
    "auth_scheme": "Bearer",
    "stream_usage": True,
    "max_completion_tokens_models": list(DEFAULT_MAX_COMPLETION_TOKENS_MODELS),
    "extra_headers": {},
}

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "api_path": {
            "type": "string",
            "description": "Path appended to an endpoint that has no version path of its own, such as /v1.",
        },
        "auth_header": {"type": "string", "minLength": 1, "description": "Header that carries the key."},
        "auth_scheme": {
            "type": "string",
            "description": "Word before the key in that header (Bearer); empty sends the key alone.",
        },
        "stream_usage": {
            "type": "boolean",
            "description": "Send stream_options.include_usage; turn off for vendors that reject it.",
        },
        "max_completion_tokens_models": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Model name prefixes that take max_completion_tokens instead of max_tokens.",
        },
        "extra_headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Headers added to every upstream request, such as OpenAI-Organization.",
        },
    },
}

# An endpoint whose path already ends in a version segment (/v1, /v4, /api/v3, /v1beta) is an API root.
_VERSION_PATH = re.compile(r"/v\d+[a-z0-9]*$", re.IGNORECASE)
_OPERATION_SUFFIX = re.compile(r"/(chat/completions|completions|embeddings|images/generations|models)/?$")


def _json_error_status(error: dict[str, Any]) -> int:
    """Return the HTTP status an in-stream error object stands for."""
    code = error.get("code")
    if isinstance(code, int) and 400 <= code <= 599:
        return code
    if isinstance(code, str) and code.isdigit() and 400 <= int(code) <= 599:
        return int(code)
    marker = f"{error.get('type', '')} {code or ''}".lower()
    if "invalid_request" in marker or "badrequest" in marker or "context_length" in marker:
        return 400
    if "rate_limit" in marker:
        return 429
    if "auth" in marker or "invalid_api_key" in marker:
        return 401
    return 500


class _StreamState:
    """What an adapter saw of one stream: content, a finish, the ``[DONE]`` terminator."""

    def __init__(self) -> None:
        self.content = False
        self.finished = False
        self.done = False


class OpenAIAdapter(ChannelAdapter):
    """OpenAI's chat completions, embeddings, images and model list, for any compatible vendor."""

    supports_embeddings = True
    supports_images = True
    supports_model_list = True

    def __init__(self, http: UpstreamHTTP, channel_type: ChannelType | None = None) -> None:
        super().__init__(http)
        self.channel_type = channel_type

    # --- channel configuration -------------------------------------------------------------

    def settings_for(self, target: UpstreamTarget) -> dict[str, Any]:
        """Return the adapter defaults, overlaid by the type's defaults and the channel's settings."""
        type_defaults = self.channel_type.defaults if self.channel_type is not None else {}
        return {**DEFAULT_SETTINGS, **type_defaults, **(target.settings or {})}

    def endpoint_for(self, target: UpstreamTarget) -> str:
        """Return the channel's endpoint, or the type's default endpoint when it is blank."""
        endpoint = (target.endpoint or "").strip()
        if not endpoint and self.channel_type is not None:
            endpoint = self.channel_type.default_endpoint
        if not endpoint:
            endpoint = DEFAULT_ENDPOINT
        return endpoint.rstrip("/")

    def api_root(self, target: UpstreamTarget, settings: dict[str, Any]) -> str:
        """Return the URL that operation paths (``/chat/completions``) are appended to."""
        root = _OPERATION_SUFFIX.sub("", self.endpoint_for(target)).rstrip("/")
        api_path = str(settings.get("api_path") or "").strip("/")
        if api_path and not _VERSION_PATH.search(root):
            root = f"{root}/{api_path}"
        return root

    def operation_url(self, target: UpstreamTarget, settings: dict[str, Any], operation: str, model: str,
                      requested: str | None = None) -> tuple[str, dict[str, str] | None]:
        """Return the URL and query parameters of ``operation`` (``chat/completions``, ``models``...).

        ``requested`` is the model name the client asked for, before the channel's mapping.
        """
        return f"{self.api_root(target, settings)}/{operation}", None

    def headers_for(self, target: UpstreamTarget, settings: dict[str, Any]) -> dict[str, str]:
        """Return the auth header (left out for a blank key) and the configured extra headers."""
        headers = {str(name): str(value) for name, value in (settings.get("extra_headers") or {}).items()}
        key = target.key.strip()
        if key:
            scheme = str(settings.get("auth_scheme") or "").strip()
            headers[str(settings.get("auth_header") or "Authorization")] = f"{scheme} {key}" if scheme else key
        return headers

    # --- chat ------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest, target: UpstreamTarget) -> AsyncIterator[Event]:
        """Stream a chat completion from the vendor and yield canonical events."""
        settings = self.settings_for(target)
        model = target.model or request.upstream_model or request.model
        body = self.chat_body(request, model, settings)
        url, params = self.operation_url(target, settings, "chat/completions", model, requested=request.model)
        state = _StreamState()

        async with self.http.stream("POST", url, target, headers=self.headers_for(target, settings), json=body,
                                    params=params) as stream:
            if not 200 <= stream.status < 300:
                raw = await stream.read()
                raise self._failure(stream.status, raw, target, stream.headers)
            content_type = stream.headers.get("content-type", "")
            if "json" in content_type and "event-stream" not in content_type:
                for event in await self._whole_answer(stream, target):
                    yield event
                return
            try:
                async for event in self._stream_events(stream, target, state):
                    yield event
            except UpstreamFailure as failure:
                if not state.content:
                    raise
                yield StreamError(failure.message, type=_stream_error_type(failure), code=failure.code,
                                  status=failure.status)
                return

        if not state.done and not state.finished:
            if not state.content:
                raise UpstreamFailure("invalid", f"channel://{target.channel_id} ended its stream without a response.")
            logger.warning("channel %s: stream ended without a finish reason or [DONE]", target.channel_id)
            yield StreamError(f"The stream of channel://{target.channel_id} ended before the response was complete.",
                              type="upstream_error", code="incomplete_stream")

    def chat_body(self, request: ChatRequest, model: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Return the vendor body of a chat request."""
        return build_chat_body(request, model, settings)

    async def _stream_events(self, stream: Any, target: UpstreamTarget, state: _StreamState) -> AsyncIterator[Event]:
        async for sse in stream.events():
            data = sse.data.strip()
            if data == "[DONE]":
                state.done = True
                return
            if not data:
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                chunk = None
            if not isinstance(chunk, dict):
                message = f"channel://{target.channel_id} sent a stream event that is not a JSON object."
                logger.warning("channel %s: unparsable stream event of %d bytes", target.channel_id, len(data))
                raise UpstreamFailure("invalid", message)
            error = chunk.get("error")
            if error and not chunk.get("choices"):
                raise self._stream_failure(error, target)
            for event in chunk_events(chunk):
                if isinstance(event, CONTENT_EVENTS):
                    state.content = True
                elif isinstance(event, Finish):
                    state.finished = True
                yield event

    async def _whole_answer(self, stream: Any, target: UpstreamTarget) -> list[Event]:
        """Read a vendor's JSON response to a streamed request (some vendors ignore ``stream``)."""
        raw = await stream.read(MAX_JSON_ANSWER_BYTES)
        try:
            completion = json.loads(raw)
        except ValueError:
            completion = None
        if not isinstance(completion, dict):
            raise UpstreamFailure("invalid", f"channel://{target.channel_id} returned a body that is not JSON.")
        if completion.get("error") and not completion.get("choices"):
            raise self._stream_failure(completion["error"], target)
        events = list(completion_events(completion))
        if not events:
            raise UpstreamFailure("invalid", f"channel://{target.channel_id} returned no choices.")
        return events

    def _stream_failure(self, error: Any, target: UpstreamTarget) -> UpstreamFailure:
        if not isinstance(error, dict):
            error = {"message": str(error)}
        status = _json_error_status(error)
        code = error.get("code")
        return self.http.failure_from_status(
            status, str(error.get("message") or "The upstream reported an error in its stream."), target,
            type=_optional(error.get("type")), code=_optional(code), param=_optional(error.get("param")),
        )

    def _failure(self, status: int, raw: bytes, target: UpstreamTarget, headers: dict[str, str]) -> UpstreamFailure:
        message, type_, code, param = parse_error_body(raw)
        return self.http.failure_from_status(status, message, target, headers=headers, type=type_, code=code,
                                             param=param)

    # --- embeddings, images, models --------------------------------------------------------

    async def _json_call(self, method: str, operation: str, target: UpstreamTarget,
                         body: dict[str, Any] | None) -> dict[str, Any]:
        settings = self.settings_for(target)
        model = str((body or {}).get("model") or target.model)
        url, params = self.operation_url(target, settings, operation, model)
        response = await self.http.request(method, url, target, headers=self.headers_for(target, settings), json=body,
                                           params=params)
        if not 200 <= response.status < 300:
            raise self._failure(response.status, response.body, target, response.headers)
        answer = response.json()
        if not isinstance(answer, dict):
            raise UpstreamFailure("invalid", f"channel://{target.channel_id} returned {operation} as a "
                                             "JSON value that is not an object.", status=response.status)
        return answer

    async def embeddings(self, body: dict[str, Any], target: UpstreamTarget) -> dict[str, Any]:
        """Return the vendor's embeddings response for an OpenAI-shaped body."""
        return await self._json_call("POST", "embeddings", target, {**body, "model": target.model or body.get("model")})

    async def images(self, body: dict[str, Any], target: UpstreamTarget) -> dict[str, Any]:
        """Return the vendor's image generation response for an OpenAI-shaped body."""
        # NOTE: the response headers must arrive within first_byte_timeout (60 s by default), so an
        # image model that takes longer fails over as a timeout unless the operator raises that setting.
        return await self._json_call("POST", "images/generations", target,
                                     {**body, "model": target.model or body.get("model")})

    async def list_models(self, target: UpstreamTarget) -> list[str]:
        """Return the model ids of the vendor's ``GET /models``."""
        answer = await self._json_call("GET", "models", target, None)
        data = answer.get("data")
        if not isinstance(data, list):
            raise UpstreamFailure("invalid", f"channel://{target.channel_id} returned /models without a data list.")
        return [str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")]


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _stream_error_type(failure: UpstreamFailure) -> str:
    if failure.kind == "timeout":
        return "timeout_error"
    return failure.type or "upstream_error"
