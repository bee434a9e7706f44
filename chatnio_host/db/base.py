"""The declarative base with a constraint naming convention, and small mixins."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chatnio_host.db.types import DateTimeUTC, utcnow

__all__ = ["Base", "TimestampMixin"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every table; only ``chatnio_host.db.models`` defines subclasses."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """Creation and last-update times, in UTC."""

    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)
    """When the row was inserted."""

    updated_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow, onupdate=utcnow)
    """When the row last changed."""
