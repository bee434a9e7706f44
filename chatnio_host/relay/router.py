"""The OpenAI-compatible endpoints under ``/v1``: chat completions, models, embeddings, images."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from chatnio_host.auth.deps import RelayCaller
from chatnio_host.deps import CtxDep
from chatnio_host.errors import InvalidRequest, NotFound, PermissionDenied, UpstreamError
from chatnio_host.site.general import GENERAL_SECTION, GeneralSettings
from chatnio_host.relay.canonical import StreamError
from chatnio_host.relay.openai_format import (
    OpenAIResponseBuilder,
    OpenAIStreamEncoder,
    decode_chat_request,
    parse_json_body,
)
from chatnio_host.relay.service import RelayResult, RelayService

__all__ = ["RelayStreamingResponse", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["relay"])

Result = TypeVar("Result")

CLIENT_CLOSED_STATUS = 499
"""Logged status of a response nobody receives because the client left (nginx's convention)."""

DEFAULT_IMAGE_MODEL = "dall-e-2"
"""OpenAI's default when an image generation body names no model."""


def _relay(ctx: Any) -> RelayService:
    return ctx.services["relay"]


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or secrets.token_hex(12)


class RelayStreamingResponse(StreamingResponse):
    """An SSE response that closes the relay result however the response ends.

    It watches for the client's disconnect while the upstream is silent, and on any end (normal,
    failed send, disconnect) closes the result, which cancels the upstream call and settles.
    """

    def __init__(self, result: RelayResult, encoder: OpenAIStreamEncoder) -> None:
        self.result = result
        self.encoder = encoder
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(self._body(), media_type="text/event-stream", headers=headers)

    async def _body(self) -> AsyncIterator[bytes]:
        async for event in self.result.events:
            chunk = self.encoder.encode(event)
            if chunk:
                yield chunk
            if isinstance(event, StreamError):
                return
        tail = self.encoder.close()
        if tail:
            yield tail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = False
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    try:
                        await self.stream_response(send)
                    except OSError:
                        logger.info("request %s: the client closed the connection", self.result.request_id)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                disconnected = True
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                if disconnected:
                    logger.info("request %s: client disconnected; closing the upstream call", self.result.request_id)
                await self.body_iterator.aclose()  # type: ignore[attr-defined]
                await self.result.aclose()


class ClientGone(Exception):
    """The client closed the connection before the response started."""


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _unless_client_leaves(request: Request, work: Awaitable[Result]) -> Result:
    """Await ``work``, cancelling it when the client disconnects first (then raise ``ClientGone``).

    The request body must already be read, so the only message left to receive is the disconnect.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.create_task(_wait_for_disconnect(request))
    try:
        done, _pending = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise ClientGone


async def require_relay_open(ctx: CtxDep) -> None:
    """Refuse relay work while the site's ``relay_closed`` switch is on (model lists still answer)."""
    general = await ctx.site.get(GENERAL_SECTION, GeneralSettings)
    if general.relay_closed:
        raise PermissionDenied("The relay API of this site is closed by its administrator.", code="relay_closed")


RelayOpen = Depends(require_relay_open)


@router.post("/chat/completions", dependencies=[RelayOpen])
async def chat_completions(request: Request, caller: RelayCaller, ctx: CtxDep) -> Response:
    """Create a chat completion, streamed as server-sent events or as one JSON body."""
    body = parse_json_body(await request.body())
    chat = decode_chat_request(body)
    request_id = _request_id(request)
    response_id = f"chatcmpl-{request_id}"
    created = int(ctx.clock.now().timestamp())

    if chat.stream:
        try:
            result = await _unless_client_leaves(request, _relay(ctx).run(caller, chat, request_id=request_id))
        except ClientGone:
            logger.info("request %s: the client left before the first content; upstream call cancelled", request_id)
            return Response(status_code=CLIENT_CLOSED_STATUS)
        encoder = OpenAIStreamEncoder(
            model=result.model, response_id=response_id, created=created, include_usage=chat.include_usage
        )
        return RelayStreamingResponse(result, encoder)

    async def complete() -> OpenAIResponseBuilder:
        result = await _relay(ctx).run(caller, chat, request_id=request_id)
        builder = OpenAIResponseBuilder(model=result.model, response_id=response_id, created=created)
        try:
            async for event in result.events:
                builder.add(event)
        finally:
            await result.aclose()
        return builder

    try:
        builder = await _unless_client_leaves(request, complete())
    except ClientGone:
        logger.info("request %s: the client left before the answer was complete; upstream call cancelled", request_id)
        return Response(status_code=CLIENT_CLOSED_STATUS)
    if builder.error is not None:
        error = UpstreamError(builder.error.message)
        return JSONResponse(error.body(), status_code=error.status)
    return JSONResponse(builder.body())


def _model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "chatnio"}


@router.get("/models")
async def list_models(caller: RelayCaller, ctx: CtxDep) -> dict[str, Any]:
    """List the models this key may use."""
    models = await _relay(ctx).visible_models(caller)
    return {"object": "list", "data": [_model_object(model) for model in models]}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, caller: RelayCaller, ctx: CtxDep) -> dict[str, Any]:
    """Return one model when this key may use it; 404 otherwise."""
    models = await _relay(ctx).visible_models(caller)
    if model_id not in models:
        raise NotFound(f"The model {model_id!r} does not exist or this key may not use it.", param="model")
    return _model_object(model_id)


def _require_model(body: dict[str, Any], default: str | None = None) -> str:
    model = body.get("model", default)
    if model is None:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("Invalid value for 'model': expected a non-empty string.", param="model")
    return model.strip()


@router.post("/embeddings", dependencies=[RelayOpen])
async def create_embeddings(request: Request, caller: RelayCaller, ctx: CtxDep) -> dict[str, Any]:
    """Create embeddings through a channel that serves the model."""
    body = parse_json_body(await request.body())
    body["model"] = _require_model(body)
    value = body.get("input")
    if value is None:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    if not isinstance(value, (str, list)) or (isinstance(value, list) and not value):
        raise InvalidRequest(
            "Invalid value for 'input': expected a string or a non-empty array of strings or token ids.", param="input"
        )
    return await _relay(ctx).run_json(caller, "embeddings", body, request_id=_request_id(request))


@router.post("/images/generations", dependencies=[RelayOpen])
async def create_images(request: Request, caller: RelayCaller, ctx: CtxDep) -> dict[str, Any]:
    """Generate images through a channel that serves the model."""
    body = parse_json_body(await request.body())
    body["model"] = _require_model(body, DEFAULT_IMAGE_MODEL)
    prompt = body.get("prompt")
    if prompt is None:
        raise InvalidRequest("Missing required parameter: 'prompt'.", param="prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("Invalid value for 'prompt': expected a non-empty string.", param="prompt")
    return await _relay(ctx).run_json(caller, "images", body, request_id=_request_id(request))
