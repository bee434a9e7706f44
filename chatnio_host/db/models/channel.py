"""Channels (upstream vendor accounts) and the state of each of their keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chatnio_host.db.base import Base, TimestampMixin
from chatnio_host.db.types import DateTimeUTC

__all__ = ["Channel", "ChannelKey"]


class Channel(TimestampMixin, Base):
    """One upstream account the relay sends requests to."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    """A channel type registered by a plugin (``openai``, ``azure``...)."""
    endpoint: Mapped[str] = mapped_column(String(1024), default="")
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    mapping: Mapped[str] = mapped_column(Text, default="")
    """Mapping lines ``from>to`` and ``!from>to``, checked for cycles when saved."""
    priority: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    retry: Mapped[int] = mapped_column(Integer, default=1)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    """User groups this channel serves; empty serves every group."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    proxy: Mapped[str | None] = mapped_column(String(1024), default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Type-specific settings, valid against the type's JSON Schema when saved."""
    last_test_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean, default=None)
    last_test_latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    last_test_message: Mapped[str | None] = mapped_column(Text, default=None)

    keys: Mapped[list[ChannelKey]] = relationship(
        back_populates="channel",
        order_by="ChannelKey.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ChannelKey(TimestampMixin, Base):
    """One vendor key of a channel, encrypted, with its own enabled flag and last error."""

    __tablename__ = "channel_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    """Index of the key among the channel's key lines, from 0."""
    secret: Mapped[str] = mapped_column(Text)
    """The key encrypted with Fernet (``chatnio_host.channels.crypto``)."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cooldown_until: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)
    """End of the last rate-limit cooldown; the shared state holds the live value."""
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)

    channel: Mapped[Channel] = relationship(back_populates="keys")
