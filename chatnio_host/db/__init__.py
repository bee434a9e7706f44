"""Database access: the declarative base, column types, the async engine and migrations."""

from chatnio_host.db.base import Base, TimestampMixin
from chatnio_host.db.session import Database
from chatnio_host.db.types import DateTimeUTC, utcnow

__all__ = ["Base", "Database", "DateTimeUTC", "TimestampMixin", "utcnow"]
