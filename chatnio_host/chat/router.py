"""HTTP API of the web chat: conversations, sending, streaming, resuming and message actions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select, update

from chatnio_host.auth.deps import CurrentUser, JSONOnly
from chatnio_host.chat.context import build_request, stored_user_content
from chatnio_host.chat.conversations import (
    conversation_public,
    delete_all,
    delete_one,
    get_owned,
    list_conversations,
    load_context,
    message_public,
    messages_page,
    title_from,
    touch,
)
from chatnio_host.chat.events import EventBuffer, encode_sse
from chatnio_host.chat.generation import GenerationJob
from chatnio_host.chat.schemas import (
    ChatPreferences,
    ConversationPublic,
    ConversationsPublic,
    ConversationUpdate,
    ConversationWithMessages,
    ForkRequest,
    MessageEdit,
    MessagePublic,
    MessagesPage,
    SendMessage,
)
from chatnio_host.db.models.chat import ChatMessage, Conversation, Preset
from chatnio_host.db.models.user import User
from chatnio_host.deps import CtxDep
from chatnio_host.errors import Conflict, InvalidRequest, NotFound

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["chat"], dependencies=[JSONOnly])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _owned_message(ctx: Any, user: User, message_id: int) -> tuple[ChatMessage, Conversation]:
    async with ctx.db.session() as session:
        row = (
            await session.execute(
                select(ChatMessage, Conversation)
                .join(Conversation, Conversation.id == ChatMessage.conversation_id)
                .where(ChatMessage.id == message_id, Conversation.user_id == user.id)
            )
        ).first()
    if row is None:
        raise NotFound(f"Message {message_id} was not found.", param="message_id")
    return row[0], row[1]


def stream_events(ctx: Any, key: str | int, after: str | None) -> StreamingResponse:
    """Stream the buffered events of generation ``key`` after event id ``after``."""
    buffer = EventBuffer(ctx.state, str(key))

    async def body() -> AsyncIterator[bytes]:
        async for event_id, event_type, data in buffer.read(after):
            if event_type == "ping":
                yield b": ping\n\n"
                continue
            yield encode_sse(event_id, event_type, data)

    return StreamingResponse(body(), media_type="text/event-stream", headers=SSE_HEADERS)


async def _start_answer(
    ctx: Any,
    user: User,
    conversation: Conversation,
    *,
    model: str,
    preferences: ChatPreferences,
    search: bool,
    up_to: int | None,
    alternative_of: int | None = None,
    continue_text: str | None = None,
    hide_after: int | None = None,
    first_events: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
) -> StreamingResponse:
    """Store an empty assistant message, start its generation, and stream its events."""
    async with ctx.db.transaction() as session:
        history = await load_context(session, conversation.id, up_to=up_to, limit=preferences.context_length)
        if alternative_of is not None:
            await session.execute(update(ChatMessage).where(ChatMessage.id == alternative_of).values(active=False))
        if hide_after is not None:
            # Answering again from an earlier point starts a new branch: later turns are kept
            # as inactive rows but leave the conversation.
            await session.execute(
                update(ChatMessage)
                .where(ChatMessage.conversation_id == conversation.id, ChatMessage.id > hide_after,
                       ChatMessage.active.is_(True))
                .values(active=False)
            )
        answer = ChatMessage(
            conversation_id=conversation.id, role="assistant", content=[], model=model, status="streaming",
            alternative_of=None,
        )
        session.add(answer)
        await session.flush()
        if alternative_of is not None:
            await session.execute(
                update(ChatMessage).where(ChatMessage.id == alternative_of).values(alternative_of=answer.id)
            )
        answer_id = answer.id

    request = await build_request(ctx, user, history, model=model, preferences=preferences, continue_text=continue_text)
    caller = await ctx.service("auth").caller_for_user(user)
    buffer = EventBuffer(ctx.state, str(answer_id))
    for event_type, data in first_events:
        await buffer.append(event_type, data)
    await buffer.append("message", {"id": answer_id, "conversation_id": conversation.id, "role": "assistant"})
    ctx.service("chat").start(
        GenerationJob(key=str(answer_id), message_id=answer_id, conversation_id=conversation.id, caller=caller,
                      request=request, search=search)
    )
    return stream_events(ctx, answer_id, None)


@router.get("/conversations", response_model=ConversationsPublic)
async def read_conversations(
    ctx: CtxDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 30,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> ConversationsPublic:
    """List the caller's conversations, newest first, optionally filtered by title."""
    async with ctx.db.session() as session:
        rows, total = await list_conversations(session, user.id, page=page, size=size, query=q)
    return ConversationsPublic(data=[conversation_public(row) for row in rows], total=total, page=page, size=size)


@router.get("/conversations/{conversation_id}", response_model=ConversationWithMessages)
async def read_conversation(
    ctx: CtxDep,
    user: CurrentUser,
    conversation_id: int,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationWithMessages:
    """Return a conversation with its last page of messages."""
    async with ctx.db.session() as session:
        conversation = await get_owned(session, user.id, conversation_id)
        rows, cursor = await messages_page(session, user.id, conversation_id, before=None, limit=limit)
    return ConversationWithMessages(
        **conversation_public(conversation).model_dump(), messages=[message_public(row) for row in rows], before=cursor
    )


@router.get("/conversations/{conversation_id}/messages", response_model=MessagesPage)
async def read_messages(
    ctx: CtxDep,
    user: CurrentUser,
    conversation_id: int,
    before: Annotated[int | None, Query(ge=1, description="Return messages older than this message id.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagesPage:
    """Return a page of messages, oldest first, ending before ``before`` (the newest page when unset)."""
    async with ctx.db.session() as session:
        rows, cursor = await messages_page(session, user.id, conversation_id, before=before, limit=limit)
        if not rows and before is None:
            await get_owned(session, user.id, conversation_id)
    return MessagesPage(messages=[message_public(row) for row in rows], before=cursor)


@router.patch("/conversations/{conversation_id}", response_model=ConversationPublic)
async def update_conversation(
    ctx: CtxDep, user: CurrentUser, conversation_id: int, body: ConversationUpdate
) -> ConversationPublic:
    """Rename a conversation or change its model."""
    async with ctx.db.transaction() as session:
        conversation = await get_owned(session, user.id, conversation_id)
        if body.title is not None:
            conversation.title = body.title.strip() or conversation.title
        if body.model is not None:
            conversation.model = body.model
        await session.flush()
        public = conversation_public(conversation)
    return public


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(ctx: CtxDep, user: CurrentUser, conversation_id: int) -> None:
    """Delete one conversation."""
    async with ctx.db.transaction() as session:
        await delete_one(session, user.id, conversation_id)
    logger.info("user %s deleted conversation %s", user.id, conversation_id)


@router.delete("/conversations", status_code=200)
async def delete_conversations(ctx: CtxDep, user: CurrentUser) -> dict[str, int]:
    """Delete all of the caller's conversations."""
    async with ctx.db.transaction() as session:
        count = await delete_all(session, user.id)
    return {"deleted": count}


@router.post(
    "/conversations/{conversation_id}/messages",
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream of typed events."}},
)
async def send_message(ctx: CtxDep, user: CurrentUser, conversation_id: str, body: SendMessage) -> StreamingResponse:
    """Add a user message (``new`` starts a conversation) and stream the answer as SSE events."""
    if not body.text.strip() and not body.file_ids and not body.images:
        raise InvalidRequest("The message is empty: write some text or attach a file.", param="text")
    if conversation_id != "new" and not conversation_id.isdigit():
        raise InvalidRequest("The conversation id must be a number or 'new'.", param="conversation_id")

    content = await stored_user_content(ctx, user, body)
    first_events: list[tuple[str, dict[str, Any]]] = []
    async with ctx.db.transaction() as session:
        if conversation_id == "new":
            conversation = Conversation(user_id=user.id, title=title_from(body.text), model=body.model,
                                        preset_id=body.preset_id)
            session.add(conversation)
            await session.flush()
            await _add_preset_context(session, user, conversation, body.preset_id)
            first_events.append(("conversation", {"id": conversation.id, "title": conversation.title}))
        else:
            conversation = await get_owned(session, user.id, int(conversation_id))
        question = ChatMessage(conversation_id=conversation.id, role="user", content=content, model=body.model)
        session.add(question)
        await session.flush()
        await touch(session, conversation.id, model=body.model)
        first_events.append(("user_message", {"id": question.id}))
        question_id = question.id

    return await _start_answer(
        ctx, user, conversation, model=body.model, preferences=body.preferences, search=body.search,
        up_to=question_id, first_events=first_events,
    )


async def _add_preset_context(session: Any, user: User, conversation: Conversation, preset_id: int | None) -> None:
    if preset_id is None:
        return
    preset = await session.scalar(select(Preset).where(Preset.id == preset_id, Preset.user_id == user.id))
    if preset is None:
        raise NotFound(f"Preset {preset_id} was not found.", param="preset_id")
    for item in preset.context:
        session.add(ChatMessage(conversation_id=conversation.id, role=item["role"],
                                content=[{"type": "text", "text": item.get("content", "")}]))


@router.get(
    "/messages/{message_id}/events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream of typed events."}},
)
async def message_events(
    ctx: CtxDep,
    user: CurrentUser,
    message_id: int,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[str | None, Query(description="Same as the Last-Event-ID header.")] = None,
) -> StreamingResponse:
    """Stream a message's events after ``Last-Event-ID`` (all of them without it)."""
    message, _conversation = await _owned_message(ctx, user, message_id)
    buffer = EventBuffer(ctx.state, str(message_id))
    if not await buffer.exists():
        await buffer.append("done", {"status": message.status, "message": message_public(message).model_dump(mode="json")})
    return stream_events(ctx, message_id, last_event_id or after)


@router.post("/messages/{message_id}/stop", response_model=MessagePublic)
async def stop_message(ctx: CtxDep, user: CurrentUser, message_id: int) -> MessagePublic:
    """Stop a generation; the partial answer is kept and what was delivered is charged."""
    message, _conversation = await _owned_message(ctx, user, message_id)
    if message.status == "streaming":
        chat = ctx.service("chat")
        await chat.stop(message_id)
        await chat.wait(message_id)
    message, _conversation = await _owned_message(ctx, user, message_id)
    return message_public(message)


@router.post("/messages/{message_id}/regenerate")
async def regenerate_message(
    ctx: CtxDep, user: CurrentUser, message_id: int, body: MessageEdit | None = None
) -> StreamingResponse:
    """Answer again in place of the assistant message ``message_id``, keeping the old answer."""
    message, conversation = await _owned_message(ctx, user, message_id)
    if message.role != "assistant":
        raise InvalidRequest("Only an assistant message can be regenerated.", param="message_id")
    if message.status == "streaming":
        raise Conflict("This answer is still being generated; stop it first.")
    preferences = body.preferences if body else ChatPreferences()
    model = (body.model if body and body.model else None) or message.model or conversation.model
    return await _start_answer(
        ctx, user, conversation, model=model, preferences=preferences, search=False, up_to=message_id - 1,
        alternative_of=message_id, hide_after=message_id,
    )


@router.post("/messages/{message_id}/continue")
async def continue_message(ctx: CtxDep, user: CurrentUser, message_id: int) -> StreamingResponse:
    """Continue a cut-off answer as a new assistant message that follows it."""
    message, conversation = await _owned_message(ctx, user, message_id)
    if message.role != "assistant" or message.status not in ("complete", "stopped"):
        raise InvalidRequest("Only a finished or stopped assistant answer can be continued.", param="message_id")
    model = message.model or conversation.model
    return await _start_answer(
        ctx, user, conversation, model=model, preferences=ChatPreferences(), search=False, up_to=message_id,
        continue_text="Continue exactly where your previous answer stopped, without repeating it.",
    )


@router.patch("/messages/{message_id}")
async def edit_message(ctx: CtxDep, user: CurrentUser, message_id: int, body: MessageEdit) -> Any:
    """Change a message's text; with ``regenerate`` a user message gets a new answer."""
    message, conversation = await _owned_message(ctx, user, message_id)
    if message.status == "streaming":
        raise Conflict("This answer is still being generated; stop it first.")
    async with ctx.db.transaction() as session:
        row = await session.get(ChatMessage, message_id)
        others = [part for part in row.content or [] if part.get("type") != "text"]
        row.content = [{"type": "text", "text": body.text}, *others]
        await session.flush()
        public = message_public(row)
    if not body.regenerate:
        return public
    if message.role != "user":
        raise InvalidRequest("Only a user message can be answered again after an edit.", param="regenerate")
    return await _start_answer(
        ctx, user, conversation, model=body.model or conversation.model, preferences=body.preferences,
        search=False, up_to=message_id, hide_after=message_id,
    )


@router.delete("/messages/{message_id}", status_code=204)
async def delete_message(ctx: CtxDep, user: CurrentUser, message_id: int) -> None:
    """Delete one message."""
    message, conversation = await _owned_message(ctx, user, message_id)
    if message.status == "streaming":
        raise Conflict("This answer is still being generated; stop it first.")
    async with ctx.db.transaction() as session:
        row = await session.get(ChatMessage, message_id)
        await session.delete(row)
        await session.flush()
        await touch(session, conversation.id)


@router.post("/conversations/{conversation_id}/fork", response_model=ConversationPublic)
async def fork_conversation(ctx: CtxDep, user: CurrentUser, conversation_id: int, body: ForkRequest) -> ConversationPublic:
    """Copy a conversation up to and including ``message_id`` into a new conversation."""
    async with ctx.db.transaction() as session:
        source = await get_owned(session, user.id, conversation_id)
        rows = list(
            await session.scalars(
                select(ChatMessage)
                .where(ChatMessage.conversation_id == source.id, ChatMessage.active.is_(True),
                       ChatMessage.id <= body.message_id)
                .order_by(ChatMessage.id)
            )
        )
        if not rows or rows[-1].id != body.message_id:
            raise NotFound(f"Message {body.message_id} is not in conversation {conversation_id}.", param="message_id")
        fork = Conversation(user_id=user.id, title=source.title, model=source.model)
        session.add(fork)
        await session.flush()
        for row in rows:
            session.add(_copy_message(row, fork.id))
        await session.flush()
        await touch(session, fork.id)
        await session.refresh(fork)
        public = conversation_public(fork)
    return public


def _copy_message(row: ChatMessage, conversation_id: int) -> ChatMessage:
    return ChatMessage(
        conversation_id=conversation_id, role=row.role, content=list(row.content or []), reasoning=row.reasoning,
        tool_calls=row.tool_calls, sources=row.sources, model=row.model, status=row.status, error=row.error,
        finish_reason=row.finish_reason, input_tokens=row.input_tokens, output_tokens=row.output_tokens,
    )


@router.get("/messages/{message_id}/alternatives", response_model=list[MessagePublic])
async def read_alternatives(ctx: CtxDep, user: CurrentUser, message_id: int) -> list[MessagePublic]:
    """Return the earlier answers that ``message_id`` replaced, newest first."""
    await _owned_message(ctx, user, message_id)
    found: list[MessagePublic] = []
    async with ctx.db.session() as session:
        current = message_id
        for _ in range(100):
            row = await session.scalar(select(ChatMessage).where(ChatMessage.alternative_of == current))
            if row is None:
                break
            found.append(message_public(row))
            current = row.id
    return found
