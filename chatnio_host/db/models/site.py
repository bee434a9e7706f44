"""Site settings that admins change at run time, one JSON document per section."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chatnio_host.db.base import Base, TimestampMixin

__all__ = ["SiteSetting"]


class SiteSetting(TimestampMixin, Base):
    """One section of the site settings (``general``, ``mail``, ``billing``...)."""

    __tablename__ = "site_settings"

    section: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
