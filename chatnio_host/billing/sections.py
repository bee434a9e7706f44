"""Parsed site settings sections for the request path, parsed once per stored version.

``SiteSettingsStore.get_raw`` returns the same dict object until the section changes, so a
parsed model (and anything built from it, such as the price index) is kept per section and
rebuilt only when that object changes. Values handed out here are shared: callers only read
them. Code that edits a section reads its own copy with ``SiteSettingsStore.get``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from chatnio_host.billing.prices import PRICES_SECTION, Price, PricesConfig
from chatnio_host.billing.settings import SUBSCRIPTION_SECTION, SubscriptionConfig
from chatnio_host.site.store import SiteSettingsStore

__all__ = ["PriceIndex", "SectionCache", "SubscriptionIndex"]

logger = logging.getLogger(__name__)

Built = TypeVar("Built")


@dataclass(frozen=True)
class PriceIndex:
    """The price of every listed model; the first rule that lists a model wins."""

    prices: dict[str, Price]

    @classmethod
    def build(cls, config: PricesConfig) -> PriceIndex:
        prices: dict[str, Price] = {}
        for rule in config.rules:
            price = Price.from_rule(rule, config)
            for model in rule.models:
                prices.setdefault(model, price)
        return cls(prices)


@dataclass(frozen=True)
class SubscriptionIndex:
    """The ``subscription`` section and the models some plan covers."""

    config: SubscriptionConfig
    covered: frozenset[str]

    @classmethod
    def build(cls, config: SubscriptionConfig) -> SubscriptionIndex:
        covered = frozenset(model for plan in config.plans for item in plan.items for model in item.models)
        return cls(config, covered)


class SectionCache:
    """Sections parsed into models and indexes, rebuilt when the stored section changes."""

    def __init__(self, site: SiteSettingsStore) -> None:
        self.site = site
        self._built: dict[tuple[str, Any], tuple[dict[str, Any], Any]] = {}

    async def get(self, section: str, model: type[BaseModel], build: Callable[[Any], Built]) -> Built:
        """Return ``build(model.model_validate(raw))`` for the section's current stored value."""
        raw = await self.site.get_raw(section)
        key = (section, build)
        cached = self._built.get(key)
        if cached is not None and cached[0] is raw:
            return cached[1]
        value = build(model.model_validate(raw))
        self._built[key] = (raw, value)
        logger.debug("site settings section %s parsed for billing", section)
        return value

    async def prices(self) -> PriceIndex:
        """Return the price index of the ``prices`` section."""
        return await self.get(PRICES_SECTION, PricesConfig, PriceIndex.build)

    async def subscriptions(self) -> SubscriptionIndex:
        """Return the ``subscription`` section with the models its plans cover."""
        return await self.get(SUBSCRIPTION_SECTION, SubscriptionConfig, SubscriptionIndex.build)
