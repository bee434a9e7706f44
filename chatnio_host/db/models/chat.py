"""Web chat: conversations, messages, shares, presets, the model market and announcements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chatnio_host.db.base import Base, TimestampMixin
from chatnio_host.db.types import DateTimeUTC, utcnow

__all__ = ["Announcement", "ChatMessage", "Conversation", "MarketEntry", "Preset", "Share"]


class Conversation(TimestampMixin, Base):
    """A user's conversation; its messages are rows of ``chat_messages``."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_updated", "user_id", "updated_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    preset_id: Mapped[int | None] = mapped_column(Integer, default=None)
    message_count: Mapped[int] = mapped_column(Integer, default=0)


class ChatMessage(Base):
    """One turn of a conversation.

    ``content`` is a list of parts (``{"type": "text", "text": ...}``, ``{"type": "image",
    "url": ...}``, ``{"type": "file", "file_id": ...}``). An answer replaced by a regeneration stays
    with ``active`` false and ``alternative_of`` pointing at the answer that replaced it.
    ``status`` is ``complete``, ``streaming``, ``stopped`` or ``error``; an error is kept in
    ``error`` and never as assistant text.
    """

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reasoning: Mapped[str | None] = mapped_column(Text, default=None)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    sources: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    model: Mapped[str | None] = mapped_column(String(128), default=None)
    status: Mapped[str] = mapped_column(String(16), default="complete")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    """Stable code of ``error`` (such as ``insufficient_quota``), so the web app can translate it."""
    finish_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    points_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    subscription: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    alternative_of: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)


class Share(Base):
    """A snapshot of chosen messages behind an unguessable id, readable without signing in."""

    __tablename__ = "shares"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    title: Mapped[str] = mapped_column(String(255), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)


class Preset(TimestampMixin, Base):
    """A mask: context messages, a model and parameters that start a conversation."""

    __tablename__ = "presets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    avatar: Mapped[str] = mapped_column(String(512), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    model: Mapped[str | None] = mapped_column(String(128), default=None)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MarketEntry(TimestampMixin, Base):
    """A model shown in the model market, in admin-chosen order."""

    __tablename__ = "market_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    avatar: Mapped[str] = mapped_column(String(512), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    high_context: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Announcement(Base):
    """An announcement (shown once per change) or a notification, in Markdown."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), default="announcement")
    title: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)
