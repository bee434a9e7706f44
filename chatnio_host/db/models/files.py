"""Uploaded files and the text parsed from them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from chatnio_host.db.base import Base
from chatnio_host.db.types import DateTimeUTC, utcnow

__all__ = ["StoredFile"]

# MySQL's TEXT stops at 64 KB; parsed text and base64 images need LONGTEXT there.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class StoredFile(Base):
    """One upload of one user: its parsed text, or for images the image bytes."""

    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """A random hex id, so ids cannot be guessed."""
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127))
    """The type sniffed from the content, not the one the name claims."""
    kind: Mapped[str] = mapped_column(String(16))
    """``text`` or ``image``."""
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(LongText, default="", deferred=True)
    """Extracted text, cut to the ``max_chars`` setting without a marker (``chars`` has the full count)."""
    chars: Mapped[int] = mapped_column(Integer, default=0)
    """Characters (code points) of the extracted text before any cut."""
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int | None] = mapped_column(Integer, default=None)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    image_base64: Mapped[str | None] = mapped_column(LongText, default=None, deferred=True)
    """The image's bytes in base64, for images only.

    Stored as text because aiomysql 0.2 with PyMySQL 1.1 fails to bind ``bytes`` parameters.
    NOTE: MariaDB's default ``max_allowed_packet`` (16 MB) rejects images whose base64 is larger.
    """
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)
