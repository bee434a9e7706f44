"""Tables of the auth concept: API keys and emailed verification codes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chatnio_host.db.base import Base, TimestampMixin
from chatnio_host.db.types import DateTimeUTC

__all__ = ["ApiKey", "EmailCode"]


class ApiKey(TimestampMixin, Base):
    """A named relay key of one user. Only the SHA-256 hash and the last 4 characters are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """Hex SHA-256 of the full key."""
    last4: Mapped[str] = mapped_column(String(4))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    """Model names this key may call; None allows every model."""
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)


class EmailCode(Base):
    """A 6-digit code mailed for one purpose (``register`` or ``reset``); usable once.

    Only the SHA-256 hash of the code is stored. Issuing a new code for the same address and
    purpose deletes the older ones, so only the newest code works.
    """

    __tablename__ = "email_codes"
    __table_args__ = (Index("ix_email_codes_email_purpose", "email", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(255))
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC())
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)
