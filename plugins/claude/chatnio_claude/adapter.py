"""The ``claude`` channel type: Anthropic's Messages API through the host's upstream client."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from chatnio_host.channels.base import ChannelAdapter, UpstreamFailure, UpstreamTarget
from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, Event, StreamError
from chatnio_host.relay.fetch import inline_remote_images
from chatnio_host.relay.tool_schema import request_failure

from chatnio_claude.request import DEFAULT_MAX_TOKENS, build_messages_body
from chatnio_claude.response import MessageDecoder, failure_kind

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_ENDPOINT", "ClaudeAdapter", "SETTINGS_SCHEMA", "messages_url"]

logger = logging.getLogger(__name__)

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_ENDPOINT = "https://api.anthropic.com"

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "default_max_tokens": {
            "type": "integer",
            "minimum": 1,
            "default": DEFAULT_MAX_TOKENS,
            "description": "max_tokens sent when the client sets no output limit (Anthropic requires one).",
        },
        "anthropic_version": {
            "type": "string",
            "default": ANTHROPIC_VERSION,
            "description": "Value of the anthropic-version header.",
        },
        "anthropic_beta": {
            "type": "string",
            "description": "Optional anthropic-beta header value, such as a comma-separated list of beta names.",
        },
        "send_image_urls": {
            "type": "boolean",
            "default": False,
            "description": "Pass http(s) image URLs to Anthropic as url sources instead of fetching and inlining them.",
        },
    },
    "additionalProperties": False,
}


def messages_url(endpoint: str) -> str:
    """Return the Messages API URL under ``endpoint`` (with or without a trailing ``/v1``)."""
    base = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    if base.endswith("/v1"):
        return base + "/messages"
    return base + "/v1/messages"


class ClaudeAdapter(ChannelAdapter):
    """Sends canonical requests to Anthropic's ``POST /v1/messages`` and decodes its responses."""

    supports_tools: ClassVar[bool] = True
    supports_vision: ClassVar[bool] = True

    def headers(self, target: UpstreamTarget, request: ChatRequest | None = None) -> dict[str, str]:
        """Return the request headers: the key in ``x-api-key`` and the API version."""
        settings = target.settings or {}
        headers = {
            "x-api-key": target.key,
            "anthropic-version": str(settings.get("anthropic_version") or ANTHROPIC_VERSION),
            "content-type": "application/json",
        }
        beta = settings.get("anthropic_beta")
        if request is not None and request.inbound_format == "anthropic" and request.extra.get("anthropic_beta"):
            beta = ",".join(part for part in (beta, request.extra["anthropic_beta"]) if part)
        if beta:
            headers["anthropic-beta"] = str(beta)
        return headers

    async def chat(self, request: ChatRequest, target: UpstreamTarget) -> AsyncIterator[Event]:
        """Send ``request`` and yield canonical events, streaming from Anthropic when the client streams."""
        settings = target.settings or {}
        default_max_tokens = int(settings.get("default_max_tokens") or DEFAULT_MAX_TOKENS)
        try:
            if not settings.get("send_image_urls"):
                # Inline remote images here, so the vendor never fetches a URL the client chose.
                request = await inline_remote_images(request, getattr(self.http, "settings", None))
            body = build_messages_body(
                request, target.model, stream=request.stream, default_max_tokens=default_max_tokens
            )
        except InvalidRequest as error:
            raise request_failure(error) from error
        url = messages_url(target.endpoint)
        headers = self.headers(target, request)
        logger.debug("claude request to channel %s model %s stream=%s", target.channel_id, target.model, request.stream)

        if not request.stream:
            response = await self.http.request("POST", url, target, headers=headers, json=body)
            if response.status >= 400:
                raise self._failure(response.status, response.body, target, response.headers)
            decoder = MessageDecoder(model=target.model)
            for event in self.decode_step(lambda: decoder.decode_message(response.json()), target):
                yield event
            return

        async with self.http.stream("POST", url, target, headers=headers, json=body) as upstream:
            if upstream.status >= 400:
                raise self._failure(upstream.status, await upstream.read(), target, upstream.headers)
            decoder = MessageDecoder(model=target.model)
            try:
                async for sse in upstream.events():
                    if not sse.data:
                        continue
                    data = self.parse_event(sse.data, target, content_started=decoder.content_started)
                    if data is None:
                        yield StreamError("The upstream sent an event that is not JSON.", type="upstream_error")
                        return
                    for event in self.decode_step(lambda: decoder.feed(data), target):
                        yield event
                    if decoder.finished:
                        return
            except UpstreamFailure as failure:
                if not decoder.content_started:
                    raise
                # After content the client already has part of the response, so end it with an error.
                logger.warning("channel %s stream broke after content: %s", target.channel_id, failure.kind)
                yield StreamError(failure.message, type="upstream_error", status=failure.status)
                return
            for event in self.decode_step(decoder.finish, target):
                yield event

    def _failure(
        self, status: int, body: bytes, target: UpstreamTarget, headers: dict[str, str] | None
    ) -> UpstreamFailure:
        """Classify an Anthropic error response (``{"type": "error", "error": {...}}``)."""
        error_type: str | None = None
        message = body.decode("utf-8", "replace")[:2000] or f"HTTP {status}"
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            error_type = payload["error"].get("type")
            message = str(payload["error"].get("message") or message)
        failure = self.http.failure_from_status(status, message, target, headers=headers, type=error_type)
        if status < 500 and error_type in ("overloaded_error", "api_error"):
            failure.kind = failure_kind(error_type)
        logger.info("claude channel %s responded with HTTP %s (%s)", target.channel_id, status, error_type)
        return failure
