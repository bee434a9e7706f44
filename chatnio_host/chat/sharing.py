"""Shares: snapshots of chosen messages behind unguessable ids, readable without signing in."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import delete, select

from chatnio_host.auth.deps import AdminUser, CurrentUser, JSONOnly
from chatnio_host.chat.conversations import conversation_public, get_owned, message_text, touch
from chatnio_host.chat.schemas import ConversationPublic, ShareCreate, SharePublic, ShareSummary
from chatnio_host.db.models.chat import ChatMessage, Conversation, Share
from chatnio_host.deps import CtxDep
from chatnio_host.errors import InvalidRequest, NotFound

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["shares"], dependencies=[JSONOnly])

ShareId = Annotated[str, Path(min_length=16, max_length=43, pattern=r"^[A-Za-z0-9_-]+$")]


def _snapshot(row: ChatMessage) -> dict:
    """Return what a share keeps of a message: no ids of users or conversations."""
    return {
        "role": row.role,
        "text": message_text(row.content or []),
        "content": [part for part in row.content or [] if part.get("type") in ("text", "image")],
        "reasoning": row.reasoning,
        "model": row.model,
        "created_at": row.created_at.isoformat(),
    }


def _summary(share: Share) -> ShareSummary:
    return ShareSummary(
        id=share.id, title=share.title, conversation_id=share.conversation_id,
        message_count=len(share.messages), created_at=share.created_at, url=f"/share/{share.id}",
    )


async def _get(ctx: CtxDep, share_id: str) -> Share:
    async with ctx.db.session() as session:
        share = await session.get(Share, share_id)
    if share is None:
        raise NotFound("This share does not exist or was deleted.", param="share_id")
    return share


@router.post("/shares", response_model=ShareSummary, status_code=201)
async def create_share(ctx: CtxDep, user: CurrentUser, body: ShareCreate) -> ShareSummary:
    """Share chosen messages of one of the caller's conversations as a snapshot."""
    async with ctx.db.transaction() as session:
        conversation = await get_owned(session, user.id, body.conversation_id)
        rows = list(
            await session.scalars(
                select(ChatMessage)
                .where(ChatMessage.conversation_id == conversation.id, ChatMessage.id.in_(body.message_ids))
                .order_by(ChatMessage.id)
            )
        )
        missing = sorted(set(body.message_ids) - {row.id for row in rows})
        if missing:
            raise InvalidRequest(
                f"Messages {missing} are not in conversation {conversation.id}.", param="message_ids"
            )
        share = Share(
            id=secrets.token_urlsafe(24), user_id=user.id, conversation_id=conversation.id,
            title=conversation.title, model=conversation.model, messages=[_snapshot(row) for row in rows],
        )
        session.add(share)
        await session.flush()
        summary = _summary(share)
    logger.info("user %s shared %d messages of conversation %s", user.id, len(rows), conversation.id)
    return summary


@router.get("/shares", response_model=list[ShareSummary])
async def read_my_shares(ctx: CtxDep, user: CurrentUser) -> list[ShareSummary]:
    """List the caller's shares, newest first."""
    async with ctx.db.session() as session:
        rows = await session.scalars(select(Share).where(Share.user_id == user.id).order_by(Share.created_at.desc()))
        return [_summary(row) for row in rows]


@router.get("/shares/{share_id}", response_model=SharePublic)
async def read_share(ctx: CtxDep, share_id: ShareId) -> SharePublic:
    """Return a share to anyone with its link."""
    share = await _get(ctx, share_id)
    return SharePublic(id=share.id, title=share.title, model=share.model, messages=share.messages,
                       created_at=share.created_at)


@router.delete("/shares/{share_id}", status_code=204)
async def delete_share(ctx: CtxDep, user: CurrentUser, share_id: ShareId) -> None:
    """Delete one of the caller's shares; another user's share gets 404."""
    async with ctx.db.transaction() as session:
        result = await session.execute(delete(Share).where(Share.id == share_id, Share.user_id == user.id))
    if result.rowcount == 0:
        raise NotFound("This share does not exist or was deleted.", param="share_id")


@router.post("/shares/{share_id}/fork", response_model=ConversationPublic, status_code=201)
async def fork_share(ctx: CtxDep, user: CurrentUser, share_id: ShareId) -> ConversationPublic:
    """Copy a share into a new conversation of the caller, to continue it."""
    share = await _get(ctx, share_id)
    async with ctx.db.transaction() as session:
        conversation = Conversation(user_id=user.id, title=share.title, model=share.model)
        session.add(conversation)
        await session.flush()
        for item in share.messages:
            content = item.get("content") or [{"type": "text", "text": item.get("text", "")}]
            session.add(ChatMessage(conversation_id=conversation.id, role=item["role"], content=content,
                                    reasoning=item.get("reasoning"), model=item.get("model")))
        await session.flush()
        await touch(session, conversation.id)
        await session.refresh(conversation)
        public = conversation_public(conversation)
    logger.info("user %s forked share %s into conversation %s", user.id, share_id, public.id)
    return public


@router.get("/admin/shares", response_model=list[ShareSummary], tags=["admin"])
async def read_all_shares(ctx: CtxDep, admin: AdminUser, user_id: int | None = None) -> list[ShareSummary]:
    """List every share (optionally one user's), newest first."""
    statement = select(Share).order_by(Share.created_at.desc()).limit(500)
    if user_id is not None:
        statement = statement.where(Share.user_id == user_id)
    async with ctx.db.session() as session:
        return [_summary(row) for row in await session.scalars(statement)]


@router.delete("/admin/shares/{share_id}", status_code=204, tags=["admin"])
async def delete_any_share(ctx: CtxDep, admin: AdminUser, share_id: ShareId) -> None:
    """Delete any share."""
    async with ctx.db.transaction() as session:
        result = await session.execute(delete(Share).where(Share.id == share_id))
    if result.rowcount == 0:
        raise NotFound("This share does not exist or was deleted.", param="share_id")
    logger.info("admin %s deleted share %s", admin.id, share_id)
