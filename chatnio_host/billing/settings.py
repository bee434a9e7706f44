"""Site settings sections of billing: ``billing`` (initial points, USD rate) and ``subscription``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator

__all__ = [
    "BILLING_SECTION",
    "LEVEL_NAMES",
    "SUBSCRIPTION_SECTION",
    "BillingConfig",
    "Plan",
    "PlanItem",
    "SubscriptionConfig",
]

BILLING_SECTION = "billing"
SUBSCRIPTION_SECTION = "subscription"

LEVEL_NAMES: dict[int, str] = {0: "normal", 1: "basic", 2: "standard", 3: "pro"}

ITEM_ICONS = ("compass", "image", "imageplus", "booktext", "video", "audio", "flame", "archive", "container")


def _decimal(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


class BillingConfig(BaseModel):
    """The ``billing`` section."""

    initial_points: Decimal = Field(Decimal(0), ge=0)
    """Points every new user receives, as a ledger row."""
    usd_cny_rate: Decimal = Field(Decimal("7.3"), gt=0)
    """CNY per USD for the OpenAI-style dashboard endpoints (points / rate / 10 = USD)."""

    _decimals = field_validator("initial_points", "usd_cny_rate", mode="before")(classmethod(lambda cls, v: _decimal(v)))


class PlanItem(BaseModel):
    """One item of a plan: the models it covers and their shared monthly request quota."""

    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    icon: str = "compass"
    models: list[str] = Field(default_factory=list)
    monthly_quota: int = Field(-1, ge=-1, validation_alias=AliasChoices("monthly_quota", "value"))
    """Requests per month; -1 is unlimited."""

    @field_validator("icon")
    @classmethod
    def _known_icon(cls, value: str) -> str:
        return value if value in ITEM_ICONS else "compass"


class Plan(BaseModel):
    """The plan of one level: its monthly price in CNY and its items."""

    level: int = Field(ge=1, le=3)
    price: Decimal = Field(Decimal(0), ge=0)
    """CNY per month; paid in points at 10 points per CNY."""
    items: list[PlanItem] = Field(default_factory=list)

    _decimals = field_validator("price", mode="before")(classmethod(lambda cls, v: _decimal(v)))

    @model_validator(mode="after")
    def _unique_items(self) -> Plan:
        ids = [item.id for item in self.items]
        duplicates = sorted({item for item in ids if ids.count(item) > 1})
        if duplicates:
            raise ValueError(f"plan level {self.level} lists item ids {duplicates} more than once; give each item its own id")
        return self

    def item_for(self, model: str) -> PlanItem | None:
        """Return the first item that covers ``model`` (matched on the model id)."""
        for item in self.items:
            if model in item.models:
                return item
        return None


class SubscriptionConfig(BaseModel):
    """The ``subscription`` section."""

    enabled: bool = False
    relay_plan: bool = False
    """Whether API-key requests may use subscription quota (the web chat always may)."""
    plans: list[Plan] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_levels(self) -> SubscriptionConfig:
        levels = [plan.level for plan in self.plans]
        if len(levels) != len(set(levels)):
            raise ValueError(f"plans list levels {levels}; each level 1-3 may have one plan only")
        return self

    def plan(self, level: int) -> Plan | None:
        """Return the plan of ``level``."""
        for plan in self.plans:
            if plan.level == level:
                return plan
        return None
