"""The shared-state interface, run against the in-process and the Redis implementation."""

from __future__ import annotations

import asyncio

from chatnio_host.state import SharedState


async def test_get_set_with_ttl(state: SharedState) -> None:
    assert await state.get("missing") is None
    assert await state.set("k", "v", ttl=0.2)
    assert await state.get("k") == "v"
    remaining = await state.ttl("k")
    assert remaining is not None and 0 < remaining <= 0.2

    await asyncio.sleep(0.3)

    assert await state.get("k") is None


async def test_set_nx_only_when_missing(state: SharedState) -> None:
    assert await state.set("once", "first", nx=True)
    assert not await state.set("once", "second", nx=True)
    assert await state.get("once") == "first"


async def test_incr_is_atomic_under_concurrency(state: SharedState) -> None:
    await asyncio.gather(*(state.incr("counter") for _ in range(200)))

    assert await state.get("counter") == "200"


async def test_incr_ttl_applies_on_create(state: SharedState) -> None:
    await state.incr("window", ttl=5)
    await state.incr("window", ttl=100)

    remaining = await state.ttl("window")
    assert remaining is not None and remaining <= 5


async def test_compare_and_set_single_winner(state: SharedState) -> None:
    results = await asyncio.gather(*(state.compare_and_set("lock", None, f"owner{i}") for i in range(20)))

    assert results.count(True) == 1
    winner = await state.get("lock")
    assert await state.compare_and_set("lock", winner, None)
    assert await state.get("lock") is None


async def test_delete_counts_existing(state: SharedState) -> None:
    await state.set("a", "1")
    await state.set("b", "2")

    assert await state.delete("a", "b", "c") == 2


async def test_publish_reaches_subscriber(state: SharedState) -> None:
    received: list[str] = []
    ready = asyncio.Event()

    async def listen() -> None:
        iterator = state.subscribe("news")
        task = asyncio.ensure_future(iterator.__anext__())
        await asyncio.sleep(0.1)
        ready.set()
        received.append(await task)
        await iterator.aclose()

    listener = asyncio.create_task(listen())
    await ready.wait()
    await state.publish("news", "hello")
    await asyncio.wait_for(listener, timeout=5)

    assert received == ["hello"]


async def test_stream_resumes_after_last_id(state: SharedState) -> None:
    ids = [await state.stream_append("events", f"e{i}", ttl=60) for i in range(5)]

    everything = await state.stream_read("events")
    after_second = await state.stream_read("events", after=ids[1])

    assert [entry.data for entry in everything] == ["e0", "e1", "e2", "e3", "e4"]
    assert [entry.data for entry in after_second] == ["e2", "e3", "e4"]


async def test_stream_read_blocks_until_append(state: SharedState) -> None:
    first = await state.stream_append("live", "first")

    async def append_later() -> None:
        await asyncio.sleep(0.2)
        await state.stream_append("live", "second")

    writer = asyncio.create_task(append_later())
    entries = await state.stream_read("live", after=first, block=5)
    await writer

    assert [entry.data for entry in entries] == ["second"]


async def test_prefix_separates_sites(state: SharedState) -> None:
    await state.set("shared-name", "mine")

    assert state.key("shared-name").startswith(state.prefix)
    assert await state.get("shared-name") == "mine"
