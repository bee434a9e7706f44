"""Price rules (the ``prices`` site settings section) and the cost of a request.

A model belongs to the first rule that lists it. Prices are Decimal points: ``times`` rules
charge ``output`` points per request, ``token`` rules charge ``input`` points per 1,000 input
tokens and ``output`` points per 1,000 output tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from chatnio_host.billing.money import ceil_micro
from chatnio_host.relay.canonical import Usage

__all__ = [
    "PRICES_SECTION",
    "Price",
    "PriceRule",
    "PricesConfig",
    "charge_rule_json",
    "cost_micro",
    "estimate_micro",
    "merge_rules",
    "minimum_micro",
]

PRICES_SECTION = "prices"

PriceKind = Literal["none", "times", "token"]

# Chat Nio's rule type names, accepted on input and used by the public /v1/charge list.
CHATNIO_TYPES: dict[str, PriceKind] = {
    "non-billing": "none",
    "": "none",
    "times-billing": "times",
    "token-billing": "token",
}
CHATNIO_NAMES: dict[str, str] = {"none": "non-billing", "times": "times-billing", "token": "token-billing"}

DEFAULT_OUTPUT_ESTIMATE = 1000
"""Output tokens a hold assumes when the request sets no maximum."""

MAX_OUTPUT_ESTIMATE = 4096
"""Largest output a hold assumes, so a large ``max_tokens`` does not block a user who can pay."""


class PriceRule(BaseModel):
    """One price rule."""

    id: int = -1
    """-1 on input means new: the server assigns the next free id."""
    type: PriceKind = "none"
    models: list[str] = Field(default_factory=list)
    anonymous: bool = False
    """For ``none`` rules: whether logged-out users may use the models."""
    input: Decimal = Decimal(0)
    """Token rules: points per 1,000 input tokens."""
    output: Decimal = Decimal(0)
    """Token rules: points per 1,000 output tokens. Times rules: points per request."""
    cached_input_ratio: Decimal | None = None
    """Fraction of the input price charged for cached input tokens; None uses the section's."""
    cache_write_ratio: Decimal | None = None
    """Fraction of the input price charged for cache-write tokens; None uses the section's."""

    @field_validator("type", mode="before")
    @classmethod
    def _accept_chatnio_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value in CHATNIO_TYPES:
            return CHATNIO_TYPES[value]
        return value

    @field_validator("input", "output", mode="before")
    @classmethod
    def _exact_number(cls, value: Any) -> Any:
        if isinstance(value, float):
            # JSON numbers arrive as floats; their shortest text is the decimal the client wrote.
            return Decimal(repr(value))
        return value

    @field_validator("input", "output")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("price must be a finite number of points")
        return max(value, Decimal(0))

    @field_validator("models")
    @classmethod
    def _clean_models(cls, value: list[str]) -> list[str]:
        seen: list[str] = []
        for model in value:
            name = model.strip()
            if name and name not in seen:
                seen.append(name)
        return seen


class PricesConfig(BaseModel):
    """The ``prices`` section: ordered rules and defaults for cached tokens."""

    rules: list[PriceRule] = Field(default_factory=list)
    cached_input_ratio: Decimal = Decimal(1)
    """Fraction of the input price charged for cached input tokens (vendors often charge 0.1-0.5)."""
    cache_write_ratio: Decimal = Decimal(1)
    """Fraction of the input price charged for cache-write tokens (Anthropic charges 1.25)."""

    @model_validator(mode="after")
    def _assign_ids(self) -> PricesConfig:
        used = {rule.id for rule in self.rules if rule.id >= 0}
        next_id = max(used, default=0) + 1
        seen: set[int] = set()
        for rule in self.rules:
            if rule.id < 0 or rule.id in seen:
                while next_id in used:
                    next_id += 1
                rule.id = next_id
                used.add(next_id)
            seen.add(rule.id)
        return self


@dataclass(frozen=True)
class Price:
    """The price of one model, resolved from its rule and the section's defaults."""

    kind: PriceKind
    rule_id: int | None = None
    anonymous: bool = False
    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached_input_ratio: Decimal = Decimal(1)
    cache_write_ratio: Decimal = Decimal(1)

    @classmethod
    def from_rule(cls, rule: PriceRule, config: PricesConfig) -> Price:
        """Build the price of a rule with the section's defaults filled in."""
        return cls(
            kind=rule.type,
            rule_id=rule.id,
            anonymous=rule.anonymous,
            input=rule.input,
            output=rule.output,
            cached_input_ratio=rule.cached_input_ratio if rule.cached_input_ratio is not None else config.cached_input_ratio,
            cache_write_ratio=rule.cache_write_ratio if rule.cache_write_ratio is not None else config.cache_write_ratio,
        )


def find_price(config: PricesConfig, model: str) -> Price | None:
    """Return the price of the first rule listing ``model``, or None when no rule does."""
    for rule in config.rules:
        if model in rule.models:
            return Price.from_rule(rule, config)
    return None


def cost_points(price: Price, usage: Usage) -> Decimal:
    """Return the exact cost in points, before rounding."""
    if price.kind == "times":
        return price.output
    if price.kind != "token":
        return Decimal(0)
    cached = max(0, min(usage.cached_input_tokens, usage.input_tokens))
    written = max(0, min(usage.cache_write_tokens, usage.input_tokens - cached))
    plain = max(0, usage.input_tokens - cached - written)
    input_tokens = Decimal(plain) + Decimal(cached) * price.cached_input_ratio + Decimal(written) * price.cache_write_ratio
    # Reasoning tokens are part of output_tokens and priced as output, as OpenAI and Google bill them.
    return (input_tokens * price.input + Decimal(max(0, usage.output_tokens)) * price.output) / 1000


def cost_micro(price: Price, usage: Usage) -> int:
    """Return the cost of one request in micro-points, rounded up once."""
    return ceil_micro(cost_points(price, usage))


def minimum_micro(price: Price) -> int:
    """Return the balance a request needs to start: one request, or 1K input plus 1K output."""
    if price.kind == "times":
        return ceil_micro(price.output)
    if price.kind == "token":
        return ceil_micro(price.input + price.output)
    return 0


def estimate_micro(price: Price, input_tokens: int, max_output_tokens: int | None) -> int:
    """Return the hold for a request: its estimated input and its output limit, capped."""
    if price.kind != "token":
        return minimum_micro(price)
    output = max_output_tokens if max_output_tokens and max_output_tokens > 0 else DEFAULT_OUTPUT_ESTIMATE
    output = min(output, MAX_OUTPUT_ESTIMATE)
    return cost_micro(price, Usage(input_tokens=max(0, input_tokens), output_tokens=output))


def charge_rule_json(rule: PriceRule) -> dict[str, Any]:
    """Return a rule in Chat Nio's public ``/v1/charge`` shape."""
    return {
        "id": rule.id,
        "type": CHATNIO_NAMES[rule.type],
        "models": list(rule.models),
        "input": _number(rule.input),
        "output": _number(rule.output),
        "anonymous": rule.anonymous,
    }


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def merge_rules(local: list[PriceRule], incoming: list[PriceRule], *, overwrite: bool) -> tuple[list[PriceRule], int]:
    """Merge rules read from another site into ``local``; return the rules and the models added or changed.

    Without ``overwrite`` only models no local rule lists are added, as one new rule per incoming
    rule. With ``overwrite`` each incoming model leaves its local rule (a rule left empty is
    dropped) and the incoming rule is appended with its prices.
    """
    result = [rule.model_copy(deep=True) for rule in local]
    next_id = max((rule.id for rule in result), default=0) + 1
    touched = 0
    for rule in incoming:
        if overwrite:
            incoming_models = set(rule.models)
            kept: list[PriceRule] = []
            for existing in result:
                existing.models = [model for model in existing.models if model not in incoming_models]
                if existing.models:
                    kept.append(existing)
            result = kept
            models = list(rule.models)
        else:
            known = {model for existing in result for model in existing.models}
            models = [model for model in rule.models if model not in known]
        if not models:
            continue
        added = rule.model_copy(update={"id": next_id, "models": models})
        next_id += 1
        result.append(added)
        touched += len(models)
    return result, touched
