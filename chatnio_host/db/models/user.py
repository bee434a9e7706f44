"""User accounts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chatnio_host.db.base import Base, TimestampMixin
from chatnio_host.db.types import DateTimeUTC

__all__ = ["User"]

ROLE_USER = "user"
ROLE_ADMIN = "admin"


class User(TimestampMixin, Base):
    """A person who signs in to the site or calls the relay with an API key."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(24), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_USER)
    level: Mapped[int] = mapped_column(Integer, default=0)
    """Subscription level: 0 normal, 1 basic, 2 standard, 3 pro."""
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    """Raised on password change, ban and "log out everywhere"; older tokens stop working."""
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)

    @property
    def is_admin(self) -> bool:
        """Whether the user has the admin role."""
        return self.role == ROLE_ADMIN
