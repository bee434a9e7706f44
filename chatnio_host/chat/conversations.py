"""Conversations and their messages in the database, always scoped to their owner."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatnio_host.billing.money import points_json
from chatnio_host.chat.schemas import ConversationPublic, MessagePublic
from chatnio_host.db.models.chat import ChatMessage, Conversation
from chatnio_host.db.types import utcnow
from chatnio_host.errors import NotFound

__all__ = [
    "TITLE_LENGTH",
    "conversation_public",
    "get_owned",
    "list_conversations",
    "load_context",
    "message_public",
    "message_text",
    "messages_page",
    "title_from",
]

logger = logging.getLogger(__name__)

TITLE_LENGTH = 50
"""A new conversation's title is the first 50 characters of its first message."""


def title_from(text: str) -> str:
    """Return a title for a conversation whose first message is ``text``."""
    line = " ".join(text.split())
    if not line:
        return "New chat"
    return line if len(line) <= TITLE_LENGTH else line[:TITLE_LENGTH] + "..."


def message_text(content: list[dict[str, Any]]) -> str:
    """Return the text parts of stored content, joined."""
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def message_public(message: ChatMessage) -> MessagePublic:
    """Return the API view of a stored message."""
    return MessagePublic(
        id=message.id,
        conversation_id=message.conversation_id,
        role=message.role,
        content=message.content or [],
        text=message_text(message.content or []),
        reasoning=message.reasoning,
        tool_calls=message.tool_calls,
        sources=message.sources,
        model=message.model,
        status=message.status,
        error=message.error,
        error_code=message.error_code,
        finish_reason=message.finish_reason,
        input_tokens=message.input_tokens,
        output_tokens=message.output_tokens,
        points=points_json(message.points_micro),
        subscription=message.subscription,
        active=message.active,
        alternative_of=message.alternative_of,
        created_at=message.created_at,
    )


def conversation_public(conversation: Conversation) -> ConversationPublic:
    """Return the API view of a conversation."""
    return ConversationPublic(
        id=conversation.id,
        title=conversation.title,
        model=conversation.model,
        message_count=conversation.message_count,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


async def get_owned(session: AsyncSession, user_id: int, conversation_id: int) -> Conversation:
    """Return the user's conversation; another user's answers 404 like a missing one."""
    conversation = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    )
    if conversation is None:
        raise NotFound(f"Conversation {conversation_id} was not found.", param="conversation_id")
    return conversation


async def list_conversations(
    session: AsyncSession, user_id: int, *, page: int, size: int, query: str | None
) -> tuple[list[Conversation], int]:
    """Return one page of the user's conversations, newest first, and the total count."""
    condition = [Conversation.user_id == user_id]
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition.append(Conversation.title.ilike(f"%{escaped}%", escape="\\"))
    total = await session.scalar(select(func.count()).select_from(Conversation).where(*condition))
    rows = await session.scalars(
        select(Conversation)
        .where(*condition)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return list(rows), int(total or 0)


async def messages_page(
    session: AsyncSession, user_id: int, conversation_id: int, *, before: int | None, limit: int
) -> tuple[list[ChatMessage], int | None]:
    """Return active messages before id ``before`` (the last page when None), oldest first.

    One query: the join checks ownership, and one extra row tells whether an earlier page exists.
    """
    statement = (
        select(ChatMessage)
        .join(Conversation, Conversation.id == ChatMessage.conversation_id)
        .where(
            ChatMessage.conversation_id == conversation_id,
            Conversation.user_id == user_id,
            ChatMessage.active.is_(True),
        )
        .order_by(ChatMessage.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        statement = statement.where(ChatMessage.id < before)
    rows = list(await session.scalars(statement))
    has_more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    cursor = rows[0].id if has_more and rows else None
    return rows, cursor


async def load_context(session: AsyncSession, conversation_id: int, *, up_to: int | None, limit: int) -> list[ChatMessage]:
    """Return the last ``limit`` complete or stopped messages up to id ``up_to``, oldest first.

    Failed answers are left out, so an error never reaches the model as if it had said it.
    """
    statement = (
        select(ChatMessage)
        .where(
            ChatMessage.conversation_id == conversation_id,
            ChatMessage.active.is_(True),
            ChatMessage.status.in_(("complete", "stopped")),
        )
        .order_by(ChatMessage.id.desc())
        .limit(limit)
    )
    if up_to is not None:
        statement = statement.where(ChatMessage.id <= up_to)
    rows = list(await session.scalars(statement))
    rows.reverse()
    return rows


async def touch(session: AsyncSession, conversation_id: int, *, model: str | None = None) -> None:
    """Mark the conversation changed, recount its messages and record the model it now uses."""
    count = await session.scalar(
        select(func.count()).select_from(ChatMessage).where(
            ChatMessage.conversation_id == conversation_id, ChatMessage.active.is_(True)
        )
    )
    values: dict[str, Any] = {"updated_at": utcnow(), "message_count": int(count or 0)}
    if model:
        values["model"] = model
    await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))


async def delete_all(session: AsyncSession, user_id: int) -> int:
    """Delete every conversation of the user with its messages; return how many."""
    ids = list(await session.scalars(select(Conversation.id).where(Conversation.user_id == user_id)))
    if ids:
        await session.execute(delete(ChatMessage).where(ChatMessage.conversation_id.in_(ids)))
        await session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
    logger.info("user %s deleted all %d conversations", user_id, len(ids))
    return len(ids)


async def delete_one(session: AsyncSession, user_id: int, conversation_id: int) -> None:
    """Delete one conversation of the user with its messages."""
    conversation = await get_owned(session, user_id, conversation_id)
    await session.execute(delete(ChatMessage).where(ChatMessage.conversation_id == conversation.id))
    await session.delete(conversation)
