"""``ChannelService``: which channels serve a request, in what order, and what a failure changes.

Every replica keeps the enabled channels in memory and reloads them when the counter
``channels:version`` in the shared state changes, so an admin change or a disabled key applies
on the next request everywhere. Rate-limit cooldowns live in the shared state with a TTL
(``channels:cooldown:<key id>``); a change of the counter ``channels:cooldowns`` makes replicas reread them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from chatnio_host.channels.base import UpstreamFailure
from chatnio_host.channels.crypto import KeyCipher
from chatnio_host.channels.mapping import hit_models, parse_mapping
from chatnio_host.channels.scheduler import (
    Attempt,
    CandidateKey,
    ChannelCandidate,
    Exclusions,
    plan_attempts,
)
from chatnio_host.channels.settings import CHANNELS_SECTION, ChannelSettings
from chatnio_host.db.models.channel import Channel, ChannelKey
from chatnio_host.errors import ConfigError

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["ChannelService"]

logger = logging.getLogger(__name__)

VERSION_KEY = "channels:version"
COOLDOWN_VERSION_KEY = "channels:cooldowns"
SNAPSHOT_MAX_AGE = 60.0
"""Seconds after which a replica rereads channels even when the version counter did not move."""
DEFAULT_COOLDOWN = 5.0
"""Cooldown in seconds for a 429 without a usable ``Retry-After``."""
MAX_COOLDOWN = 3600.0
ERROR_TEXT_LIMIT = 1000


def cooldown_key(key_id: int) -> str:
    """Return the shared-state key that stores the cooldown end of vendor key ``key_id``."""
    return f"channels:cooldown:{key_id}"


@dataclass(frozen=True)
class _LoadedChannel:
    candidate: ChannelCandidate
    """The channel with its enabled keys."""
    groups: frozenset[str]
    hit_models: tuple[str, ...]


@dataclass
class _Snapshot:
    version: str | None
    loaded_at: float
    channels: list[_LoadedChannel] = field(default_factory=list)
    by_model: dict[str, list[_LoadedChannel]] = field(default_factory=dict)
    key_ids: list[int] = field(default_factory=list)


class ChannelService:
    """Candidates, attempt order and per-key state for the relay; admin operations in ``manage``."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.cipher = KeyCipher(ctx.settings)
        self._snapshot: _Snapshot | None = None
        self._load_lock = asyncio.Lock()
        self._cooldowns: dict[int, float] = {}
        self._cooldown_version: str | None = None
        self._cooldown_snapshot: _Snapshot | None = None
        self._strict_tiers = False
        self.manager: Any = None
        """The ``ChannelManager`` of the admin API, set by ``setup``."""
        self.probe: Any = None
        """The ``ChannelProbe`` of the admin API, set by ``setup``."""
        self.rechecker: Any = None
        """The ``KeyRechecker`` that tests disabled keys, set by ``setup``."""

    # --- cache ------------------------------------------------------------------------------

    async def invalidate(self) -> None:
        """Tell every replica (this one included) to reload channels on its next request."""
        await self.ctx.state.incr(VERSION_KEY)
        self._snapshot = None

    async def _current(self) -> _Snapshot:
        version = await self.ctx.state.get(VERSION_KEY)
        snapshot = self._snapshot
        if snapshot is not None and snapshot.version == version and self._fresh(snapshot):
            return snapshot

        async with self._load_lock:
            snapshot = self._snapshot
            if snapshot is not None and snapshot.version == version and self._fresh(snapshot):
                return snapshot
            snapshot = await self._load(version)
            self._snapshot = snapshot
            return snapshot

    @staticmethod
    def _fresh(snapshot: _Snapshot) -> bool:
        return time.monotonic() - snapshot.loaded_at < SNAPSHOT_MAX_AGE

    async def _load(self, version: str | None) -> _Snapshot:
        async with self.ctx.db.session() as session:
            rows = (
                await session.scalars(
                    select(Channel)
                    .where(Channel.enabled.is_(True))
                    .options(selectinload(Channel.keys))
                    .order_by(Channel.priority.desc(), Channel.id)
                )
            ).all()

        snapshot = _Snapshot(version=version, loaded_at=time.monotonic())
        for row in rows:
            loaded = self._loaded_channel(row)
            if loaded is None:
                continue
            snapshot.channels.append(loaded)
            snapshot.key_ids.extend(key.id for key in loaded.candidate.keys)
            for model in loaded.hit_models:
                snapshot.by_model.setdefault(model, []).append(loaded)
        logger.info("loaded %d enabled channels (version %s)", len(snapshot.channels), version)
        return snapshot

    def _loaded_channel(self, row: Channel) -> _LoadedChannel | None:
        keys: list[CandidateKey] = []
        for key in row.keys:
            if not key.enabled:
                continue
            try:
                value = self.cipher.decrypt(key.secret).strip()
            except ConfigError:
                logger.error("channel %s key #%s cannot be decrypted; it is skipped", row.id, key.position)
                continue
            if value:
                keys.append(CandidateKey(id=key.id, index=key.position, value=value))
        if not keys:
            logger.info("channel %s has no enabled key; it serves nothing until a key is enabled", row.id)
            return None

        mapping = parse_mapping(row.mapping)
        candidate = ChannelCandidate(
            id=row.id,
            name=row.name,
            type=row.type,
            endpoint=row.endpoint,
            keys=tuple(keys),
            priority=row.priority,
            weight=row.weight,
            retry=row.retry,
            settings=dict(row.settings or {}),
            proxy=row.proxy,
            mapping=mapping,
        )
        return _LoadedChannel(
            candidate=candidate,
            groups=frozenset(row.groups or ()),
            hit_models=tuple(hit_models(row.models or (), mapping)),
        )

    async def _current_cooldowns(self, snapshot: _Snapshot) -> dict[int, float]:
        version = await self.ctx.state.get(COOLDOWN_VERSION_KEY)
        if version == self._cooldown_version and self._cooldown_snapshot is snapshot:
            return self._cooldowns

        cooldowns: dict[int, float] = {}
        for key_id in snapshot.key_ids:
            value = await self.ctx.state.get(cooldown_key(key_id))
            if value is None:
                continue
            try:
                cooldowns[key_id] = float(value)
            except ValueError:
                logger.warning("cooldown of channel key %s is not a number: %r", key_id, value)
        self._cooldowns = cooldowns
        self._cooldown_version = version
        self._cooldown_snapshot = snapshot
        return cooldowns

    async def _refresh_settings(self) -> None:
        settings = await self.ctx.site.get(CHANNELS_SECTION, ChannelSettings)
        self._strict_tiers = settings.strict_tiers

    async def channel_settings(self) -> ChannelSettings:
        """Return the ``channels`` site settings section."""
        return await self.ctx.site.get(CHANNELS_SECTION, ChannelSettings)

    # --- the relay's side -------------------------------------------------------------------

    async def candidates(self, model: str, group: str) -> list[ChannelCandidate]:
        """Return the enabled channels that serve ``model`` (after mapping) to ``group``.

        Each carries its enabled keys that are not cooling down. A channel whose enabled keys
        are all cooling down is returned with no keys and ``retry_after`` set, so the caller can
        return 429 instead of 503; ``attempts`` skips it.
        """
        snapshot = await self._current()
        cooldowns = await self._current_cooldowns(snapshot)
        await self._refresh_settings()
        now = time.time()

        result: list[ChannelCandidate] = []
        for loaded in snapshot.by_model.get(model, ()):
            if loaded.groups and group not in loaded.groups:
                continue
            candidate = loaded.candidate
            usable = tuple(key for key in candidate.keys if cooldowns.get(key.id, 0.0) <= now)
            if len(usable) == len(candidate.keys):
                result.append(candidate)
                continue
            waits = [cooldowns[key.id] - now for key in candidate.keys if key not in usable]
            result.append(
                replace(candidate, keys=usable, cooling_keys=len(waits), retry_after=max(0.0, min(waits)))
            )
        return result

    def attempts(
        self,
        candidates: Sequence[ChannelCandidate],
        *,
        rng: random.Random | None = None,
        strict_tiers: bool | None = None,
        exclusions: Exclusions | None = None,
    ) -> Iterator[Attempt]:
        """Yield the request's attempts in order (see ``scheduler``).

        ``strict_tiers`` defaults to the site setting read by the last ``candidates`` call.
        """
        return plan_attempts(
            candidates,
            rng=rng or random.Random(),
            strict_tiers=self._strict_tiers if strict_tiers is None else strict_tiers,
            exclusions=exclusions,
        )

    async def record_failure(self, attempt: Attempt, failure: UpstreamFailure) -> None:
        """Update the key or channel state after a failed attempt.

        ``auth`` disables the key, ``rate_limit`` cools it down for ``retry_after`` seconds,
        ``not_found`` skips the channel for the rest of the request. A failure caused by the
        request itself changes nothing.
        """
        channel = attempt.channel
        if failure.kind == "auth":
            attempt.exclusions.keys.add(attempt.key_id)
            await self._disable_key(attempt, failure)
            return
        if failure.kind == "rate_limit":
            attempt.exclusions.keys.add(attempt.key_id)
            await self._cool_down(attempt, failure)
            return
        if failure.kind == "not_found":
            attempt.exclusions.channels.add(channel.id)
            logger.warning(
                "channel %s does not serve the model (status %s): %s", channel.id, failure.status, failure.message
            )
            return
        if failure.kind == "request":
            logger.info("channel %s rejected the request itself (status %s)", channel.id, failure.status)
            return
        logger.warning(
            "channel %s key #%s attempt %d failed (%s, status %s): %s",
            channel.id, attempt.key_index, attempt.number, failure.kind, failure.status, failure.message,
        )

    async def record_success(self, attempt: Attempt) -> None:
        """Note a successful attempt; nothing is stored, so the hot path stays free of writes."""
        logger.debug("channel %s key #%s succeeded", attempt.channel.id, attempt.key_index)

    async def models_for(self, group: str) -> list[str]:
        """Return every model some enabled channel with an enabled key serves to ``group``."""
        snapshot = await self._current()
        models: list[str] = []
        seen: set[str] = set()
        for loaded in snapshot.channels:
            if loaded.groups and group not in loaded.groups:
                continue
            for model in loaded.hit_models:
                if model not in seen:
                    seen.add(model)
                    models.append(model)
        return models

    # --- per-key state ----------------------------------------------------------------------

    async def _disable_key(self, attempt: Attempt, failure: UpstreamFailure) -> None:
        message = failure.message[:ERROR_TEXT_LIMIT]
        async with self.ctx.db.transaction() as session:
            await session.execute(
                update(ChannelKey)
                .where(ChannelKey.id == attempt.key_id)
                .values(enabled=False, last_error=message, last_error_at=self.ctx.clock.now())
            )
        await self.invalidate()
        logger.warning(
            "channel %s key #%s disabled after an authentication failure (status %s): %s",
            attempt.channel.id, attempt.key_index, failure.status, message,
        )

    async def _cool_down(self, attempt: Attempt, failure: UpstreamFailure) -> None:
        seconds = DEFAULT_COOLDOWN if failure.retry_after is None else float(failure.retry_after)
        seconds = min(seconds, MAX_COOLDOWN)
        if seconds <= 0:
            logger.info("channel %s key #%s rate-limited without a wait", attempt.channel.id, attempt.key_index)
            return

        until = time.time() + seconds
        await self.ctx.state.set(cooldown_key(attempt.key_id), repr(until), ttl=seconds)
        await self.ctx.state.incr(COOLDOWN_VERSION_KEY)
        self._cooldowns[attempt.key_id] = until

        async with self.ctx.db.transaction() as session:
            await session.execute(
                update(ChannelKey)
                .where(ChannelKey.id == attempt.key_id)
                .values(
                    cooldown_until=dt.datetime.fromtimestamp(until, tz=dt.UTC),
                    last_error=failure.message[:ERROR_TEXT_LIMIT],
                    last_error_at=self.ctx.clock.now(),
                )
            )
        logger.warning(
            "channel %s key #%s rate-limited; cooling down for %.1f s", attempt.channel.id, attempt.key_index, seconds
        )
