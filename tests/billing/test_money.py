"""Exact money arithmetic: micro-points, rounding up once, JSON without float artefacts."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chatnio_host.billing.money import ceil_micro, from_micro, points_json, to_micro
from chatnio_host.billing.prices import Price, cost_micro, minimum_micro
from chatnio_host.relay.canonical import Usage


def test_token_charge_is_exact() -> None:
    price = Price(kind="token", input=Decimal("0.015"), output=Decimal("0.02"))
    charge = cost_micro(price, Usage(input_tokens=123, output_tokens=78))
    assert charge == 3405
    assert from_micro(charge) == Decimal("0.003405")
    assert from_micro(charge * 10_000) == Decimal("34.05")


def test_charge_rounds_up_once() -> None:
    price = Price(kind="token", input=Decimal("0.0000015"), output=Decimal(0))
    assert cost_micro(price, Usage(input_tokens=1)) == 1
    assert ceil_micro(Decimal("0.0000010")) == 1
    assert ceil_micro(Decimal("0.0000010000001")) == 2


def test_cached_input_priced_by_ratio() -> None:
    price = Price(kind="token", input=Decimal(2), output=Decimal(4), cached_input_ratio=Decimal("0.1"))
    usage = Usage(input_tokens=1000, cached_input_tokens=500, output_tokens=100, reasoning_tokens=40)
    # 500 plain at 2/1K + 500 cached at 0.2/1K + 100 output at 4/1K
    assert from_micro(cost_micro(price, usage)) == Decimal("1.5")


def test_minimum_balance_rule() -> None:
    assert minimum_micro(Price(kind="token", input=Decimal("0.5"), output=Decimal("1.5"))) == to_micro("2")
    assert minimum_micro(Price(kind="times", output=Decimal("1"))) == to_micro("1")
    assert minimum_micro(Price(kind="none")) == 0


def test_points_json_has_no_artefacts() -> None:
    assert json.dumps(points_json(to_micro("0.3"))) == "0.3"
    assert json.dumps(points_json(to_micro("0.1") * 3)) == "0.3"
    assert json.dumps(points_json(3405)) == "0.003405"
    assert json.dumps(points_json(to_micro("12345678.123456"))) == "12345678.123456"
    assert points_json(to_micro("100")) == 100


def test_to_micro_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        to_micro("0.0000001")
    with pytest.raises(ValueError):
        to_micro("abc")
    with pytest.raises(TypeError):
        to_micro(0.1)  # type: ignore[arg-type]
