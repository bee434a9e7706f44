"""The Gemini-format endpoints under ``/v1beta``.

``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent`` decode the body
into a canonical request, run it through the host's relay on any channel type, and encode the
events back as Gemini responses. ``GET /v1beta/models`` lists the models the caller may use.
Callers authenticate with ``x-goog-api-key`` or ``?key=``; access-log lines have ``key=``
values masked, and every error uses Google's error body.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute

from chatnio_host.auth.deps import RelayCaller
from chatnio_host.errors import APIError, InvalidRequest, NotFound
from chatnio_host.relay.canonical import StreamError
from chatnio_host.relay.estimate import estimate_prompt_tokens
from chatnio_host.relay.masking import mask_secret

from chatnio_gemini.encode import GenerateStreamEncoder, ResponseBuilder, error_body
from chatnio_gemini.inbound import decode_generate_request

__all__ = ["GoogleErrorRoute", "KeyMaskFilter", "mount", "router"]

logger = logging.getLogger(__name__)

_KEY_IN_QUERY = re.compile(r"([?&](?:key|api_key)=)([^&\s\"']*)")


def mask_query_keys(text: str) -> str:
    """Return ``text`` with every ``key=`` query value masked to its last four characters (``****abcd``)."""
    return _KEY_IN_QUERY.sub(lambda m: m.group(1) + mask_secret(m.group(2)) if m.group(2) else m.group(0), text)


class KeyMaskFilter(logging.Filter):
    """Masks ``key=`` query values in log records, such as uvicorn's access-log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask_query_keys(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str) and "key=" in record.msg:
            record.msg = mask_query_keys(record.msg)
        return True


class GoogleErrorRoute(APIRoute):
    """A route whose ``APIError`` responses (from dependencies too) use Google's error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except APIError as error:
                logger.info("gemini-format request %s failed: %s %s", _request_id(request), error.status, error.type)
                return JSONResponse(error_body(error.status, error.message), status_code=error.status,
                                    headers=error.headers or None)

        return handle


router = APIRouter(route_class=GoogleErrorRoute, tags=["gemini"])


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest("Invalid JSON payload received: the body is not valid JSON.") from exc


@router.post("/v1beta/models/{model}:generateContent", name="generate_content")
async def generate_content(model: str, request: Request, caller: RelayCaller) -> Response:
    """Generate a whole response."""
    chat = decode_generate_request(await _json_body(request), model, stream=False)
    result = await request.app.state.ctx.services["relay"].run(caller, chat, request_id=_request_id(request))
    builder = ResponseBuilder(model=result.model)
    async for event in result.events:
        builder.add(event)
    if builder.error is not None:
        status = builder.error.status if builder.error.status and builder.error.status >= 400 else 502
        return JSONResponse(error_body(status, builder.error.message), status_code=status)
    return JSONResponse(builder.build())


@router.post("/v1beta/models/{model}:streamGenerateContent", name="stream_generate_content")
async def stream_generate_content(model: str, request: Request, caller: RelayCaller) -> Response:
    """Stream a response as server-sent events (``alt=sse``) or as one JSON array."""
    chat = decode_generate_request(await _json_body(request), model, stream=True)
    request_id = _request_id(request)
    result = await request.app.state.ctx.services["relay"].run(caller, chat, request_id=request_id)
    encoder = GenerateStreamEncoder(model=result.model)
    if request.query_params.get("alt") != "sse":
        return StreamingResponse(_json_array(encoder, result, request_id), media_type="application/json")
    return StreamingResponse(_sse(encoder, result, request_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _sse(encoder: GenerateStreamEncoder, result: Any, request_id: str) -> AsyncIterator[bytes]:
    complete = False
    try:
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
            logger.info("gemini-format stream %s closed before its end", request_id)
            await result.aclose()


async def _json_array(encoder: GenerateStreamEncoder, result: Any, request_id: str) -> AsyncIterator[bytes]:
    """Yield the stream as Gemini's default framing without ``alt=sse``: a JSON array of responses."""
    first = True
    async for chunk in _sse(encoder, result, request_id):
        for piece in chunk.split(b"\r\n\r\n"):
            if not piece.startswith(b"data: "):
                continue
            yield (b"[" if first else b",\r\n") + piece[len(b"data: "):]
            first = False
    yield b"[]" if first else b"]"


@router.post("/v1beta/models/{model}:countTokens", name="count_tokens")
async def count_tokens(model: str, request: Request, caller: RelayCaller) -> Response:
    """Return an offline estimate of the prompt tokens."""
    body = await _json_body(request)
    if isinstance(body, dict) and isinstance(body.get("generateContentRequest"), dict):
        body = body["generateContentRequest"]
    chat = decode_generate_request(body, model, stream=False)
    return JSONResponse({"totalTokens": estimate_prompt_tokens(chat)})


def _model_entry(name: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "description": f"{name} served through this gateway.",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    }


async def _visible_models(request: Request, caller: Any) -> list[str]:
    relay = request.app.state.ctx.services["relay"]
    return sorted(await relay.visible_models(caller))


@router.get("/v1beta/models", name="list_models")
async def list_models(request: Request, caller: RelayCaller) -> Response:
    """List the models this caller may use, in Gemini's ``ListModelsResponse`` shape."""
    return JSONResponse({"models": [_model_entry(name) for name in await _visible_models(request, caller)]})


@router.get("/v1beta/models/{model}", name="get_model")
async def get_model(model: str, request: Request, caller: RelayCaller) -> Response:
    """Return one model the caller may use."""
    name = model.removeprefix("models/")
    if name not in await _visible_models(request, caller):
        raise NotFound(f"models/{name} is not found for this API key; call GET /v1beta/models to list models.")
    return JSONResponse(_model_entry(name))


def mount(app: FastAPI) -> None:
    """Add the Gemini-format routes to ``app`` and mask ``key=`` values in access logs."""
    app.include_router(router)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, KeyMaskFilter) for existing in access.filters):
        access.addFilter(KeyMaskFilter())
