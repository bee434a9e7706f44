"""Offline token estimates."""

from __future__ import annotations

from chatnio_host.relay.canonical import ChatRequest, Message, TextPart
from chatnio_host.relay.estimate import OutputCounter, count_tokens, estimate_prompt_tokens


def test_count_matches_cl100k() -> None:
    assert count_tokens("Hello world") == 2
    assert count_tokens("") == 0


def test_counter_splits_long_text_exactly() -> None:
    text = ("The quick brown fox jumps over the lazy dog. 你好🌍 " * 400).strip()
    counter = OutputCounter()
    for start in range(0, len(text), 7):
        counter.add(text[start:start + 7])
    assert counter.total() == count_tokens(text)


def test_counter_keeps_choices_apart() -> None:
    counter = OutputCounter()
    counter.add("AAA", index=0)
    counter.add("BBB", index=1)
    counter.add(" aaa", index=0)
    counter.add(" bbb", index=1)
    assert counter.total() == count_tokens("AAA aaa") + count_tokens("BBB bbb")


def test_prompt_estimate_is_positive() -> None:
    request = ChatRequest(model="m", messages=[Message(role="user", content=[TextPart("hi")])])
    assert estimate_prompt_tokens(request) == 3 + 3 + count_tokens("user") + count_tokens("hi")


def test_counter_memory_stays_bounded() -> None:
    counter = OutputCounter()
    for _ in range(20_000):
        counter.add("你好世界")
    for _ in range(20_000):
        counter.add("a")
    pending = sum(len(text) for text in counter._pending.values())
    assert pending <= 2 * 2048
    exact = count_tokens("你好世界" * 20_000 + "a" * 20_000)
    assert abs(counter.total() - exact) <= exact // 100
