"""Attempt order: priority tiers, weighted order inside a tier, retries and exclusions."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from chatnio_host.channels.base import UpstreamFailure
from chatnio_host.channels.scheduler import (
    Attempt,
    CandidateKey,
    ChannelCandidate,
    Exclusions,
    plan_attempts,
    weighted_order,
)


def channel(
    channel_id: int, *, priority: int = 0, weight: int = 1, retry: int = 1, keys: int = 1
) -> ChannelCandidate:
    return ChannelCandidate(
        id=channel_id,
        name=f"c{channel_id}",
        type="fake",
        endpoint=f"http://127.0.0.1:1/{channel_id}",
        keys=tuple(CandidateKey(id=channel_id * 100 + index, index=index, value=f"k{channel_id}-{index}") for index in range(keys)),
        priority=priority,
        weight=weight,
        retry=retry,
    )


def first_choices(candidates: list[ChannelCandidate], picks: int, seed: int = 7) -> Counter[int]:
    rng = random.Random(seed)
    counts: Counter[int] = Counter()
    for _ in range(picks):
        counts[next(plan_attempts(candidates, rng=rng)).channel.id] += 1
    return counts


def test_weights_5_3_2_shares() -> None:
    counts = first_choices([channel(1, weight=5), channel(2, weight=3), channel(3, weight=2)], 10_000)
    assert abs(counts[1] / 10_000 - 0.50) <= 0.02
    assert abs(counts[2] / 10_000 - 0.30) <= 0.02
    assert abs(counts[3] / 10_000 - 0.20) <= 0.02


def test_weights_7_3_share() -> None:
    counts = first_choices([channel(1, priority=1, weight=7), channel(2, priority=1, weight=3)], 2_000, seed=3)
    assert 0.65 <= counts[1] / 2_000 <= 0.75


@pytest.mark.parametrize("weights", [(0, 0), (0, -2), (-5, 1)])
def test_weight_at_most_zero_counts_as_one(weights: tuple[int, int]) -> None:
    counts = first_choices([channel(1, weight=weights[0]), channel(2, weight=weights[1])], 1_000, seed=11)
    assert 0.40 <= counts[1] / 1_000 <= 0.60
    assert 0.40 <= counts[2] / 1_000 <= 0.60


def test_higher_priority_tier_first() -> None:
    candidates = [channel(1, priority=0), channel(2, priority=10), channel(3, priority=5)]
    order = [attempt.channel.id for attempt in plan_attempts(candidates, rng=random.Random(1))]
    assert order == [2, 3, 1]


def test_failing_pick_tries_siblings_before_lower_tier() -> None:
    candidates = [channel(1, priority=10), channel(2, priority=10), channel(3, priority=0)]
    for seed in range(20):
        order = [attempt.channel.id for attempt in plan_attempts(candidates, rng=random.Random(seed))]
        assert sorted(order[:2]) == [1, 2]
        assert order[2] == 3


def test_strict_tiers_one_channel_per_tier() -> None:
    candidates = [channel(1, priority=10), channel(2, priority=10), channel(3, priority=0)]
    seen_first: set[int] = set()
    for seed in range(20):
        order = [attempt.channel.id for attempt in plan_attempts(candidates, rng=random.Random(seed), strict_tiers=True)]
        assert len(order) == 2
        assert order[0] in (1, 2)
        assert order[1] == 3
        seen_first.add(order[0])
    assert seen_first == {1, 2}


def test_retry_per_channel_resets() -> None:
    candidates = [channel(1, priority=10, retry=3), channel(2, priority=0, retry=3)]
    order = [attempt.channel.id for attempt in plan_attempts(candidates, rng=random.Random(0))]
    assert order == [1, 1, 1, 2, 2, 2]


def test_attempt_numbers_count_per_channel() -> None:
    candidates = [channel(1, priority=10, retry=2), channel(2, priority=0, retry=2)]
    numbers = [(attempt.channel.id, attempt.number) for attempt in plan_attempts(candidates, rng=random.Random(0))]
    assert numbers == [(1, 1), (1, 2), (2, 1), (2, 2)]


@pytest.mark.parametrize("retry", [0, -3])
def test_retry_at_most_zero_counts_as_one(retry: int) -> None:
    order = [attempt.channel.id for attempt in plan_attempts([channel(1, retry=retry)], rng=random.Random(0))]
    assert order == [1]


def test_random_key_per_attempt_uses_every_key() -> None:
    candidate = channel(1, retry=30, keys=3)
    keys = {attempt.key for attempt in plan_attempts([candidate], rng=random.Random(5))}
    assert keys == {"k1-0", "k1-1", "k1-2"}


def test_excluded_key_never_used_again() -> None:
    candidate = channel(1, retry=20, keys=3)
    used: list[str] = []
    for attempt in plan_attempts([candidate], rng=random.Random(2)):
        used.append(attempt.key)
        if attempt.key_index == 1:
            attempt.exclusions.keys.add(attempt.key_id)
    assert used.count("k1-1") == 1
    assert len(used) == 21


def test_rejected_key_does_not_use_a_retry() -> None:
    """With retry 1, a key that fails authentication leaves the channel's one attempt to another key."""
    candidate = channel(1, retry=1, keys=2)
    attempts: list[Attempt] = []
    for attempt in plan_attempts([candidate], rng=random.Random(0)):
        attempts.append(attempt)
        if len(attempts) == 1:
            attempt.exclusions.keys.add(attempt.key_id)
    assert len(attempts) == 2
    assert attempts[0].key != attempts[1].key


def test_channel_without_usable_keys_skipped() -> None:
    empty = ChannelCandidate(id=9, name="c9", type="fake", endpoint="http://127.0.0.1:1", keys=(), priority=10)
    order = [attempt.channel.id for attempt in plan_attempts([empty, channel(2)], rng=random.Random(0))]
    assert order == [2]


def test_blank_key_never_sent() -> None:
    blank = ChannelCandidate(
        id=4, name="c4", type="fake", endpoint="http://127.0.0.1:1",
        keys=(CandidateKey(id=1, index=0, value=""), CandidateKey(id=2, index=1, value="k")), retry=10,
    )
    keys = {attempt.key for attempt in plan_attempts([blank], rng=random.Random(0))}
    assert keys == {"k"}


def test_excluded_channel_skips_remaining_retries() -> None:
    candidates = [channel(1, priority=1, retry=5), channel(2, priority=0)]
    order: list[int] = []
    for attempt in plan_attempts(candidates, rng=random.Random(0)):
        order.append(attempt.channel.id)
        if attempt.channel.id == 1:
            attempt.exclusions.channels.add(1)
    assert order == [1, 2]


def test_shared_exclusions_skip_channel() -> None:
    exclusions = Exclusions(channels={1})
    order = [a.channel.id for a in plan_attempts([channel(1), channel(2)], rng=random.Random(0), exclusions=exclusions)]
    assert order == [2]


def test_empty_candidates_no_attempts() -> None:
    assert list(plan_attempts([], rng=random.Random(0))) == []


def test_weighted_order_without_replacement() -> None:
    tier = [channel(1, weight=5), channel(2, weight=3), channel(3, weight=2)]
    rng = random.Random(4)
    for _ in range(100):
        order = weighted_order(tier, rng)
        assert sorted(candidate.id for candidate in order) == [1, 2, 3]


def test_mapping_applies_to_target() -> None:
    from chatnio_host.channels.mapping import parse_mapping

    mapped = ChannelCandidate(
        id=5, name="c5", type="fake", endpoint="http://127.0.0.1:1",
        keys=(CandidateKey(id=1, index=0, value="k"),), mapping=parse_mapping("a>b\nb>c"),
    )
    attempt = next(plan_attempts([mapped], rng=random.Random(0)))
    target = attempt.target("a")
    assert target.model == "c"
    assert target.key == "k"
    assert target.channel_id == 5


def test_failure_retryable_kinds() -> None:
    assert UpstreamFailure("auth", "x").retryable
    assert not UpstreamFailure("request", "x").retryable
