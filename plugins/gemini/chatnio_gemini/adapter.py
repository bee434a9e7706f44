"""The ``gemini`` channel type: Gemini's ``generateContent`` through the host's upstream client.

The key is sent in the ``x-goog-api-key`` header, never as ``?key=`` in the URL, so it cannot
leak through logged or echoed URLs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import quote

from chatnio_host.channels.base import ChannelAdapter, UpstreamFailure, UpstreamTarget
from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, Event, ImagePart, StreamError
from chatnio_host.relay.fetch import inline_remote_images
from chatnio_host.relay.tool_schema import request_failure

from chatnio_gemini.request import build_generate_body
from chatnio_gemini.response import ResponseDecoder, failure_kind

__all__ = ["DEFAULT_ENDPOINT", "GeminiAdapter", "SETTINGS_SCHEMA", "model_url"]

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://generativelanguage.googleapis.com"

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_version": {
            "type": "string",
            "enum": ["v1beta", "v1"],
            "default": "v1beta",
            "description": "API version path segment.",
        },
        "safety_settings": {
            "type": "array",
            "items": {"type": "object"},
            "description": "Gemini safetySettings sent with every request, such as "
                           "[{\"category\": \"HARM_CATEGORY_HARASSMENT\", \"threshold\": \"BLOCK_NONE\"}].",
        },
    },
    "additionalProperties": False,
}


def model_url(endpoint: str, model: str, method: str, api_version: str = "v1beta") -> str:
    """Return ``<endpoint>/<version>/models/<model>:<method>`` without any key in it."""
    base = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    for suffix in ("/v1beta", "/v1"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    name = model.removeprefix("models/")
    return f"{base}/{api_version}/models/{quote(name, safe='-._~')}:{method}"


class GeminiAdapter(ChannelAdapter):
    """Sends canonical requests to Gemini and decodes its responses."""

    supports_tools: ClassVar[bool] = True
    supports_vision: ClassVar[bool] = True
    supports_model_list: ClassVar[bool] = True

    def headers(self, target: UpstreamTarget) -> dict[str, str]:
        """Return the request headers, with the key in ``x-goog-api-key``."""
        return {"x-goog-api-key": target.key, "content-type": "application/json"}

    async def chat(self, request: ChatRequest, target: UpstreamTarget) -> AsyncIterator[Event]:
        """Send ``request`` and yield canonical events, streaming when the client streams."""
        settings = target.settings or {}
        try:
            request = await self._inline_remote_images(request)
            body = build_generate_body(request)
        except InvalidRequest as error:
            raise request_failure(error) from error
        if settings.get("safety_settings") and "safetySettings" not in body:
            body["safetySettings"] = settings["safety_settings"]
        version = str(settings.get("api_version") or "v1beta")
        headers = self.headers(target)
        logger.debug("gemini request to channel %s model %s stream=%s", target.channel_id, target.model, request.stream)

        if not request.stream:
            url = model_url(target.endpoint, target.model, "generateContent", version)
            response = await self.http.request("POST", url, target, headers=headers, json=body)
            if response.status >= 400:
                raise self._failure(response.status, response.body, target, response.headers)
            decoder = ResponseDecoder()
            payload = response.json()
            if not isinstance(payload, dict):
                raise UpstreamFailure("invalid", "The upstream responded with JSON that is not an object.")
            for event in self.decode_step(lambda: decoder.feed(payload) + decoder.finish(), target):
                yield event
            return

        url = model_url(target.endpoint, target.model, "streamGenerateContent", version)
        async with self.http.stream("POST", url, target, headers=headers, json=body, params={"alt": "sse"}) as upstream:
            if upstream.status >= 400:
                raise self._failure(upstream.status, await upstream.read(), target, upstream.headers)
            decoder = ResponseDecoder()
            try:
                async for sse in upstream.events():
                    if not sse.data:
                        continue
                    chunk = self.parse_event(sse.data, target, content_started=decoder.content_started)
                    if chunk is None:
                        yield StreamError("The upstream sent an event that is not JSON.", type="upstream_error")
                        return
                    for event in self.decode_step(lambda: decoder.feed(chunk), target):
                        yield event
                    if decoder.errored:
                        return
                    if decoder.complete:
                        # Gemini has no end marker, and a vendor or proxy may hold the socket open.
                        break
            except UpstreamFailure as failure:
                if not decoder.content_started:
                    raise
                # After content the client already has part of the response, so end it with an error.
                logger.warning("channel %s stream broke after content: %s", target.channel_id, failure.kind)
                yield StreamError(failure.message, type="upstream_error", status=failure.status)
                return
            for event in self.decode_step(decoder.finish, target):
                yield event

    async def _inline_remote_images(self, request: ChatRequest) -> ChatRequest:
        """Return ``request`` with remote image URLs fetched and inlined, because Gemini does not fetch web URLs.

        The fetch refuses private and local addresses (see ``chatnio_host.relay.fetch``); Google
        Cloud Storage and Gemini file URLs stay as they are.
        """
        if not any(_is_remote(part) for message in request.messages for part in message.content):
            return request
        return await inline_remote_images(request, getattr(self.http, "settings", None))

    async def list_models(self, target: UpstreamTarget) -> list[str]:
        """Return the model ids the key may call (without the ``models/`` prefix)."""
        version = str((target.settings or {}).get("api_version") or "v1beta")
        base = model_url(target.endpoint, "x", "x", version).rsplit("/models/", 1)[0] + "/models"
        names: list[str] = []
        page_token: str | None = None
        for _page in range(20):
            params = {"pageSize": "1000"}
            if page_token:
                params["pageToken"] = page_token
            response = await self.http.request("GET", base, target, headers=self.headers(target), params=params)
            if response.status >= 400:
                raise self._failure(response.status, response.body, target, response.headers)
            payload = response.json()
            for model in payload.get("models") or []:
                methods = model.get("supportedGenerationMethods") or []
                if "generateContent" in methods and isinstance(model.get("name"), str):
                    names.append(model["name"].removeprefix("models/"))
            page_token = payload.get("nextPageToken")
            if not page_token:
                break
        return names

    def _failure(
        self, status: int, body: bytes, target: UpstreamTarget, headers: dict[str, str] | None
    ) -> UpstreamFailure:
        """Classify a Gemini error response (``{"error": {"code", "message", "status"}}``)."""
        rpc_status: str | None = None
        message = body.decode("utf-8", "replace")[:2000] or f"HTTP {status}"
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, list) and payload and isinstance(payload[0], dict):
            payload = payload[0]
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            rpc_status = payload["error"].get("status")
            message = str(payload["error"].get("message") or message)
        failure = self.http.failure_from_status(status, message, target, headers=headers, type=rpc_status)
        # Gemini answers 400 for a bad key (API_KEY_INVALID), which is a key problem, not the request's.
        if status == 400 and "API key" in message and rpc_status == "INVALID_ARGUMENT":
            failure.kind = "auth"
        elif status == 400 and rpc_status == "FAILED_PRECONDITION" and "location" in message:
            failure.kind = "not_found"
        elif failure.kind == "server" and rpc_status:
            failure.kind = failure_kind(rpc_status) if failure_kind(rpc_status) != "request" else "server"
        logger.info("gemini channel %s responded with HTTP %s (%s)", target.channel_id, status, rpc_status)
        return failure


def _is_remote(part: object) -> bool:
    return (isinstance(part, ImagePart) and part.data is None and bool(part.url)
            and not str(part.url).startswith(("gs://", "https://generativelanguage.googleapis.com/")))
