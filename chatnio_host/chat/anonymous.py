"""Chat for visitors who are not signed in: free models marked anonymous only, never stored."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from chatnio_host.chat.events import EventBuffer
from chatnio_host.chat.generation import GenerationJob
from chatnio_host.chat.router import stream_events
from chatnio_host.chat.schemas import ChatPreferences
from chatnio_host.deps import CtxDep
from chatnio_host.errors import PermissionDenied
from chatnio_host.relay.canonical import ChatRequest, Message, TextPart

__all__ = ["AnonymousCaller", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/chat/anonymous", tags=["chat"])

SessionKey = Annotated[str, Path(min_length=20, max_length=64, pattern=r"^anon-[A-Za-z0-9_-]+$")]


@dataclass
class AnonymousCaller:
    """The caller of an anonymous chat: no user, no key, the ``anonymous`` group."""

    user: None = None
    user_id: None = None
    api_key_id: None = None
    allowed_models: None = None
    group: str = "anonymous"
    is_admin: bool = False

    def allows_model(self, model: str) -> bool:
        """Return True: a guest has no key allow-list, so the model's price decides."""
        return True


class AnonymousTurn(BaseModel):
    """One earlier turn, kept by the browser because nothing is stored."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str = Field(..., max_length=200_000)


class AnonymousChat(BaseModel):
    """A logged-out visitor's conversation so far, ending with the new question."""

    model_config = ConfigDict(extra="forbid")

    messages: list[AnonymousTurn] = Field(..., min_length=1, max_length=200)
    model: str = Field(..., min_length=1, max_length=128)
    preferences: ChatPreferences = Field(default_factory=ChatPreferences)


@router.post("", responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream of typed events."}})
async def chat_anonymously(ctx: CtxDep, body: AnonymousChat) -> StreamingResponse:
    """Answer a logged-out visitor on a free model that allows anonymous use; nothing is saved."""
    billing = ctx.services.get("billing")
    price = await billing.price_for(body.model) if billing is not None else None
    if price is None or price.kind != "none" or not price.anonymous:
        raise PermissionDenied(f"Sign in to use model {body.model!r}.", param="model", code="login_required")

    turns = body.messages[-body.preferences.context_length:]
    request = ChatRequest(
        model=body.model,
        messages=[Message(role=turn.role, content=[TextPart(turn.content)]) for turn in turns],
        stream=True,
        max_tokens=body.preferences.max_tokens,
        temperature=body.preferences.temperature,
        top_p=body.preferences.top_p,
        top_k=body.preferences.top_k,
        presence_penalty=body.preferences.presence_penalty,
        frequency_penalty=body.preferences.frequency_penalty,
        include_usage=True,
        inbound_format="chat",
    )
    key = f"anon-{secrets.token_urlsafe(24)}"
    await EventBuffer(ctx.state, key).append("session", {"key": key})
    ctx.service("chat").start(GenerationJob(key=key, caller=AnonymousCaller(), request=request))  # type: ignore[arg-type]
    logger.info("anonymous generation %s started on %s", key, body.model)
    return stream_events(ctx, key, None)


@router.get("/{key}/events", responses={200: {"content": {"text/event-stream": {}}, "description": "SSE events."}})
async def anonymous_events(
    ctx: CtxDep,
    key: SessionKey,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[str | None, Query()] = None,
) -> StreamingResponse:
    """Resume an anonymous answer after ``Last-Event-ID``."""
    if not await EventBuffer(ctx.state, key).exists():
        from chatnio_host.errors import NotFound

        raise NotFound("This answer has expired or never existed.", param="key")
    return stream_events(ctx, key, last_event_id or after)


@router.post("/{key}/stop", status_code=202)
async def stop_anonymous(ctx: CtxDep, key: SessionKey) -> dict[str, str]:
    """Stop an anonymous answer."""
    await ctx.service("chat").stop(key)
    return {"status": "stopping"}
