"""The Anthropic-format endpoints: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

Any channel type serves them: the body is decoded into a canonical request, the host's relay
runs it, and the canonical events are encoded back as Anthropic stream events or one message.
Every error, including authentication failures, uses Anthropic's error body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute

from chatnio_host.auth.deps import RelayCaller
from chatnio_host.errors import APIError, InvalidRequest
from chatnio_host.relay.canonical import StreamError
from chatnio_host.relay.estimate import estimate_prompt_tokens

from chatnio_claude.encode import MessageBuilder, MessageStreamEncoder, anthropic_error_type, error_body
from chatnio_claude.inbound import decode_messages_request

__all__ = ["AnthropicErrorRoute", "mount", "router"]

logger = logging.getLogger(__name__)


def error_response(error: APIError) -> JSONResponse:
    """Render ``error`` as Anthropic's error body with the same status."""
    body = error_body(error.message, anthropic_error_type(error.type, error.status))
    return JSONResponse(body, status_code=error.status, headers=error.headers or None)


class AnthropicErrorRoute(APIRoute):
    """A route whose ``APIError`` responses (from dependencies too) use Anthropic's error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except APIError as error:
                logger.info("anthropic-format request %s failed: %s %s", _request_id(request), error.status, error.type)
                return error_response(error)

        return handle


router = APIRouter(route_class=AnthropicErrorRoute, tags=["anthropic"])


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest("The request body is not valid JSON.") from exc


@router.post("/v1/messages", name="create_message")
async def create_message(request: Request, caller: RelayCaller) -> Response:
    """Create a message, streamed as Anthropic events when ``stream`` is true."""
    body = await _json_body(request)
    chat = decode_messages_request(body, beta=request.headers.get("anthropic-beta"))
    relay = request.app.state.ctx.services["relay"]
    request_id = _request_id(request)
    input_estimate = estimate_prompt_tokens(chat)
    result = await relay.run(caller, chat, request_id=request_id)

    if not chat.stream:
        builder = MessageBuilder(model=result.model)
        async for event in result.events:
            builder.add(event)
        if builder.error is not None:
            error = builder.error
            status = error.status if error.status and error.status >= 400 else 502
            body = error_body(error.message, anthropic_error_type(error.type, status))
            return JSONResponse(body, status_code=status)
        return JSONResponse(builder.build())

    encoder = MessageStreamEncoder(model=result.model, input_tokens=input_estimate)
    return StreamingResponse(
        _stream(encoder, result, request_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(encoder: MessageStreamEncoder, result: Any, request_id: str) -> AsyncIterator[bytes]:
    complete = False
    try:
        yield encoder.start()
        async for event in result.events:
            chunk = encoder.encode(event)
            if chunk:
                yield chunk
            if isinstance(event, StreamError):
                break
        tail = encoder.end()
        if tail:
            yield tail
        complete = True
    finally:
        if not complete:
            logger.info("anthropic-format stream %s closed before its end", request_id)
            await result.aclose()


@router.post("/v1/messages/count_tokens", name="count_message_tokens")
async def count_message_tokens(request: Request, caller: RelayCaller) -> Response:
    """Return an offline estimate of the input tokens of a Messages request."""
    body = await _json_body(request)
    chat = decode_messages_request(body, count_only=True)
    relay = request.app.state.ctx.services.get("relay")
    if relay is not None and hasattr(relay, "check_allowed"):
        model, _search = relay.resolve_model(chat.model)
        relay.check_allowed(caller, chat.model, model)
    return JSONResponse({"input_tokens": estimate_prompt_tokens(chat)})


def mount(app: FastAPI) -> None:
    """Add the Anthropic-format routes to ``app``."""
    app.include_router(router)

