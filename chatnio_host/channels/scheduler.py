"""The order in which one request tries channels and keys. Pure logic: no I/O, a given random source.

* Priority tiers from the highest priority down.
* Inside a tier, channels in weighted random order without replacement (weight <= 0 counts as 1),
  so a failing channel's siblings are tried before a lower tier. With ``strict_tiers`` only the
  first weighted pick of each tier is tried (Chat Nio's original rule).
* Each channel gets ``retry`` attempts of its own (retry <= 0 counts as 1), each with a random
  usable key. An attempt whose key was excluded by the failure (a rejected or rate-limited key)
  does not use up the channel's retries, because another key may work; each key can be excluded
  once, so this stays bounded.
* The per-request ``Exclusions`` set, filled by ``ChannelService.record_failure``, removes keys
  and channels for the rest of the request.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatnio_host.channels.base import UpstreamTarget
from chatnio_host.channels.mapping import ModelMapping

__all__ = ["Attempt", "CandidateKey", "ChannelCandidate", "Exclusions", "plan_attempts", "tiers"]


@dataclass(frozen=True)
class CandidateKey:
    """One usable key of a channel: its row id, its index among the key lines, and its value."""

    id: int
    index: int
    value: str = field(repr=False)


@dataclass(frozen=True)
class ChannelCandidate:
    """A channel that may serve a request, with its decrypted usable keys.

    ``cooling_keys`` counts keys skipped because they are rate-limited; ``retry_after`` is the
    seconds until the first of them is usable again (None when no key is cooling down).
    """

    id: int
    name: str
    type: str
    endpoint: str
    keys: tuple[CandidateKey, ...]
    priority: int = 0
    weight: int = 1
    retry: int = 1
    settings: dict[str, Any] = field(default_factory=dict)
    proxy: str | None = None
    mapping: ModelMapping = field(default_factory=ModelMapping)
    cooling_keys: int = 0
    retry_after: float | None = None

    @property
    def effective_weight(self) -> int:
        """The weight used for random picks: at least 1."""
        return self.weight if self.weight > 0 else 1

    @property
    def effective_retry(self) -> int:
        """The attempts this channel gets per request: at least 1."""
        return self.retry if self.retry > 0 else 1

    def upstream_model(self, model: str) -> str:
        """Return the model name this channel sends upstream for ``model``."""
        return self.mapping.upstream_model(model)


@dataclass
class Exclusions:
    """Keys and channels one request no longer tries."""

    keys: set[int] = field(default_factory=set)
    channels: set[int] = field(default_factory=set)


@dataclass
class Attempt:
    """One try: a channel and one of its keys.

    ``number`` counts attempts on this channel from 1; ``exclusions`` belongs to the request.
    """

    channel: ChannelCandidate
    key: str = field(repr=False)
    key_index: int
    key_id: int
    number: int = 1
    exclusions: Exclusions = field(default_factory=Exclusions, repr=False)

    def target(self, model: str) -> UpstreamTarget:
        """Return the adapter's destination for the requested ``model`` (mapping applied)."""
        channel = self.channel
        return UpstreamTarget(
            channel_id=channel.id,
            channel_type=channel.type,
            endpoint=channel.endpoint,
            key=self.key,
            model=channel.upstream_model(model),
            settings=dict(channel.settings),
            proxy=channel.proxy,
            channel_name=channel.name,
        )


def tiers(candidates: Sequence[ChannelCandidate]) -> list[list[ChannelCandidate]]:
    """Group candidates by priority, highest first, keeping their order inside each tier."""
    by_priority: dict[int, list[ChannelCandidate]] = {}
    for candidate in candidates:
        by_priority.setdefault(candidate.priority, []).append(candidate)
    return [by_priority[priority] for priority in sorted(by_priority, reverse=True)]


def weighted_order(tier: Sequence[ChannelCandidate], rng: random.Random) -> list[ChannelCandidate]:
    """Return the tier in weighted random order without replacement."""
    remaining = list(tier)
    order: list[ChannelCandidate] = []
    while remaining:
        total = sum(candidate.effective_weight for candidate in remaining)
        point = rng.randrange(total)
        for position, candidate in enumerate(remaining):
            point -= candidate.effective_weight
            if point < 0:
                order.append(remaining.pop(position))
                break
    return order


def _usable_keys(channel: ChannelCandidate, exclusions: Exclusions) -> list[CandidateKey]:
    return [key for key in channel.keys if key.id not in exclusions.keys and key.value]


def _channel_attempts(
    channel: ChannelCandidate, rng: random.Random, exclusions: Exclusions
) -> Iterator[Attempt]:
    used = 0
    while used < channel.effective_retry and channel.id not in exclusions.channels:
        keys = _usable_keys(channel, exclusions)
        if not keys:
            return
        key = keys[rng.randrange(len(keys))]
        yield Attempt(
            channel=channel,
            key=key.value,
            key_index=key.index,
            key_id=key.id,
            number=used + 1,
            exclusions=exclusions,
        )
        if key.id not in exclusions.keys:
            used += 1


def plan_attempts(
    candidates: Sequence[ChannelCandidate],
    *,
    rng: random.Random,
    strict_tiers: bool = False,
    exclusions: Exclusions | None = None,
) -> Iterator[Attempt]:
    """Yield the attempts of one request lazily, so failures recorded meanwhile take effect."""
    exclusions = exclusions if exclusions is not None else Exclusions()
    for tier in tiers(candidates):
        order = weighted_order(tier, rng)
        if strict_tiers:
            order = order[:1]
        for channel in order:
            if channel.id in exclusions.channels:
                continue
            yield from _channel_attempts(channel, rng, exclusions)
