"""Model mapping: aliases, hidden targets, chains, cycles and malformed lines."""

from __future__ import annotations

import pytest

from chatnio_host.channels.mapping import hit_models, normalize_mapping_text, parse_mapping
from chatnio_host.errors import InvalidRequest


def test_alias_published_and_mapped() -> None:
    mapping = parse_mapping("gpt-4-fast>gpt-4")
    assert hit_models(["gpt-4"], mapping) == ["gpt-4", "gpt-4-fast"]
    assert mapping.upstream_model("gpt-4-fast") == "gpt-4"
    assert mapping.upstream_model("gpt-4") == "gpt-4"


def test_hidden_target_not_served() -> None:
    mapping = parse_mapping("!gpt-4-fast>gpt-4")
    assert hit_models(["gpt-4"], mapping) == ["gpt-4-fast"]


def test_chain_followed() -> None:
    mapping = parse_mapping("a>b\nb>c")
    assert mapping.upstream_model("a") == "c"
    assert mapping.upstream_model("b") == "c"


def test_sides_trimmed() -> None:
    mapping = parse_mapping(" gpt-4 > x \r\n")
    assert mapping.upstream_model("gpt-4") == "x"


@pytest.mark.parametrize("text", ["a>b\nb>c\nc>b", "a>a", "a>b\nb>a"])
def test_cycle_rejected_on_save(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        normalize_mapping_text(text)
    assert caught.value.param == "mapping"
    assert "cycle" in caught.value.message


@pytest.mark.parametrize("line", ["a>b>c", "abc", ">b", "a>"])
def test_malformed_line_rejected_on_save(line: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        normalize_mapping_text(line)
    assert repr(line) in caught.value.message


def test_malformed_lines_ignored_when_loading() -> None:
    mapping = parse_mapping("a>b>c\nabc\nx>y")
    assert mapping.upstream_model("x") == "y"
    assert hit_models([], mapping) == ["x"]


def test_duplicate_source_rejected() -> None:
    with pytest.raises(InvalidRequest):
        normalize_mapping_text("a>b\na>c")


def test_object_form_accepted() -> None:
    assert normalize_mapping_text({"gpt-4o": "vendor/gpt-4o-2024-08-06"}) == "gpt-4o>vendor/gpt-4o-2024-08-06"


def test_stored_cycle_does_not_hang() -> None:
    mapping = parse_mapping("a>b\nb>a")
    assert mapping.upstream_model("a") in ("a", "b")
