"""ChannelService on real databases and shared state: candidates, key state, replicas."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from sqlalchemy import select

from chatnio_host.channels import Attempt, ChannelCandidate, ChannelService
from chatnio_host.channels.base import UpstreamFailure
from chatnio_host.channels.manage import ChannelManager
from chatnio_host.channels.schemas import ChannelCreate, ChannelUpdate
from chatnio_host.channels.settings import ChannelSettings
from chatnio_host.db.models.channel import ChannelKey
from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, Message, TextDelta, TextPart
from chatnio_host.testing import TestHost

from conftest import FakeAdapter, Upstream  # type: ignore[import-not-found]


def service_of(host: TestHost) -> ChannelService:
    return host.ctx.services["channels"]


def replica_of(host: TestHost) -> ChannelService:
    """A second service on the same database and shared state, like another replica."""
    replica = ChannelService(host.ctx)
    replica.manager = ChannelManager(host.ctx, replica)
    return replica


async def add_channel(host: TestHost, **fields: Any) -> int:
    values: dict[str, Any] = {"name": "c", "type": "fake", "endpoint": "http://127.0.0.1:9", "keys": "good", "models": ["m"]}
    values.update(fields)
    channel = await service_of(host).manager.create(ChannelCreate(**values))
    return channel.id


def attempt_with(candidate: ChannelCandidate, value: str) -> Attempt:
    """An attempt on ``candidate`` with the key whose value is ``value``."""
    key = next(key for key in candidate.keys if key.value == value)
    return Attempt(channel=candidate, key=key.value, key_index=key.index, key_id=key.id)


async def relay_once(service: ChannelService, model: str, *, group: str = "normal", seed: int | None = None) -> str:
    """Run one request the way the relay does: attempts in order, failures recorded, first success wins."""
    adapter = FakeAdapter(http=None)  # type: ignore[arg-type]
    candidates = await service.candidates(model, group)
    rng = random.Random(seed)
    last: UpstreamFailure | None = None
    for attempt in service.attempts(candidates, rng=rng):
        request = ChatRequest(model=model, messages=[Message(role="user", content=[TextPart("hi")])])
        try:
            text = ""
            async for event in adapter.chat(request, attempt.target(model)):
                if isinstance(event, TextDelta):
                    text += event.text
        except UpstreamFailure as failure:
            await service.record_failure(attempt, failure)
            last = failure
            if not failure.retryable:
                break
            continue
        await service.record_success(attempt)
        return text
    raise last or UpstreamFailure("server", "no candidates")


async def test_candidates_by_model_after_mapping(channel_host: TestHost) -> None:
    channel_id = await add_channel(channel_host, models=["gpt-4"], mapping="gpt-4-fast>gpt-4")
    service = service_of(channel_host)

    fast = await service.candidates("gpt-4-fast", "normal")
    assert [candidate.id for candidate in fast] == [channel_id]
    assert fast[0].upstream_model("gpt-4-fast") == "gpt-4"
    assert [candidate.id for candidate in await service.candidates("gpt-4", "normal")] == [channel_id]
    assert await service.candidates("gpt-5", "normal") == []


async def test_hidden_target_not_a_candidate(channel_host: TestHost) -> None:
    await add_channel(channel_host, models=["gpt-4"], mapping="!gpt-4-fast>gpt-4")
    service = service_of(channel_host)
    assert await service.candidates("gpt-4", "normal") == []
    assert len(await service.candidates("gpt-4-fast", "normal")) == 1
    assert await service.models_for("normal") == ["gpt-4-fast"]


async def test_group_restriction(channel_host: TestHost) -> None:
    await add_channel(channel_host, groups=["pro"])
    service = service_of(channel_host)
    assert await service.candidates("m", "normal") == []
    assert await service.candidates("m", "anonymous") == []
    assert len(await service.candidates("m", "pro")) == 1
    assert await service.models_for("normal") == []
    assert await service.models_for("pro") == ["m"]


async def test_disabled_channel_never_candidate(channel_host: TestHost) -> None:
    channel_id = await add_channel(channel_host)
    service = service_of(channel_host)
    await service.manager.set_enabled(channel_id, False)
    assert await service.candidates("m", "normal") == []
    assert await service.models_for("normal") == []
    await service.manager.set_enabled(channel_id, True)
    assert len(await service.candidates("m", "normal")) == 1


async def test_keys_trimmed_blank_dropped(channel_host: TestHost) -> None:
    await add_channel(channel_host, keys="k1\nk2 \r\nk3\n\n  \n")
    [candidate] = await service_of(channel_host).candidates("m", "normal")
    assert [key.value for key in candidate.keys] == ["k1", "k2", "k3"]
    assert [key.index for key in candidate.keys] == [0, 1, 2]


async def test_keys_encrypted_at_rest(channel_host: TestHost) -> None:
    channel_id = await add_channel(channel_host, keys="sk-live-secret-123456")
    async with channel_host.ctx.db.session() as session:
        stored = (await session.scalars(select(ChannelKey).where(ChannelKey.channel_id == channel_id))).all()
    assert len(stored) == 1
    assert "sk-live-secret-123456" not in stored[0].secret
    shown = await service_of(channel_host).manager.get(channel_id)
    assert shown.keys[0].masked == "****3456"
    assert "sk-live-secret-123456" not in shown.model_dump_json()


async def test_auth_failure_disables_only_that_key(channel_host: TestHost) -> None:
    channel_id = await add_channel(channel_host, keys="k1\nk2")
    service = service_of(channel_host)
    replica = replica_of(channel_host)
    assert len((await replica.candidates("m", "normal"))[0].keys) == 2

    [candidate] = await service.candidates("m", "normal")
    attempt = attempt_with(candidate, "k1")
    await service.record_failure(attempt, UpstreamFailure("auth", "invalid key ****k1", status=401))

    assert attempt.key_id in attempt.exclusions.keys
    for instance in (service, replica):
        [after] = await instance.candidates("m", "normal")
        assert [key.value for key in after.keys] == ["k2"]
    shown = await service.manager.get(channel_id)
    assert shown.enabled
    assert [key.enabled for key in shown.keys] == [False, True]
    assert shown.keys[0].last_error == "invalid key ****k1"


async def test_all_keys_disabled_no_candidate(channel_host: TestHost) -> None:
    await add_channel(channel_host, keys="k1")
    service = service_of(channel_host)
    [candidate] = await service.candidates("m", "normal")
    attempt = next(service.attempts([candidate], rng=random.Random(0)))
    await service.record_failure(attempt, UpstreamFailure("auth", "bad", status=401))
    assert await service.candidates("m", "normal") == []


async def test_rate_limit_cools_key_for_retry_after(channel_host: TestHost) -> None:
    await add_channel(channel_host, keys="k1\nk2")
    service = service_of(channel_host)
    replica = replica_of(channel_host)
    await replica.candidates("m", "normal")

    [candidate] = await service.candidates("m", "normal")
    attempt = attempt_with(candidate, "k1")
    await service.record_failure(attempt, UpstreamFailure("rate_limit", "slow down", status=429, retry_after=2))

    for instance in (service, replica):
        [cooling] = await instance.candidates("m", "normal")
        assert [key.value for key in cooling.keys] == ["k2"]
        assert cooling.cooling_keys == 1
        assert cooling.retry_after is not None
        assert 1.0 < cooling.retry_after <= 2.0
    await asyncio.sleep(2.2)
    for instance in (service, replica):
        [cooled] = await instance.candidates("m", "normal")
        assert [key.value for key in cooled.keys] == ["k1", "k2"]
        assert cooled.retry_after is None


async def test_all_keys_cooling_reports_retry_after(channel_host: TestHost) -> None:
    await add_channel(channel_host, keys="k1")
    service = service_of(channel_host)
    [candidate] = await service.candidates("m", "normal")
    attempt = next(service.attempts([candidate], rng=random.Random(0)))
    await service.record_failure(attempt, UpstreamFailure("rate_limit", "slow down", status=429, retry_after=30))
    [cooling] = await service.candidates("m", "normal")
    assert cooling.keys == ()
    assert cooling.retry_after is not None and cooling.retry_after > 25
    assert list(service.attempts([cooling], rng=random.Random(0))) == []


async def test_request_errors_change_nothing(channel_host: TestHost) -> None:
    channel_id = await add_channel(channel_host, keys="k1")
    service = service_of(channel_host)
    [candidate] = await service.candidates("m", "normal")
    attempt = next(service.attempts([candidate], rng=random.Random(0)))
    for kind in ("request", "server", "timeout", "connect"):
        await service.record_failure(attempt, UpstreamFailure(kind, "x", status=400))  # type: ignore[arg-type]
    shown = await service.manager.get(channel_id)
    assert shown.keys[0].enabled
    assert attempt.exclusions.keys == set()
    assert len((await service.candidates("m", "normal"))[0].keys) == 1


async def test_admin_change_seen_by_replica(channel_host: TestHost) -> None:
    channel_id = await add_channel(channel_host)
    replica = replica_of(channel_host)
    assert len(await replica.candidates("m", "normal")) == 1
    await service_of(channel_host).manager.update(channel_id, ChannelUpdate(models=["other"]))
    assert await replica.candidates("m", "normal") == []
    assert len(await replica.candidates("other", "normal")) == 1


async def test_strict_tiers_setting_applies(channel_host: TestHost) -> None:
    await add_channel(channel_host, name="a", priority=10)
    await add_channel(channel_host, name="b", priority=10)
    await add_channel(channel_host, name="c", priority=0)
    service = service_of(channel_host)
    candidates = await service.candidates("m", "normal")
    assert len(list(service.attempts(candidates, rng=random.Random(0)))) == 3

    await channel_host.ctx.site.put("channels", ChannelSettings(strict_tiers=True))
    replica = replica_of(channel_host)
    candidates = await replica.candidates("m", "normal")
    assert len(list(replica.attempts(candidates, rng=random.Random(0)))) == 2


async def test_unknown_type_names_registered(channel_host: TestHost) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await add_channel(channel_host, type="nope")
    assert "fake" in caught.value.message
    assert caught.value.param == "type"


async def test_settings_checked_against_schema(channel_host: TestHost) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await add_channel(channel_host, settings={"region": "mars"})
    assert caught.value.param == "settings.region"
    channel_id = await add_channel(channel_host, settings={"region": "eu", "timeout": 3})
    assert (await service_of(channel_host).manager.get(channel_id)).settings == {"region": "eu", "timeout": 3}


async def test_masked_key_line_keeps_state(channel_host: TestHost) -> None:
    channel_id = await add_channel(channel_host, keys="first-key-aaaa\nsecond-key-bbbb")
    manager = service_of(channel_host).manager
    await manager.set_key_enabled(channel_id, 0, False)

    updated = await manager.update(channel_id, ChannelUpdate(keys="****aaaa\nthird-key-cccc"))
    assert [key.masked for key in updated.keys] == ["****aaaa", "****cccc"]
    assert [key.enabled for key in updated.keys] == [False, True]
    [candidate] = await service_of(channel_host).candidates("m", "normal")
    assert [key.value for key in candidate.keys] == ["third-key-cccc"]

    with pytest.raises(InvalidRequest):
        await manager.update(channel_id, ChannelUpdate(keys="****zzzz"))


async def test_multi_key_bad_key_disabled_alone(channel_host: TestHost, upstream: Upstream) -> None:
    """k2 gets 401: every request still succeeds, k2 is used once, the channel stays enabled."""
    upstream.valid_keys = {"k1", "k3"}
    channel_id = await add_channel(channel_host, endpoint=upstream.url, keys="k1\nk2 \r\nk3\n", retry=1)
    service = service_of(channel_host)

    for index in range(30):
        assert await relay_once(service, "m", seed=index) == "hello from m"
    used = upstream.keys_used()
    assert "Bearer k2 \r" not in used
    assert used.count("Bearer k2") == 1
    assert "Bearer k1" in used
    assert "Bearer k3" in used
    shown = await service.manager.get(channel_id)
    assert shown.enabled
    assert [key.enabled for key in shown.keys] == [True, False, True]

    upstream.valid_keys = set()
    for index in range(5):
        with pytest.raises(UpstreamFailure):
            await relay_once(service, "m", seed=index)
    assert all(auth not in ("Bearer ", "Bearer None", None) for auth in upstream.keys_used())
    assert await service.candidates("m", "normal") == []

    upstream.valid_keys = {"k2"}
    result = await service.probe.test(channel_id)
    assert result.ok
    by_index = {key.index: key for key in result.keys}
    assert by_index[1].ok and by_index[1].enabled
    [candidate] = await service.candidates("m", "normal")
    assert [key.value for key in candidate.keys] == ["k2"]


async def test_fall_through_order_skips_disabled(channel_host: TestHost) -> None:
    """A(10) 503, D(10) disabled, B(5) 503, C(0) 200: calls go A, B, C once each; D never."""
    servers = {name: Upstream(valid_keys={"good"}) for name in "ADBC"}
    for server in servers.values():
        await server.start()
    try:
        servers["A"].status_for_all = 503
        servers["B"].status_for_all = 503
        priorities = {"A": 10, "D": 10, "B": 5, "C": 0}
        for name, server in servers.items():
            await add_channel(
                channel_host, name=name, endpoint=server.url, priority=priorities[name], enabled=name != "D",
                mapping="m>m-" + name.lower(), models=[],
            )
        service = service_of(channel_host)
        assert await relay_once(service, "m", seed=1) == "hello from m-c"
        assert [len(servers[name].requests) for name in "ADBC"] == [1, 0, 1, 1]
        assert [servers[name].requests[0].model for name in "ABC"] == ["m-a", "m-b", "m-c"]
    finally:
        for server in servers.values():
            await server.stop()


async def test_delete_channel(channel_host: TestHost) -> None:
    channel_id = await add_channel(channel_host)
    service = service_of(channel_host)
    await service.manager.delete(channel_id)
    assert await service.candidates("m", "normal") == []
    async with channel_host.ctx.db.session() as session:
        assert (await session.scalars(select(ChannelKey))).all() == []


async def test_retry_3_rejected_key_not_called_again(channel_host: TestHost, upstream: Upstream) -> None:
    upstream.valid_keys = {"good"}
    await add_channel(channel_host, endpoint=upstream.url, keys="good\nrevoked", retry=3)
    service = service_of(channel_host)
    for index in range(20):
        assert await relay_once(service, "m", seed=index) == "hello from m"
    assert upstream.keys_used().count("Bearer revoked") <= 1


async def test_retry_after_cools_key_two_seconds(channel_host: TestHost, upstream: Upstream) -> None:
    upstream.valid_keys = {"good", "busy"}
    upstream.limited_keys = {"busy": "2"}
    await add_channel(channel_host, endpoint=upstream.url, keys="good\nbusy", retry=1)
    service = service_of(channel_host)

    seed = next(seed for seed in range(100) if random.Random(seed).randrange(2) == 1)
    assert await relay_once(service, "m", seed=seed) == "hello from m"
    assert upstream.keys_used() == ["Bearer busy", "Bearer good"]

    upstream.limited_keys = {}
    for index in range(10):
        await relay_once(service, "m", seed=index)
    assert upstream.keys_used().count("Bearer busy") == 1

    await asyncio.sleep(2.1)
    for index in range(20):
        await relay_once(service, "m", seed=index)
    assert upstream.keys_used().count("Bearer busy") > 1
