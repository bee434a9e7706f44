"""Automatic tests of disabled keys: once per interval across replicas, keys that pass come back."""

from __future__ import annotations

from typing import Any

from chatnio_host.channels import KeyRechecker
from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.channels.settings import ChannelSettings
from chatnio_host.testing import TestHost

from conftest import Upstream  # type: ignore[import-not-found]


async def add_channel(host: TestHost, **fields: Any) -> int:
    values: dict[str, Any] = {"name": "c", "type": "fake", "models": ["m"]}
    values.update(fields)
    return (await host.ctx.services["channels"].manager.create(ChannelCreate(**values))).id


async def test_recheck_enables_fixed_key(channel_host: TestHost, upstream: Upstream) -> None:
    service = channel_host.ctx.services["channels"]
    channel_id = await add_channel(channel_host, endpoint=upstream.url, keys="good\nfixed\nstill-bad")
    await service.manager.set_key_enabled(channel_id, 1, False)
    await service.manager.set_key_enabled(channel_id, 2, False)
    upstream.valid_keys = {"good", "fixed"}

    assert await service.rechecker.recheck() == 1
    shown = await service.manager.get(channel_id)
    assert [key.enabled for key in shown.keys] == [True, True, False]
    assert shown.keys[2].last_error == "invalid key still-bad"
    [candidate] = await service.candidates("m", "normal")
    assert [key.value for key in candidate.keys] == ["good", "fixed"]


async def test_recheck_skips_disabled_channels(channel_host: TestHost, upstream: Upstream) -> None:
    service = channel_host.ctx.services["channels"]
    channel_id = await add_channel(channel_host, endpoint=upstream.url, keys="good", enabled=False)
    await service.manager.set_key_enabled(channel_id, 0, False)
    assert await service.rechecker.recheck() == 0
    assert upstream.requests == []


async def test_tick_off_by_default(channel_host: TestHost, upstream: Upstream) -> None:
    service = channel_host.ctx.services["channels"]
    channel_id = await add_channel(channel_host, endpoint=upstream.url, keys="good")
    await service.manager.set_key_enabled(channel_id, 0, False)
    assert await service.rechecker.tick() is False
    assert upstream.requests == []


async def test_tick_once_per_interval_across_replicas(channel_host: TestHost, upstream: Upstream) -> None:
    service = channel_host.ctx.services["channels"]
    channel_id = await add_channel(channel_host, endpoint=upstream.url, keys="good")
    await service.manager.set_key_enabled(channel_id, 0, False)
    await channel_host.ctx.site.put("channels", ChannelSettings(key_recheck_minutes=5))

    other_replica = KeyRechecker(service)
    assert await service.rechecker.tick() is True
    assert await other_replica.tick() is False
    assert await service.rechecker.tick() is False
    assert len(upstream.requests) == 1
    assert (await service.manager.get(channel_id)).keys[0].enabled
