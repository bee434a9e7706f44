"""Billing tables: balances, the points ledger, holds, usage records, daily aggregates,
subscriptions with their usage counters, and redeem and gift codes.

Money columns are BigInteger micro-points (1 point = 1,000,000).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatnio_host.db.base import Base
from chatnio_host.db.types import DateTimeUTC, utcnow

__all__ = [
    "Balance",
    "DailyAggregate",
    "GiftCode",
    "Hold",
    "LedgerEntry",
    "RedeemCode",
    "Subscription",
    "SubscriptionUsage",
    "UsageRecord",
]


class Balance(Base):
    """A user's points. ``available + held`` always equals the sum of the user's ledger rows."""

    __tablename__ = "balances"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    """Micro-points that new requests may hold or spend."""
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    """Micro-points reserved by requests still running."""
    used: Mapped[int] = mapped_column(BigInteger, default=0)
    """Micro-points ever charged or paid (requests and purchases), less refunds."""
    updated_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow, onupdate=utcnow)


class LedgerEntry(Base):
    """One change of a balance, with what caused it."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column(BigInteger)
    """Micro-points added (positive) or taken (negative)."""
    kind: Mapped[str] = mapped_column(String(24))
    """charge, refund, redeem, gift, admin, purchase, subscription or initial."""
    request_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    """The admin who made an adjustment."""
    reference: Mapped[str | None] = mapped_column(String(128), default=None)
    """A code, model or plan the change is about."""
    note: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)


class Hold(Base):
    """Points or a subscription unit reserved for one request until it settles or is released."""

    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_state_created_at", "state", "created_at"),)

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None)
    api_key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    model: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    """points, subscription or free."""
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """Micro-points reserved (0 unless ``kind`` is points)."""
    item_id: Mapped[str | None] = mapped_column(String(64), default=None)
    period_start: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)
    state: Mapped[str] = mapped_column(String(16), default="held")
    """held, settled or released."""
    charged: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)


class UsageRecord(Base):
    """One request's usage and cost."""

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None)
    api_key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    model: Mapped[str] = mapped_column(String(128))
    """The model name the client requested."""
    model_sent: Mapped[str | None] = mapped_column(String(128), default=None)
    channel_id: Mapped[int | None] = mapped_column(Integer, default=None)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    usage_source: Mapped[str] = mapped_column(String(16), default="vendor")
    """vendor when the counts came from the vendor, estimate otherwise."""
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    subscription: Mapped[bool] = mapped_column(Boolean, default=False)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(32), default="success")
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow, index=True)


class DailyAggregate(Base):
    """Counters of one day in the site's timezone, per scope (site, model, user, channel)."""

    __tablename__ = "daily_aggregates"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    """Micro-points charged."""
    income: Mapped[int] = mapped_column(BigInteger, default=0)
    """Micro-points sold (redeem codes, payments); 10 points are 1 CNY."""


class Subscription(Base):
    """A user's subscription: active while ``level > 0`` and ``expires_at`` is in the future."""

    __tablename__ = "subscriptions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)
    """The anchor of the monthly usage periods."""
    expires_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)
    total_months: Mapped[int] = mapped_column(Integer, default=0)
    enterprise: Mapped[bool] = mapped_column(Boolean, default=False)


class SubscriptionUsage(Base):
    """Requests used of one plan item in the period that began at ``period_start``."""

    __tablename__ = "subscription_usage"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_start: Mapped[dt.datetime] = mapped_column(DateTimeUTC())
    used: Mapped[int] = mapped_column(Integer, default=0)


class RedeemCode(Base):
    """A single-use code worth ``points``, generated in a named batch."""

    __tablename__ = "redeem_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)


class GiftCode(Base):
    """A single-use promotion code; each user may use at most one code of a ``type``."""

    __tablename__ = "gift_codes"
    __table_args__ = (UniqueConstraint("used_by", "type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(), default=None)
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(), default=utcnow)
