"""Request bodies and JSON shapes of the billing routes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from chatnio_host.billing.prices import PriceRule, PricesConfig
from chatnio_host.billing.settings import Plan

__all__ = [
    "CodeBody",
    "GenerateGiftCodes",
    "GenerateRedeemCodes",
    "PointsAdjustment",
    "PriceSync",
    "SetSubscription",
    "SubscriptionBuy",
    "SubscriptionSync",
    "decimal_json",
    "plan_json",
    "prices_json",
    "rule_json",
]


def decimal_json(value: Decimal) -> int | float:
    """Return a Decimal as a JSON number (an int when whole)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _points(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


def rule_json(rule: PriceRule) -> dict[str, Any]:
    """Return a price rule as the admin API shows it."""
    return {
        "id": rule.id,
        "type": rule.type,
        "models": list(rule.models),
        "anonymous": rule.anonymous,
        "input": decimal_json(rule.input),
        "output": decimal_json(rule.output),
        "cached_input_ratio": None if rule.cached_input_ratio is None else decimal_json(rule.cached_input_ratio),
        "cache_write_ratio": None if rule.cache_write_ratio is None else decimal_json(rule.cache_write_ratio),
    }


def prices_json(config: PricesConfig) -> dict[str, Any]:
    """Return the ``prices`` section as the admin API shows it."""
    return {
        "rules": [rule_json(rule) for rule in config.rules],
        "cached_input_ratio": decimal_json(config.cached_input_ratio),
        "cache_write_ratio": decimal_json(config.cache_write_ratio),
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    """Return a plan; items carry ``value`` too, the name Chat Nio sites read."""
    return {
        "level": plan.level,
        "price": decimal_json(plan.price),
        "items": [
            {
                "id": item.id,
                "name": item.name,
                "icon": item.icon,
                "models": list(item.models),
                "monthly_quota": item.monthly_quota,
                "value": item.monthly_quota,
            }
            for item in plan.items
        ],
    }


class CodeBody(BaseModel):
    """A redeem or gift code to claim."""

    code: str = Field(max_length=200)


class PointsAdjustment(BaseModel):
    """An admin change of a user's points: add ``delta`` or ``set`` the balance."""

    delta: Decimal | None = None
    set: Decimal | None = None
    reason: str = Field("", max_length=255)

    _points = field_validator("delta", "set", mode="before")(classmethod(lambda cls, v: _points(v)))

    @model_validator(mode="after")
    def _one_of(self) -> PointsAdjustment:
        if (self.delta is None) == (self.set is None):
            raise ValueError("give exactly one of 'delta' (points to add, negative takes) or 'set' (the new balance)")
        return self


class PriceSync(BaseModel):
    """Read another Chat Nio site's ``/v1/charge`` and merge its rules."""

    url: str = Field(min_length=1, max_length=500)
    overwrite: bool = False


class SubscriptionSync(BaseModel):
    """Read another Chat Nio site's ``/v1/plans`` and replace the local plans."""

    url: str = Field(min_length=1, max_length=500)


class ImportItems(BaseModel):
    """Copy the items of one level's plan into another's (items with a known id are skipped)."""

    from_level: int = Field(ge=1, le=3)
    to_level: int = Field(ge=1, le=3)


class SubscriptionBuy(BaseModel):
    """Buy, renew, upgrade or downgrade a subscription."""

    level: int = Field(ge=1, le=3)
    months: int = Field(1, ge=1, le=999)


class SetSubscription(BaseModel):
    """An admin change of a user's subscription level and expiry."""

    level: int | None = Field(None, ge=0, le=3)
    expires_at: dt.datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expires_at needs a timezone, such as 2025-01-31T00:00:00Z")
        return value


class GenerateRedeemCodes(BaseModel):
    """A batch of single-use redeem codes."""

    name: str = Field(min_length=1, max_length=64)
    points: Decimal = Field(gt=0)
    count: int = Field(ge=1, le=1000)

    _points = field_validator("points", mode="before")(classmethod(lambda cls, v: _points(v)))


class GenerateGiftCodes(BaseModel):
    """Gift codes of one type."""

    type: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")
    points: Decimal = Field(gt=0)
    count: int = Field(ge=1, le=1000)

    _points = field_validator("points", mode="before")(classmethod(lambda cls, v: _points(v)))


ExportFormat = Literal["txt", "csv"]
